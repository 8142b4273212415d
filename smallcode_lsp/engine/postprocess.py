"""Turn raw model output into a suggestion an editor can show: one rule per function.

The model runs until a stop rule fires; these rules decide single-line vs block, where to cut, and
what to drop. They are pure functions of text so they can be table-tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->")
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class CursorContext:
    """What the rules need to know about the cursor: the text of its line around it."""

    line_prefix: str  # text of the cursor's line before the cursor
    line_suffix: str  # text of the cursor's line after the cursor
    next_lines: tuple[str, ...] = ()  # a few lines after the cursor's line
    line_comment: str = "#"  # the language's line-comment marker, so brackets in comments are skipped

    @property
    def indent(self) -> str:
        stripped = self.line_prefix.lstrip(" \t")
        return self.line_prefix[: len(self.line_prefix) - len(stripped)]


def wants_block(cursor: CursorContext, setting: str = "auto") -> bool:
    """Multi-line when the cursor starts a fresh line, or sits right after a block opener."""
    if setting == "always":
        return True
    if setting == "never":
        return False
    if cursor.line_suffix.strip():
        return False  # mid-line: finish this line only
    if not cursor.line_prefix.strip():
        # An empty line: a statement or a whole body may follow, unless the cursor sits inside
        # existing code (the next line continues at its depth): then write the one missing line
        # instead of re-typing, or rewriting, the code below.
        return not _inside_existing_code(cursor)
    # Mid-statement: only a block opener right before the cursor starts a body.
    return cursor.line_prefix.rstrip().endswith(_BLOCK_OPENERS)


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.lstrip(" \t").expandtabs(4))


def _inside_existing_code(cursor: CursorContext) -> bool:
    depth = _indent_width(cursor.line_prefix)
    following = next((line for line in cursor.next_lines if line.strip()), None)
    return depth > 0 and following is not None and _indent_width(following) >= depth


def heal_indentation(text: str, indent: str) -> str:
    """Undo the indentation the model re-typed when its prompt ended at the newline before the cursor.

    A prompt that ends in bare indentation is rare in training data (tokenizers glue the last space
    to the next word), and models answer it with extra indentation; so the prompt stops at the
    newline, and the indentation the editor already shows is removed from the answer.
    """
    first = text.split("\n", 1)[0]
    lead = len(first) - len(first.lstrip(" \t"))
    return text[min(lead, len(indent)) :]


MAX_STATEMENT_LINES = 8  # a call spread over more lines than this is cut back to its first line


def bracket_balance(line: str, line_comment: str = "#") -> int:
    """Brackets `line` opens minus those it closes, skipping string literals and a trailing comment."""
    balance = 0
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif line_comment and line.startswith(line_comment, i):
            break
        elif ch in "([{":
            balance += 1
        elif ch in _CLOSERS:
            balance -= 1
    return balance


def statement_end(text: str, line_comment: str = "#") -> int | None:
    """Offset of the newline that ends the statement the suggestion starts, or None if not ended yet.

    A line that leaves a bracket open (`raise Error(` before the arguments on the next lines) does not
    end the statement: showing only `raise Error(` would leave the user to finish the call.
    """
    depth = 0
    offset = 0
    for line in text.split("\n")[:-1]:
        depth += bracket_balance(line, line_comment)
        offset += len(line)
        if depth <= 0:
            return offset
        offset += 1
    return None


def stop_check(block: bool, line_comment: str = "#") -> Callable[[str], bool]:
    """Early stop while generating: a single-line suggestion ends with its first complete statement."""
    if block:
        return _block_stop

    def single_statement(text: str) -> bool:
        if text.startswith("\n"):
            return len(text) > 1
        return statement_end(text, line_comment) is not None or text.count("\n") >= MAX_STATEMENT_LINES

    return single_statement


def _block_stop(text: str) -> bool:
    # Two blank lines in a row end a block in every language we serve.
    return "\n\n\n" in text


def cut_single_statement(text: str, cursor: CursorContext) -> str:
    """Keep the first statement: its first line, plus the lines that close the brackets it opened.

    A statement whose brackets never close within the text falls back to its first line.
    """
    end = statement_end(text, cursor.line_comment)
    if end is not None:
        return text[:end]
    return text.split("\n", 1)[0]


def cut_at_dedent(text: str, cursor: CursorContext) -> str:
    """Cut a block where a non-empty line is indented less than the line the cursor is on."""
    base = len(cursor.indent.expandtabs(4))
    if cursor.line_prefix.strip():
        # After an opener such as `def f():` the body is deeper than the opener line; any line back
        # at the opener's depth or shallower ends the suggestion.
        base += 1
    lines = text.split("\n")
    kept = [lines[0]]
    for line in lines[1:]:
        if line.strip() and len(line.expandtabs(4)) - len(line.lstrip(" \t").expandtabs(4)) < base:
            break
        kept.append(line)
    return "\n".join(kept)


def cut_unbalanced_closer(text: str, cursor: CursorContext) -> str:
    """Stop before a closing bracket that closes something opened before the suggestion."""
    depth: list[str] = []
    for i, ch in enumerate(text):
        if ch in "([{":
            depth.append(ch)
        elif ch in _CLOSERS:
            if depth and depth[-1] == _CLOSERS[ch]:
                depth.pop()
            elif "\n" in text[:i]:
                # On a later line an unmatched closer belongs to the code after the cursor.
                return text[:i].rstrip(" \t")
    return text


def cut_suffix_overlap(text: str, cursor: CursorContext) -> str:
    """Stop where the suggestion starts repeating the code that already follows the cursor.

    Models often finish a hole and then re-type the next lines of the file; accepting that would
    duplicate them.
    """
    following = [line.strip() for line in cursor.next_lines if line.strip()]
    if not following:
        return text
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() and lines[i].strip() == following[0]:
            return "\n".join(lines[:i])
    return text


_LOOP = re.compile(r"(.{3,80}?)\1{4,}", re.DOTALL)


def cut_repetition(text: str) -> str:
    """Cut a degenerate loop: the same line three times in a row, or a short unit repeated 5+ times."""
    lines = text.split("\n")
    for i in range(2, len(lines)):
        if lines[i].strip() and lines[i] == lines[i - 1] == lines[i - 2]:
            text = "\n".join(lines[: i - 1])
            break
    match = _LOOP.search(text)
    if match:
        text = text[: match.start() + len(match.group(1))]
    return text


def strip_trailing_whitespace(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def is_useless(text: str, cursor: CursorContext) -> bool:
    """Empty, whitespace-only, or just a copy of what already follows the cursor."""
    if not text.strip():
        return True
    suffix = cursor.line_suffix.strip()
    return bool(suffix) and text.strip() == suffix


def replaced_suffix_length(text: str, cursor: CursorContext) -> int:
    """How many characters after the cursor the suggestion should replace.

    When the editor auto-inserted closing brackets (`foo(|)`) and the suggestion ends with them
    (`a, b)`), the item must replace them, or accepting it would leave `foo(a, b))`.
    """
    suffix = cursor.line_suffix.rstrip()
    if suffix and "\n" not in text and text.rstrip().endswith(suffix):
        return len(suffix)
    return 0


def finalize(text: str, cursor: CursorContext, block: bool) -> str:
    """Apply every cutting rule in order; returns "" when nothing worth showing remains."""
    text = cut_at_dedent(text, cursor) if block else cut_single_statement(text, cursor)
    if block:
        text = cut_unbalanced_closer(text, cursor)
        text = cut_suffix_overlap(text, cursor)
    text = cut_repetition(text)
    text = strip_trailing_whitespace(text)
    return "" if is_useless(text, cursor) else text
