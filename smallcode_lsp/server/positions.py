"""LSP positions (UTF-16 code units by default, lines ended by "\\r\\n", "\\r" or "\\n") <-> the server's
own coordinates, strictly for requests and both ways for results.

pygls clamps out-of-range positions silently; an editor that sends a stale position deserves an
error that says so instead of a suggestion for the wrong place. Internally the services count rows
by "\\n" (as tree-sitter does) and columns in code points; `ClientPositions` maps those back, so a
document with lone carriage returns or astral characters gets ranges the client can use.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from smallcode_lsp.index.documents import char_units, has_lone_cr, lsp_line_bounds

_LONE_CR = re.compile(r"\r(?!\n)")


def column_from_client(line_text: str, character: int, encoding: str) -> int:
    """Code-point column of `character` (in client units) on `line_text`; inside a surrogate pair
    (or a UTF-8 sequence) rounds up to the next character."""
    if character < 0:
        raise JsonRpcInvalidParams(f"position character {character} is negative")
    if line_text.isascii() and character <= len(line_text):
        return character
    seen = 0
    for column, char in enumerate(line_text):
        if seen >= character:
            return column
        seen += char_units(char, encoding)
    if seen >= character:
        return len(line_text)
    raise JsonRpcInvalidParams(
        f"position character {character} is past the end of its line ({seen} {encoding} units)"
    )


def column_to_client(line_text: str, column: int, encoding: str) -> int:
    prefix = line_text[:column]
    if prefix.isascii():
        return len(prefix)
    return sum(char_units(char, encoding) for char in prefix)


@dataclass(frozen=True)
class Located:
    """Where a valid request position falls in the text."""

    offset: int  # string index of the position
    line_start: int  # string index where its LSP line starts
    line_end: int  # ... and ends (line break excluded)
    column: int  # code points from the line start


def locate(text: str, line: int, character: int, encoding: str) -> Located:
    """A request's position, checked: its line must exist and its character fit on it."""
    if line < 0:
        raise JsonRpcInvalidParams(f"position line {line} is negative")
    bounds = lsp_line_bounds(text, line)
    if bounds is None:
        lines = len(re.findall(r"\r\n|\r|\n", text)) + 1
        raise JsonRpcInvalidParams(f"position line {line} is outside the document ({lines} lines)")
    start, end = bounds
    column = column_from_client(text[start:end], character, encoding)
    return Located(start + column, start, end, column)


def internal_position(text: str, offset: int) -> tuple[int, int]:
    """("\\n"-counted row, code-point column) of a string index: the services' coordinates."""
    row = text.count("\n", 0, offset)
    return row, offset - (text.rfind("\n", 0, offset) + 1)


def lsp_line_text(text: str, line: int) -> str | None:
    bounds = lsp_line_bounds(text, line)
    return None if bounds is None else text[bounds[0] : bounds[1]]


class ClientPositions:
    """Maps the services' (row, code-point column) in one text to LSP (line, client units)."""

    def __init__(self, text: str, encoding: str) -> None:
        self.text = text
        self.encoding = encoding
        self._row_starts: list[int] | None = None
        lone = has_lone_cr(text)
        self._lone_crs: list[int] | None = [m.start() for m in _LONE_CR.finditer(text)] if lone else None

    def _rows(self) -> list[int]:
        if self._row_starts is None:
            starts = [0]
            find = self.text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._row_starts = starts
        return self._row_starts

    def convert(self, row: int, column: int) -> tuple[int, int]:
        """LSP (line, character) of a row and code-point column (clamped into the text)."""
        starts = self._rows()
        row = min(max(row, 0), len(starts) - 1)
        row_start = starts[row]
        offset = min(row_start + max(column, 0), len(self.text))
        newline = self.text.find("\n", row_start)
        if newline != -1:
            offset = min(offset, newline)
        line, line_start = row, row_start
        if self._lone_crs is not None:
            before = bisect.bisect_left(self._lone_crs, offset)  # lone CRs ahead of the position
            line = row + before
            if before and self._lone_crs[before - 1] >= row_start:
                line_start = self._lone_crs[before - 1] + 1
        segment = self.text[line_start:offset]
        if segment.endswith("\r") and offset < len(self.text) and self.text[offset] == "\n":
            segment = segment[:-1]
        units = len(segment) if segment.isascii() else sum(char_units(c, self.encoding) for c in segment)
        return line, units


def client_encoding(ls: Any) -> str:
    """The position encoding negotiated with the client (UTF-16 unless it chose another)."""
    encoding = ls.workspace.position_encoding
    return str(getattr(encoding, "value", encoding) or "utf-16")
