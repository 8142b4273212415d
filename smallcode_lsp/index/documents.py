"""Open editor buffers, parsed incrementally so each keystroke costs a small reparse, not a full one.

Positions arrive as (line, character) in code units of the negotiated encoding (UTF-16 unless the
client chose another): astral characters (emoji, some CJK) count as two UTF-16 units. Lines end at
"\\r\\n", "\\r" or "\\n", as LSP defines them (so a lone "\\r" ends a line; U+2028, form feeds and
the like do not). An edit's positions are clamped: past the end of a line means its end, past the
last line the end of the document; a character inside a surrogate pair rounds up; a range whose
end comes before its start is taken the other way round. Tree-sitter rows, and so the chunks'
lines, count "\\n" only; `server/positions.py` maps them back to LSP lines.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass

import tree_sitter

from smallcode_lsp.index.chunker import Chunk, chunk_tree_spans
from smallcode_lsp.index.languages import LanguageSpec

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LONE_CR = re.compile(r"\r(?!\n)")


def char_units(char: str, encoding: str = "utf-16") -> int:
    """Code units of one character in `encoding` ("utf-8", "utf-16" or "utf-32")."""
    code = ord(char)
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if code > 0xFFFF else 1


def index_in_line(line: str, units: int, encoding: str = "utf-16") -> int:
    """Index into `line` of the position `units` code units in (rounded up, clamped to the line)."""
    if line.isascii():
        return min(max(units, 0), len(line))
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += char_units(char, encoding)
    return len(line)


def utf16_to_index(line: str, units: int) -> int:
    """Index into `line` of the position `units` UTF-16 code units in (clamped to the line)."""
    return index_in_line(line, units, "utf-16")


def lsp_line_bounds(text: str, line: int) -> tuple[int, int] | None:
    """(start, end) string indices of LSP line `line`, its line break excluded; None past the last."""
    if line < 0:
        return None
    start = 0
    if line:
        for seen, match in enumerate(LINE_BREAK.finditer(text), 1):
            if seen == line:
                start = match.end()
                break
        else:
            return None
    found = LINE_BREAK.search(text, start)
    return start, found.start() if found else len(text)


def lsp_offset(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    """String index of an edit position in `text`, clamped into the document."""
    if line < 0:
        return 0
    bounds = lsp_line_bounds(text, line)
    if bounds is None:
        return len(text)
    start, end = bounds
    return start + index_in_line(text[start:end], character, encoding)


def edit_offsets(
    text: str, start_line: int, start_char: int, end_line: int, end_char: int, encoding: str = "utf-16"
) -> tuple[int, int]:
    """(start, end) string indices an LSP range denotes in `text` (clamped; reversed ranges swapped)."""
    start = lsp_offset(text, start_line, start_char, encoding)
    end = lsp_offset(text, end_line, end_char, encoding)
    return (start, end) if start <= end else (end, start)


def has_lone_cr(text: str) -> bool:
    return "\r" in text and _LONE_CR.search(text) is not None


@dataclass(frozen=True)
class _Edit:
    """One edit since chunks were last computed, in byte offsets (new coordinates after `new_end`)."""

    start: int
    old_end: int
    new_end: int
    old_end_row: int
    row_delta: int
    changed: tuple[tuple[int, int], ...]  # ranges the reparse reported as changed (new coordinates)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class ParsedDocument:
    """A document's text, its UTF-8 bytes and its syntax tree, kept in step."""

    def __init__(self, path: str, text: str, spec: LanguageSpec) -> None:
        self.path = path
        self.spec = spec
        self._parser = spec.new_parser()
        self.text = ""
        self._line_starts: list[int] = [0]
        self._chunks: list[Chunk] | None = None
        self._spans: list[tuple[int, int, Chunk]] | None = None
        self._edit: _Edit | None = None  # valid only while exactly one edit is pending
        self._edits_pending = 0
        self._lone_cr = False  # whether LSP lines differ from "\\n" rows (a lone "\\r" somewhere)
        self.replace_all(text)

    @property
    def source(self) -> bytes:
        return self._bytes

    def replace_all(self, text: str) -> None:
        """Full reparse (open, or a full-document change)."""
        self.text = text
        self._bytes = text.encode("utf-8", "surrogatepass")
        self._line_starts = self._compute_line_starts(text)
        self._lone_cr = has_lone_cr(text)
        self.tree: tree_sitter.Tree = self._parser.parse(self._bytes)
        self._chunks = None
        self._spans = None
        self._edit = None

    @staticmethod
    def _compute_line_starts(text: str) -> list[int]:
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        return starts

    def offset(self, line: int, character: int, encoding: str = "utf-16") -> int:
        """String index of an LSP edit position (clamped, see the module docstring)."""
        if self._lone_cr:
            return lsp_offset(self.text, line, character, encoding)
        starts = self._line_starts
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        begin = starts[line]
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(self.text)
        if end > begin and self.text[end - 1] == "\r":
            end -= 1  # the "\\r" of a "\\r\\n" belongs to the line break
        return begin + index_in_line(self.text[begin:end], character, encoding)

    def _row_and_byte_col(self, index: int) -> tuple[int, int]:
        row = bisect.bisect_right(self._line_starts, index) - 1
        return row, _utf8_len(self.text[self._line_starts[row] : index])

    def _byte_offset(self, index: int, row: int, byte_col: int) -> int:
        """Byte offset of a string index, from its row's byte start (cheap on ASCII prefixes)."""
        prefix = self.text[: self._line_starts[row]]
        return _utf8_len(prefix) + byte_col

    def apply_change(
        self,
        start_line: int,
        start_char: int,
        end_line: int,
        end_char: int,
        new_text: str,
        encoding: str = "utf-16",
    ) -> None:
        """Apply one LSP content change and reparse incrementally from the edited old tree."""
        start = self.offset(start_line, start_char, encoding)
        end = self.offset(end_line, end_char, encoding)
        if end < start:
            start, end = end, start
        self.apply_edit(start, end, new_text)

    def apply_edit(self, start: int, end: int, new_text: str) -> None:
        """Replace `text[start:end]` by `new_text` and reparse incrementally."""
        start_row, start_bcol = self._row_and_byte_col(start)
        end_row, end_bcol = self._row_and_byte_col(end)
        start_byte = self._byte_offset(start, start_row, start_bcol)
        old_end_byte = self._byte_offset(end, end_row, end_bcol)
        new_bytes = new_text.encode("utf-8", "surrogatepass")
        new_end_byte = start_byte + len(new_bytes)
        newlines = new_text.count("\n")
        if newlines:
            new_end_point = (start_row + newlines, len(new_bytes) - new_bytes.rfind(b"\n") - 1)
        else:
            new_end_point = (start_row, start_bcol + len(new_bytes))

        text = self.text
        self.text = text[:start] + new_text + text[end:]
        self._bytes = self._bytes[:start_byte] + new_bytes + self._bytes[old_end_byte:]
        self._update_line_starts(start_row, end_row, start, end, new_text)
        if self._lone_cr or "\r" in new_text or "\r" in text[max(start - 1, 0) : end + 1]:
            self._lone_cr = has_lone_cr(self.text)
        self.tree.edit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=new_end_byte,
            start_point=(start_row, start_bcol),
            old_end_point=(end_row, end_bcol),
            new_end_point=new_end_point,
        )
        old_tree = self.tree
        self.tree = self._parser.parse(self._bytes, old_tree)
        self._chunks = None
        self._edits_pending += 1
        self._edit = _Edit(
            start_byte,
            old_end_byte,
            new_end_byte,
            end_row,
            new_end_point[0] - end_row,
            tuple((r.start_byte, r.end_byte) for r in old_tree.changed_ranges(self.tree)),
        )

    def _update_line_starts(self, start_row: int, end_row: int, start: int, end: int, new_text: str) -> None:
        """Splice the line table instead of rescanning the whole document."""
        starts = self._line_starts
        delta = len(new_text) - (end - start)
        inserted = []
        pos = new_text.find("\n")
        while pos != -1:
            inserted.append(start + pos + 1)
            pos = new_text.find("\n", pos + 1)
        tail = starts[end_row + 1 :]
        if delta:
            tail = [s + delta for s in tail]
        starts[start_row + 1 :] = inserted + tail

    def position_of(self, index: int) -> tuple[int, int]:
        """(line, UTF-16 character) of a string index; the inverse of the LSP position mapping."""
        row = bisect.bisect_right(self._line_starts, index) - 1
        prefix = self.text[self._line_starts[row] : index]
        units = len(prefix) if prefix.isascii() else len(prefix.encode("utf-16-le", "surrogatepass")) // 2
        return row, units

    def chunks(self) -> list[Chunk]:
        """Symbols of the current text (cached until the next change).

        After a single edit only the top-level declarations it touched are re-chunked; the others
        are reused (shifted by the edit's line delta). Several edits at once get a full pass.
        """
        if self._chunks is None:
            spans = None
            if self._spans is not None and self._edit is not None and self._edits_pending == 1:
                spans = self._rechunk(self._spans, self._edit)
            if spans is None:
                spans = chunk_tree_spans(self.tree, self._bytes, self.spec, self.path)
            self._spans = spans
            self._edit = None
            self._edits_pending = 0
            self._chunks = [chunk for _start, _end, chunk in spans]
        return self._chunks

    def _rechunk(self, old: list[tuple[int, int, Chunk]], edit: _Edit) -> list[tuple[int, int, Chunk]] | None:
        """Re-chunk the top-level nodes around one edit; None when a full pass is needed."""
        lo, hi = edit.start, edit.new_end
        for start, end in edit.changed:
            lo, hi = min(lo, start), max(hi, end)
        # Widen to whole top-level nodes: nesting is resolved within them.
        region_lo, region_hi = lo, hi
        for child in self.tree.root_node.children:
            if child.end_byte >= lo and child.start_byte <= hi:
                region_lo = min(region_lo, child.start_byte)
                region_hi = max(region_hi, child.end_byte)
        delta = edit.new_end - edit.old_end
        kept: list[tuple[int, int, Chunk]] = []
        for start, end, chunk in old:
            if end <= edit.start:
                new_start, new_end = start, end
            elif start >= edit.old_end:
                new_start, new_end = start + delta, end + delta
                if chunk.start_line == edit.old_end_row or chunk.name_line == edit.old_end_row:
                    return None  # shares the edited line: its columns moved too
                if edit.row_delta:
                    chunk = dataclasses.replace(
                        chunk,
                        start_line=chunk.start_line + edit.row_delta,
                        end_line=chunk.end_line + edit.row_delta,
                        name_line=chunk.name_line + edit.row_delta,
                    )
            else:
                continue
            if new_start < region_hi and new_end > region_lo:
                continue
            kept.append((new_start, new_end, chunk))
        fresh = chunk_tree_spans(self.tree, self._bytes, self.spec, self.path, (region_lo, region_hi))
        merged = kept + fresh
        merged.sort(key=lambda span: (span[0], -span[1]))
        return merged
