"""Does a suggestion leave the code around the cursor broken?

A model-free signal for the router: a small model is often confidently wrong in ways a parser sees at
once (a `return` where the lines below need a block opener, an `else:` that duplicates the next line,
an answer cut off mid-statement). On HumanEval's single-line holes every local answer that failed
this check also failed its tests (clients/bench/hybrid.py), which token log-probabilities could not
tell apart. Python is checked with its own compiler on the enclosing top-level statement (so an error
elsewhere in a half-edited file does not count, and indentation errors, which tree-sitter tolerates,
do); other languages with the tree-sitter grammar, counting ERROR or MISSING nodes near the
insertion only when the document without the cursor's line has fewer (Python gets no such
baseline: its indentation makes the lines below depend on what the answer opens).
"""

from __future__ import annotations

import ast
import warnings

from smallcode_lsp.index.languages import LanguageSpec

MAX_SOURCE_CHARS = 1_000_000  # bigger documents are not checked (None): a parse per request must stay cheap
LINES_AFTER = 2  # an error this close below the insertion counts as the suggestion's


def insert(lines: list[str], line: int, column: int, text: str, replace_chars: int) -> list[str]:
    """The document's lines with `text` typed at (line, column), replacing `replace_chars` after it."""
    current = lines[line]
    merged = current[:column] + text + current[column + replace_chars :]
    return lines[:line] + merged.split("\n") + lines[line + 1 :]


def breaks_syntax(
    lines: list[str], line: int, column: int, text: str, replace_chars: int, spec: LanguageSpec | None
) -> bool | None:
    """True when inserting `text` leaves a syntax error within the inserted lines or just below them;
    None when the language has no checker or the document is too big to check per request."""
    if spec is None or sum(map(len, lines)) > MAX_SOURCE_CHARS:
        return None
    new_lines = insert(lines, line, column, text, replace_chars)
    last = line + text.count("\n")
    if spec.name == "python":
        return _python_breaks(new_lines, line, last)
    return _tree_sitter_breaks(lines, new_lines, line, last, spec)


def _starts_top_level(text: str) -> bool:
    """A line that begins a top-level statement (not indented, a comment or a closing bracket)."""
    return bool(text) and text[0] not in " \t#)]}"


def python_region(lines: list[str], first: int, last: int) -> tuple[int, str]:
    """The first line and the source of the top-level statements that lines first..last belong to:
    small enough to compile per request, whole enough that the answer's scope is all there."""
    start = first
    while start > 0 and not _starts_top_level(lines[start]):
        start -= 1
    end = last + 1
    while end < len(lines) and not _starts_top_level(lines[end]):
        end += 1
    return start, "\n".join(lines[start:end])


def _python_breaks(lines: list[str], first: int, last: int) -> bool | None:
    start, source = python_region(lines, first, last)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not errors
            compile(source, "<suggestion>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        error_line = start + (exc.lineno or 1) - 1
        if error_line < first:
            return None  # the compiler stops at an earlier error: the answer's lines were not seen
        return error_line <= last + LINES_AFTER
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting
        return False
    return False


def _tree_sitter_breaks(
    old_lines: list[str], new_lines: list[str], first: int, last: int, spec: LanguageSpec
) -> bool:
    """More error nodes than the document without the cursor's line, one of them near the insertion:
    brace languages are often mid-edit (a `}` not typed yet), which is not the answer's fault, while
    the cursor's own unfinished line is the answer's to finish."""
    errors = _error_spans(new_lines, spec)
    if not any(start <= last + LINES_AFTER and end >= first for start, end in errors):
        return False
    return len(errors) > len(_error_spans(old_lines[:first] + old_lines[first + 1 :], spec))


def _error_spans(lines: list[str], spec: LanguageSpec) -> list[tuple[int, int]]:
    """(first line, last line) of every ERROR or MISSING node (not descending into an ERROR)."""
    tree = spec.new_parser().parse("\n".join(lines).encode("utf-8", "surrogatepass"))
    spans = []
    pending = [tree.root_node]
    while pending:
        node = pending.pop()
        if node.is_missing or node.type == "ERROR":
            spans.append((node.start_point[0], node.end_point[0]))
        elif node.has_error:
            pending.extend(node.children)
    return spans
