"""Does a suggestion use a name that exists nowhere?

A second model-free signal for the router, next to syntax_fit: a small model that is unsure often
invents a variable or helper (`return reslt`, `if is_prime(n)` in a file without `is_prime`), a
mistake no parser sees and log-probabilities see only sometimes. A name counts as unknown when the
answer reads it without binding it, and it is not a builtin, not anywhere else in the document, and
not a symbol of the workspace index. Attribute names (`x.append`) are never judged: their owner's
type is unknown here.

Python only for now: its compiler's symbol tables say exactly which names a statement reads and
which it binds (a comprehension's variable, a `for` target, a walrus). Other languages return None
(not checked) rather than guess from tokens, because their builtins and implicit scopes (`this`,
`println!`, `fmt`) would make a token rule send confident answers to the cloud.
"""

from __future__ import annotations

import builtins
import keyword
import re
import symtable
import warnings
from collections.abc import Callable, Iterator

from smallcode_lsp.completion.syntax_fit import MAX_SOURCE_CHARS, insert, python_region
from smallcode_lsp.index.languages import LanguageSpec

IDENTIFIER = re.compile(r"[^\W\d]\w*")
MODULE_NAMES = {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__path__"}
PYTHON_KNOWN = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist) | MODULE_NAMES


def unknown_names(
    lines: list[str],
    line: int,
    column: int,
    text: str,
    replace_chars: int,
    spec: LanguageSpec | None,
    is_workspace_symbol: Callable[[str], bool] | None = None,
) -> tuple[str, ...] | None:
    """The names `text` reads that nothing defines, in order; () when all are known; None when the
    language has no checker, the document is too big, or the answer does not compile (syntax_fit's
    case) or the file star-imports (anything could be defined)."""
    if spec is None or spec.name != "python" or sum(map(len, lines)) > MAX_SOURCE_CHARS:
        return None
    candidates = _new_identifiers(lines, line, column, text, replace_chars)
    if not candidates:
        return ()
    if any("import *" in other for other in lines):
        return None
    new_lines = insert(lines, line, column, text, replace_chars)
    _start, source = python_region(new_lines, line, line + text.count("\n"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = symtable.symtable(source, "<suggestion>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    read, bound = set(), set()
    for scope in _scopes(table):
        for symbol in scope.get_symbols():
            name = symbol.get_name()
            if name not in candidates:
                continue
            if symbol.is_assigned() or symbol.is_parameter() or symbol.is_imported() or symbol.is_namespace():
                bound.add(name)
            elif symbol.is_referenced():
                read.add(name)
    unknown = [name for name in candidates if name in read and name not in bound]
    if is_workspace_symbol is not None:
        unknown = [name for name in unknown if not is_workspace_symbol(name)]
    return tuple(unknown)


def _new_identifiers(lines: list[str], line: int, column: int, text: str, replace_chars: int) -> list[str]:
    """Identifiers in `text` (not after a dot, not builtins) that the rest of the document never
    mentions, in order of first use."""
    current = lines[line]
    rest = "\n".join(lines[:line] + [current[:column], current[column + replace_chars :]] + lines[line + 1 :])
    seen = set(IDENTIFIER.findall(rest)) | PYTHON_KNOWN
    found: list[str] = []
    for match in IDENTIFIER.finditer(text):
        name = match.group()
        before = text[: match.start()].rstrip()
        if name in seen or name in found or before.endswith("."):
            continue
        found.append(name)
    return found


def _scopes(table: symtable.SymbolTable) -> Iterator[symtable.SymbolTable]:
    pending = [table]
    while pending:
        scope = pending.pop()
        yield scope
        pending.extend(scope.get_children())
