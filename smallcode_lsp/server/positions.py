"""Convert LSP positions (UTF-16 code units by default) to code-point columns and back, strictly.

pygls clamps out-of-range positions silently; an editor that sends a stale position deserves an
error that says so instead of a suggestion for the wrong place.
"""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def column_from_client(line_text: str, character: int, encoding: str) -> int:
    """Code-point column of `character` (in client units) on `line_text`."""
    if character < 0:
        raise JsonRpcInvalidParams(f"position character {character} is negative")
    seen = 0
    for column, char in enumerate(line_text):
        if seen >= character:
            return column
        seen += _units(char, encoding)
    if seen == character:
        return len(line_text)
    raise JsonRpcInvalidParams(
        f"position character {character} is past the end of its line ({seen} {encoding} units)"
    )


def column_to_client(line_text: str, column: int, encoding: str) -> int:
    return sum(_units(char, encoding) for char in line_text[:column])


def document_lines(text: str, line: int) -> list[str]:
    """Lines of `text` (split on \\n, so a trailing newline gives a last empty line) with `line` checked."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        raise JsonRpcInvalidParams(f"position line {line} is outside the document ({len(lines)} lines)")
    return lines


def client_encoding(ls: Any) -> str:
    """The position encoding negotiated with the client (UTF-16 unless it chose another)."""
    encoding = ls.workspace.position_encoding
    return str(getattr(encoding, "value", encoding) or "utf-16")
