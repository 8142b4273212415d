"""What the document will look like once the user accepts a suggestion.

Accepting ghost text is the most predictable edit there is, so the server can compute the next
suggestion while the user is still reading this one (see `server/prefetch.py`). These functions
say where the accepted text lands and whether the buffer is still on its way there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Acceptance:
    """The document before and after accepting `insert` at a cursor (code-point offsets)."""

    head: str  # document text before the cursor
    replaced: str  # text after the cursor that the suggestion replaces (auto-closed brackets)
    tail: str  # document text after the replaced part
    insert: str

    @property
    def text(self) -> str:
        return self.head + self.insert + self.tail

    @property
    def cursor(self) -> tuple[int, int]:
        """(line, column) of the cursor after accepting: at the end of the inserted text."""
        accepted = self.head + self.insert
        line = accepted.count("\n")
        return line, len(accepted) - (accepted.rfind("\n") + 1)

    def reachable_from(self, document: str) -> bool:
        """Whether `document` is this acceptance, or a step on the way to it (the user typing the
        suggestion along, the auto-closed brackets still after the cursor)."""
        if document == self.text:
            return True
        if len(document) < len(self.head) + len(self.tail):
            return False
        if not (document.startswith(self.head) and document.endswith(self.tail)):
            return False
        middle = document[len(self.head) : len(document) - len(self.tail)]
        if not middle.endswith(self.replaced):
            return False
        typed = middle[: len(middle) - len(self.replaced)]
        return self.insert.startswith(typed)


def acceptance(text: str, line: int, column: int, insert: str, replace_chars: int) -> Acceptance:
    """The acceptance of `insert` at (`line`, `column`) replacing `replace_chars` characters.

    Raises ValueError when the position is outside `text`.
    """
    offset = 0
    for _ in range(line):
        newline = text.find("\n", offset)
        if newline < 0:
            raise ValueError(f"line {line} is outside the document")
        offset = newline + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    cursor = offset + column
    if cursor > line_end or cursor + replace_chars > line_end:
        raise ValueError(f"column {column} (+{replace_chars} replaced) is outside line {line}")
    return Acceptance(
        text[:cursor], text[cursor : cursor + replace_chars], text[cursor + replace_chars :], insert
    )
