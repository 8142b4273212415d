"""Find the code a developer would look at before typing at the cursor.

This first retrieval resolves identifiers near the cursor to their definitions in *other* files
through the symbol index (the cursor's own file is already in the prompt). Nearest identifiers win:
what was typed last is the best hint of what comes next.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

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


class DefinitionLookup(Protocol):
    def definitions(self, name: str) -> list: ...


@dataclass(frozen=True)
class Snippet:
    """A piece of another file that goes into the prompt ahead of the cursor window."""

    path: str
    text: str
    reason: str  # e.g. "definition of User"
    # Where the text starts in its file (0-based); lets packing order snippets stably by position.
    start_line: int = 0
    end_line: int = 0


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


def definition_snippets(
    index: DefinitionLookup,
    current_path: str,
    names: Iterable[str],
    *,
    max_snippets: int = 16,
    deadline_s: float = 0.02,
) -> Iterator[Snippet]:
    """Definitions of `names` found in other files, time-boxed so retrieval never delays typing."""
    start = time.perf_counter()
    emitted = 0
    seen: set[tuple[str, int]] = set()
    for name in names:
        if emitted >= max_snippets or time.perf_counter() - start > deadline_s:
            return
        for chunk in index.definitions(name)[:3]:
            key = (chunk.path, chunk.start_line)
            if chunk.path == current_path or key in seen:
                continue
            seen.add(key)
            emitted += 1
            yield Snippet(chunk.path, chunk.text, f"definition of {name}", chunk.start_line, chunk.end_line)
