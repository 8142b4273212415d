"""The part of the current file the prompt already shows, which retrieval must not repeat."""

from __future__ import annotations

from smallcode_lsp.index.chunker import Chunk

LineRange = tuple[int, int]  # inclusive, 0-based


def in_window(chunk: Chunk, path: str | None, window: LineRange | None) -> bool:
    """Whether `chunk` is in file `path` and overlaps `window` (so the prompt already shows it)."""
    return (
        window is not None
        and chunk.path == path
        and chunk.start_line <= window[1]
        and chunk.end_line >= window[0]
    )
