"""Open editor buffers, parsed incrementally so each keystroke costs a small reparse, not a full one.

Positions arrive as (line, character) with characters counted in UTF-16 code units, the LSP default
encoding; astral characters (emoji, some CJK) count as two. Lines end at "\\n" (a "\\r\\n" pair is a
"\\n" preceded by a "\\r" that belongs to the line); a lone "\\r" is not treated as a line break.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

import tree_sitter

from smallcode_lsp.index.chunker import Chunk, chunk_tree_spans
from smallcode_lsp.index.languages import LanguageSpec


def utf16_to_index(line: str, units: int) -> int:
    """Index into `line` of the position `units` UTF-16 code units in (clamped to the line)."""
    if line.isascii():
        return min(units, len(line))
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(line)


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
        self.replace_all(text)

    @property
    def source(self) -> bytes:
        return self._bytes

    def replace_all(self, text: str) -> None:
        """Full reparse (open, or a full-document change)."""
        self.text = text
        self._bytes = text.encode("utf-8", "surrogatepass")
        self._line_starts = self._compute_line_starts(text)
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

    def _locate(self, line: int, character: int) -> tuple[int, int, int]:
        """(string index, row, byte column) of an LSP position, clamped into the document."""
        starts = self._line_starts
        if line < 0:
            return 0, 0, 0
        if line >= len(starts):
            last = len(starts) - 1
            tail = self.text[starts[last] :]
            return len(self.text), last, _utf8_len(tail)
        begin = starts[line]
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(self.text)
        line_text = self.text[begin:end]
        column = utf16_to_index(line_text, max(character, 0))
        return begin + column, line, _utf8_len(line_text[:column])

    def _byte_offset(self, index: int, row: int, byte_col: int) -> int:
        """Byte offset of a string index, from its row's byte start (cheap on ASCII prefixes)."""
        prefix = self.text[: self._line_starts[row]]
        return _utf8_len(prefix) + byte_col

    def apply_change(
        self, start_line: int, start_char: int, end_line: int, end_char: int, new_text: str
    ) -> None:
        """Apply one LSP content change and reparse incrementally from the edited old tree."""
        start, start_row, start_bcol = self._locate(start_line, start_char)
        end, end_row, end_bcol = self._locate(end_line, end_char)
        if end < start:
            start, end = end, start
            start_row, start_bcol, end_row, end_bcol = end_row, end_bcol, start_row, start_bcol
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
