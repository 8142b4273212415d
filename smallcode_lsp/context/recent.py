"""What the developer touched last: a small, most-recent-first buffer of chunks.

Code just edited or looked at in another file is the best predictor of what comes next (the
function being called, the test being mirrored). The server feeds it from didOpen/didChange
(`note_edit` / `note_view` with a path and line); each note resolves to the innermost enclosing
chunk. Entries are keyed by symbol identity (path, container, name, kind), not line numbers, because
edits above a function move it; a newer note of the same symbol, or of a text that is >90% the same
tokens, replaces the older entry, so the buffer never spends its slots on one thing twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smallcode_lsp.context.tokens import jaccard, token_set
from smallcode_lsp.context.window import in_window
from smallcode_lsp.index.chunker import Chunk

ChunksOf = Callable[[str], Sequence[Chunk]]


@dataclass(frozen=True)
class RecentEntry:
    chunk: Chunk
    edited: bool  # an edit outranks a mere view
    at: float  # time.monotonic() of the last note
    tokens: frozenset[str]

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        return symbol_key(self.chunk)


def symbol_key(chunk: Chunk) -> tuple[str, str | None, str, str]:
    return (chunk.path, chunk.container, chunk.name, chunk.kind)


def enclosing_chunk(chunks: Sequence[Chunk], line: int) -> Chunk | None:
    """The innermost chunk containing `line` (a method rather than its class)."""
    best: Chunk | None = None
    for chunk in chunks:
        inside = chunk.start_line <= line <= chunk.end_line
        if inside and (best is None or chunk.end_line - chunk.start_line < best.end_line - best.start_line):
            best = chunk
    return best


class RecentChunks:
    """Bounded ring of recently edited/viewed chunks. Thread-safe (notes arrive on the event loop,
    reads on the model thread)."""

    def __init__(self, chunks_of: ChunksOf, capacity: int = 12, similarity: float = 0.9) -> None:
        """`chunks_of(path)`: current chunks of a file, e.g. `WorkspaceIndex.chunks_in_file`."""
        self.chunks_of = chunks_of
        self.capacity = capacity
        self.similarity = similarity
        self._entries: list[RecentEntry] = []  # most recent first
        self._lock = threading.Lock()

    def note_edit(self, path: str, line: int, chunks: Sequence[Chunk] | None = None) -> Chunk | None:
        return self._note(path, line, chunks, edited=True)

    def note_view(self, path: str, line: int, chunks: Sequence[Chunk] | None = None) -> Chunk | None:
        return self._note(path, line, chunks, edited=False)

    def note_chunk(self, chunk: Chunk, *, edited: bool = True) -> None:
        """Record an already-resolved chunk."""
        entry = RecentEntry(chunk, edited, time.monotonic(), token_set(chunk.text))
        with self._lock:
            kept: list[RecentEntry] = []
            for old in self._entries:
                same = old.key == entry.key or jaccard(old.tokens, entry.tokens) > self.similarity
                if same:
                    if old.edited and not entry.edited:  # viewing an edited chunk keeps it an edit
                        entry = RecentEntry(chunk, True, entry.at, entry.tokens)
                    continue
                kept.append(old)
            kept.insert(0, entry)
            del kept[self.capacity :]
            self._entries = kept

    def _note(self, path: str, line: int, chunks: Sequence[Chunk] | None, edited: bool) -> Chunk | None:
        chunk = enclosing_chunk(chunks if chunks is not None else self.chunks_of(path), line)
        if chunk is not None:
            self.note_chunk(chunk, edited=edited)
        return chunk

    def forget_views(self, path: str) -> None:
        """Drop a file's viewed (never edited) entries: closing a file one only looked at ends the look."""
        with self._lock:
            self._entries = [e for e in self._entries if e.chunk.path != path or e.edited]

    def forget_file(self, path: str) -> None:
        """Drop a deleted or closed file's entries."""
        with self._lock:
            self._entries = [e for e in self._entries if e.chunk.path != path]

    def entries(self) -> list[RecentEntry]:
        """Most recent first (a copy)."""
        with self._lock:
            return list(self._entries)

    def chunks(
        self,
        *,
        exclude_path: str | None = None,
        exclude_lines: tuple[int, int] | None = None,
        limit: int = 4,
        refresh: bool = True,
    ) -> list[Chunk]:
        """Recent chunks for a prompt, edits before views, each group most recent first.

        With `refresh`, an entry's text is replaced by its symbol's current chunk (the user may have
        typed more since the note); an entry whose symbol no longer exists is dropped. Chunks of
        `exclude_path` overlapping `exclude_lines` (the prompt window) are skipped.
        """
        entries = self.entries()
        entries.sort(key=lambda e: not e.edited)  # stable: keeps recency within each group
        out: list[Chunk] = []
        current: dict[str, dict[tuple[str, str | None, str, str], Chunk]] = {}
        for entry in entries:
            chunk = entry.chunk
            if refresh:
                by_key = current.get(chunk.path)
                if by_key is None:
                    by_key = current[chunk.path] = {symbol_key(c): c for c in self.chunks_of(chunk.path)}
                chunk = by_key.get(entry.key)
                if chunk is None:
                    continue
            if in_window(chunk, exclude_path, exclude_lines):
                continue
            out.append(chunk)
            if len(out) >= limit:
                break
        return out
