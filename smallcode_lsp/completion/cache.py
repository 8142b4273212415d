"""Suggestion cache: type-through and revisits are answered without a model call.

Type-through: when the user types the start of the suggestion on screen, keep showing the rest;
otherwise every keystroke that agrees with the ghost text would cost a model call and make the text
flicker. Revisits: backspacing or moving back to a place that already got a suggestion (same text
around it) gets the same answer at once, from a small LRU keyed on a hash of the text around the
cursor.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

# Lines around the cursor that must be unchanged for a cached suggestion to still apply.
CONTEXT_LINES_BEFORE = 20
CONTEXT_LINES_AFTER = 5


def surroundings_key(lines: list[str], line: int) -> int:
    """Hash of the lines near (not on) the cursor's line; edits there invalidate cached suggestions."""
    before = lines[max(0, line - CONTEXT_LINES_BEFORE) : line]
    after = lines[line + 1 : line + 1 + CONTEXT_LINES_AFTER]
    return hash((tuple(before), tuple(after)))


@dataclass(frozen=True)
class CachedSuggestion:
    uri: str
    line: int
    line_prefix: str  # text of the line before the cursor when the suggestion was made
    line_suffix: str  # text of the line after the cursor then
    text: str
    replace_chars: int
    surroundings: int = 0  # `surroundings_key` of the document then


class TypeThroughCache:
    """The latest suggestion of each document, plus an LRU of suggestions by exact position."""

    def __init__(self, max_documents: int = 64, max_positions: int = 256) -> None:
        self._latest: dict[str, CachedSuggestion] = {}
        self._positions: OrderedDict[tuple[str, int, int, str, str], CachedSuggestion] = OrderedDict()
        self._max_documents = max_documents
        self._max_positions = max_positions
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _position_key(entry: CachedSuggestion) -> tuple[str, int, int, str, str]:
        return (entry.uri, entry.surroundings, entry.line, entry.line_prefix, entry.line_suffix)

    def store(self, entry: CachedSuggestion, *, as_latest: bool = True) -> None:
        """Remember `entry` by position; `as_latest` also makes it the one typed through."""
        if as_latest:
            self._set_latest(entry)
        key = self._position_key(entry)
        self._positions.pop(key, None)
        self._positions[key] = entry
        while len(self._positions) > self._max_positions:
            self._positions.popitem(last=False)

    def _set_latest(self, entry: CachedSuggestion) -> None:
        self._latest.pop(entry.uri, None)
        self._latest[entry.uri] = entry
        while len(self._latest) > self._max_documents:
            self._latest.pop(next(iter(self._latest)))

    def lookup(
        self, uri: str, line: int, line_prefix: str, line_suffix: str, surroundings: int = 0
    ) -> CachedSuggestion | None:
        """A suggestion for this exact place, or the rest of the latest one typed along; else None."""
        exact = self._positions.get((uri, surroundings, line, line_prefix, line_suffix))
        if exact is not None:
            self._positions.move_to_end(self._position_key(exact))
            self._set_latest(exact)  # shown again: typing along it continues from here
            self.hits += 1
            return exact
        entry = self._latest.get(uri)
        if (
            entry is None
            or entry.line != line
            or entry.surroundings != surroundings
            or entry.line_suffix != line_suffix
            or not line_prefix.startswith(entry.line_prefix)
        ):
            self.misses += 1
            return None
        typed = line_prefix[len(entry.line_prefix) :]
        if not entry.text.split("\n", 1)[0].startswith(typed) or entry.text == typed:
            self.misses += 1
            return None
        self.hits += 1
        return replace(entry, line_prefix=line_prefix, text=entry.text[len(typed) :])

    def invalidate(self, uri: str) -> None:
        self._latest.pop(uri, None)
        for key in [key for key in self._positions if key[0] == uri]:
            del self._positions[key]
