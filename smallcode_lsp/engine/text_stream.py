"""Token bytes to text, incrementally, watching for stop strings."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextStream:
    """Incrementally decodes token bytes to text and watches for stop strings.

    UTF-8 sequences split across tokens are held back until complete; a sequence still
    incomplete when generation ends is dropped rather than shown as U+FFFD.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [s for s in stops if s]
        self._longest = max((len(s) for s in self._stops), default=0)
        self.text = ""
        self.starts: list[int] = []  # text offset where each pushed token's text began

    def push(self, piece: bytes) -> int | None:
        """Appends one token's bytes; returns the offset of a stop string if one completed."""
        self.starts.append(len(self.text))
        before = len(self.text)
        self.text += self._decoder.decode(piece)
        if not self._stops or len(self.text) == before:
            return None
        window_start = max(0, before - self._longest + 1)
        hits = [i for s in self._stops if (i := self.text.find(s, window_start)) >= 0]
        return min(hits) if hits else None
