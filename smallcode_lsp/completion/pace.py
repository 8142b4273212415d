"""Adaptive debounce: wait about one keystroke interval when the user types in a burst.

A fixed debounce is wrong for everyone: too short for a fast typist (the model starts work that the
next keystroke throws away) and pure added latency for a slow one (the next keystroke is far off
anyway). We learn each document's typing rhythm from `didChange` timestamps.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

MIN_DELAY_MS = 50.0
MAX_DELAY_MS = 300.0
_BURST_GAP_S = 1.0  # longer pauses are thinking, not typing
_HISTORY = 8


class TypingPace:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._gaps: dict[str, deque[float]] = {}

    def keystroke(self, uri: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        last = self._last.get(uri)
        self._last[uri] = now
        if last is not None and now - last < _BURST_GAP_S:
            self._gaps.setdefault(uri, deque(maxlen=_HISTORY)).append(now - last)

    def delay_ms(self, uri: str, configured_ms: int) -> float:
        """How long to wait before generating; `configured_ms` applies until a rhythm is known."""
        if configured_ms <= 0:
            return 0.0
        gaps = self._gaps.get(uri)
        if not gaps or len(gaps) < 3:
            return float(configured_ms)
        expected = statistics.median(gaps) * 1000 * 1.2
        if expected > MAX_DELAY_MS:
            return MIN_DELAY_MS  # slow typing: waiting would only add latency
        return max(MIN_DELAY_MS, expected)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)
        self._gaps.pop(uri, None)
