"""The long-lived retrieval state that belongs to one workspace index.

Recent edits, the BM25 corpus and the import cache outlive single requests; the server keeps one
`ContextSources` per index and the completer reads from it on the model thread.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from smallcode_lsp.context.imports import ImportCache, clear_file_cache
from smallcode_lsp.context.lexical import LexicalIndex
from smallcode_lsp.context.prompt import PackedContext
from smallcode_lsp.context.recent import RecentChunks
from smallcode_lsp.index.workspace_index import WorkspaceIndex

# How long a file's chosen snippets are reused as they are while the cursor stays in the same window.
CONTEXT_MEMORY_S = 20.0
# Files whose last choice is kept (however old) to order their next one: see `previous_choice`.
PREVIOUS_CHOICES = 64


@dataclass
class ContextSources:
    index: WorkspaceIndex
    roots: list[str]
    recent: RecentChunks
    lexical: LexicalIndex
    imports: ImportCache
    # Each file's last choice: (key, when, snippets), least recently chosen first.
    _memory: OrderedDict[str, tuple[Hashable, float, PackedContext]] = field(default_factory=OrderedDict)
    _cursor: tuple[str, int] | None = None  # (path, line) of the last completion request

    def remembered(self, path: str, key: Hashable) -> PackedContext | None:
        """The context chosen for this file and `key` (window, budget) moments ago.

        Re-choosing snippets on every keystroke changes the start of the prompt whenever the nearest
        identifiers change, and then the model must re-read the whole prompt. Keeping the choice while
        the user types in the same window keeps the prompt prefix identical, so only the cursor window
        is re-evaluated.
        """
        entry = self._memory.get(path)
        if entry is None or entry[0] != key or time.monotonic() - entry[1] > CONTEXT_MEMORY_S:
            return None
        return entry[2]

    def remember(self, path: str, key: Hashable, packed: PackedContext) -> None:
        self._memory[path] = (key, time.monotonic(), packed)
        self._memory.move_to_end(path)
        while len(self._memory) > PREVIOUS_CHOICES:
            self._memory.popitem(last=False)

    def previous_choice(self, path: str) -> PackedContext | None:
        """The snippets this file's last prompt showed, however long ago: a new choice keeps the
        ones it shares with it at the front, so the prompt still starts the same way."""
        entry = self._memory.get(path)
        return entry[2] if entry is not None else None

    def still_typing(self, path: str) -> None:
        """A completion request arrived for `path`: the choice stays as long as requests keep coming,
        even ones a newer keystroke supersedes before they reach retrieval. Otherwise a prompt that
        takes longer to read than CONTEXT_MEMORY_S (a cold prefill on a slow CPU) would expire its
        own context, and the next request would pay for a new prefix all over again."""
        entry = self._memory.get(path)
        if entry is not None and time.monotonic() - entry[1] <= CONTEXT_MEMORY_S:
            self._memory[path] = (entry[0], time.monotonic(), entry[2])

    @classmethod
    def for_index(cls, index: WorkspaceIndex, roots: list[str]) -> ContextSources:
        return cls(index, roots, RecentChunks(index.chunks_in_file), LexicalIndex(index), ImportCache(roots))

    def file_changed_on_disk(self, path: str) -> None:
        """A file appeared, changed or vanished outside the editor."""
        clear_file_cache()
        self.lexical.schedule_refresh(1.0)
        if path and not os.path.exists(path):
            self.recent.forget_file(path)

    def cursor_moved(self, path: str, line: int) -> None:
        """The user asked for a completion at `line` of `path`; leaving a file marks where they were
        in it as recently viewed (LSP does not report viewports, so the last cursor stands in)."""
        previous = self._cursor
        if previous is not None and previous[0] != path:
            self.recent.note_view(*previous)
        self._cursor = (path, line)

    def buffer_closed(self, path: str) -> None:
        self.recent.forget_views(path)
        if self._cursor is not None and self._cursor[0] == path:
            self._cursor = None

    def buffer_edited(self, path: str, line: int) -> None:
        self.recent.note_edit(path, line)
        self.lexical.schedule_refresh(1.0)
