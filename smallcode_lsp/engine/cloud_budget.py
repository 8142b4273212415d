"""The daily cloud token budget (`cloud.dailyTokenBudget`): a ledger of tokens sent per local day.

The ledger is a small JSON file in the cache directory, so a restarted server (or a second editor
window) does not start the day's count from zero. Each charge re-reads the file before adding, and
writes it by atomic rename, so concurrent servers lose at most a racing charge, never the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

log = logging.getLogger(__name__)


class TokenBudget:
    """`limit` tokens per day (0 = no limit); `charge` says when a charge used up the day's budget."""

    def __init__(
        self, limit: int, path: Path | None, today: Callable[[], str] = lambda: date.today().isoformat()
    ) -> None:
        self.limit = limit
        self.path = path
        self._today = today
        self._lock = threading.Lock()
        self._day, self._spent = self._load()

    def spent(self) -> int:
        with self._lock:
            self._roll_over()
            return self._spent

    def allows(self) -> bool:
        return self.limit <= 0 or self.spent() < self.limit

    def charge(self, tokens: int) -> bool:
        """Add `tokens` to today's count; True when this charge crossed the limit (tell the user once)."""
        if tokens <= 0:
            return False
        with self._lock:
            day, stored = self._load()
            if day == self._today():
                self._day, self._spent = day, max(self._spent, stored)
            self._roll_over()
            before = self._spent
            self._spent += tokens
            self._save()
            return self.limit > 0 and before < self.limit <= self._spent

    def describe(self) -> dict[str, int]:
        return {"limit": self.limit, "spentToday": self.spent()}

    def _roll_over(self) -> None:
        today = self._today()
        if self._day != today:
            self._day, self._spent = today, 0

    def _load(self) -> tuple[str, int]:
        if self.path is None:
            return self._today(), 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            day, tokens = data["day"], data["tokens"]
            if isinstance(day, str) and isinstance(tokens, int) and tokens >= 0:
                return day, tokens
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return self._today(), 0

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps({"day": self._day, "tokens": self._spent}), encoding="utf-8")
            scratch.replace(self.path)
        except OSError as exc:
            log.debug("cloud usage not saved: %s", exc)
