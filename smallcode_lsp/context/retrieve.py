"""The identifiers near the cursor worth looking up, and the snippet type retrieval produces.

Nearest identifiers come first: what was typed last is the best hint of what comes next.
`context.assemble` resolves them to definitions in other files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that are never worth a lookup in any of the indexed languages.
_NOISE_WORDS = """
self cls this super None True False null nil true false def class return if else elif for while
in not and or is import from as with try except finally raise pass break continue lambda yield
async await function const let var new typeof instanceof void delete switch case default do goto
func package type struct interface map chan go defer select range fn impl trait pub mod use mut
ref match loop where enum static extern unsafe public private protected final abstract extends
implements throws throw catch int long short char float double bool boolean string str bytes
list dict set tuple object print len Self auto unsigned signed sizeof typedef namespace template
typename include define ifdef endif
"""
_NOISE = frozenset(_NOISE_WORDS.split())
NOISE_WORDS = _NOISE  # shared with the lexical tokenizer


@dataclass(frozen=True)
class Snippet:
    """A piece of another file that goes into the prompt ahead of the cursor window."""

    path: str
    text: str
    reason: str  # e.g. "definition of User"
    # Where the text starts in its file (0-based); lets packing order snippets stably by position.
    start_line: int = 0
    end_line: int = 0


def attribute_owners(text: str) -> dict[str, set[str | None]]:
    """For each identifier in `text`, the names it is an attribute of (`t` for `t.List`); None marks
    a bare use. Lets retrieval skip `t.List` (typing's) when the workspace defines its own `List`."""
    owners: dict[str, set[str | None]] = {}
    for m in _IDENTIFIER.finditer(text):
        j = m.start() - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        owner = None
        if j >= 0 and text[j] == ".":
            k = j - 1
            while k >= 0 and text[k] in " \t":
                k -= 1
            end = k + 1
            while k >= 0 and (text[k].isalnum() or text[k] == "_"):
                k -= 1
            owner = text[k + 1 : end] or "?"  # "?": the attribute of a call or subscript result
        owners.setdefault(m.group(0), set()).add(owner)
    return owners


def identifiers_near_cursor(before: str, after: str, max_chars: int = 2000) -> list[str]:
    """Identifiers in the text around the cursor, nearest first, each once."""
    window = before[-max_chars:]
    names = [m.group(0) for m in _IDENTIFIER.finditer(window)]
    names.reverse()  # nearest to the cursor first
    names += [m.group(0) for m in _IDENTIFIER.finditer(after[: max_chars // 4])]
    seen: dict[str, None] = {}
    for name in names:
        if len(name) > 1 and name not in _NOISE and name not in seen:
            seen[name] = None
    return list(seen)
