"""Type-through cache: when the user types the start of the suggestion on screen, keep showing the rest.

Without it every keystroke that agrees with the ghost text would cost a model call and make the text
flicker. Keyed by document and line so a jump elsewhere never shows a stale suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CachedSuggestion:
    uri: str
    line: int
    line_prefix: str  # text of the line before the cursor when the suggestion was made
    line_suffix: str  # text of the line after the cursor then
    text: str
    replace_chars: int


class TypeThroughCache:
    """Remembers the most recent suggestion of each document."""

    def __init__(self, max_documents: int = 64) -> None:
        self._entries: dict[str, CachedSuggestion] = {}
        self._max = max_documents
        self.hits = 0
        self.misses = 0

    def store(self, entry: CachedSuggestion) -> None:
        self._entries.pop(entry.uri, None)
        self._entries[entry.uri] = entry
        while len(self._entries) > self._max:
            self._entries.pop(next(iter(self._entries)))

    def lookup(self, uri: str, line: int, line_prefix: str, line_suffix: str) -> CachedSuggestion | None:
        """The remainder of the cached suggestion if the user typed along with it, else None."""
        entry = self._entries.get(uri)
        if entry is None or entry.line != line or not line_prefix.startswith(entry.line_prefix):
            self.misses += 1
            return None
        typed = line_prefix[len(entry.line_prefix) :]
        first_line = entry.text.split("\n", 1)[0]
        if line_suffix != entry.line_suffix or not first_line.startswith(typed) or entry.text == typed:
            self.misses += 1
            return None
        self.hits += 1
        return CachedSuggestion(
            uri, line, line_prefix, line_suffix, entry.text[len(typed) :], entry.replace_chars
        )

    def invalidate(self, uri: str) -> None:
        self._entries.pop(uri, None)
