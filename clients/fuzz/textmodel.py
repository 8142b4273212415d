"""The fuzzer's reference model of an open document: the text as an LSP client believes it to be.

The oracle needs to know, independently of the server, what a position means. These are the LSP
rules the server promises to follow (README, "Bad input"):

- lines end at "\\r\\n", "\\r" or "\\n" (nothing else: U+2028, form feed, NEL are ordinary characters);
- `character` counts code units of the negotiated encoding (UTF-16 unless the client chose another);
- a request's position must exist: its line < the number of lines, its character <= the line's
  length; a character inside a surrogate pair (or a UTF-8 sequence) rounds up to the next character;
- an edit's positions are clamped instead: past the end of a line means the line's end, past the
  last line means the end of the document; a range whose end precedes its start is swapped;
- the changes of one `didChange` apply in order, each to the result of the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_BREAK = re.compile(r"\r\n|\r|\n")


_CODECS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def char_units(char: str, encoding: str) -> int:
    """Code units of one character in `encoding` (utf-8, utf-16 or utf-32), by actually encoding it:
    the oracle must not share the server's arithmetic, or it would share its bugs."""
    codec, unit_bytes = _CODECS[encoding]
    return len(char.encode(codec, "surrogatepass")) // unit_bytes


def text_units(text: str, encoding: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_units(char, encoding) for char in text)


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) string indices of every line, terminators excluded; always at least one line."""
    spans = []
    start = 0
    for match in LINE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def index_in_line(line: str, character: int, encoding: str) -> int:
    """String index of `character` code units into `line`, rounded up, clamped to the line's end."""
    if line.isascii():
        return min(character, len(line))
    seen = 0
    for index, char in enumerate(line):
        if seen >= character:
            return index
        seen += char_units(char, encoding)
    return len(line)


@dataclass
class TextModel:
    """One open document: its URI as opened, language, version and text."""

    uri: str
    language_id: str
    version: int
    text: str
    _spans: list[tuple[int, int]] | None = field(default=None, repr=False)

    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            self._spans = line_spans(self.text)
        return self._spans

    def line_count(self) -> int:
        return len(self.spans())

    def line(self, line: int) -> str:
        start, end = self.spans()[line]
        return self.text[start:end]

    def line_units(self, line: int, encoding: str) -> int:
        return text_units(self.line(line), encoding)

    def valid(self, line: int, character: int, encoding: str) -> bool:
        """Whether a request may name this position."""
        return 0 <= line < self.line_count() and 0 <= character <= self.line_units(line, encoding)

    def rounded(self, line: int, character: int, encoding: str) -> int:
        """The character a valid position denotes once rounded up to a character boundary."""
        text = self.line(line)
        return text_units(text[: index_in_line(text, character, encoding)], encoding)

    def offset(self, line: int, character: int, encoding: str) -> int:
        """String index of an edit position (clamped)."""
        spans = self.spans()
        if line >= len(spans):
            return len(self.text)
        start, end = spans[line]
        return start + index_in_line(self.text[start:end], character, encoding)

    def apply(self, rng: dict | None, new_text: str, encoding: str) -> None:
        """Apply one content change (`rng` None: replace everything)."""
        if rng is None:
            self.text = new_text
        else:
            start = self.offset(rng["start"]["line"], rng["start"]["character"], encoding)
            end = self.offset(rng["end"]["line"], rng["end"]["character"], encoding)
            if end < start:
                start, end = end, start
            self.text = self.text[:start] + new_text + self.text[end:]
        self._spans = None

    def units_slice(self, line: int, start: int, end: int, encoding: str) -> str:
        """The text between two client-unit columns of a line."""
        text = self.line(line)
        return text[index_in_line(text, start, encoding) : index_in_line(text, end, encoding)]
