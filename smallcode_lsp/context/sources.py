"""The long-lived retrieval state that belongs to one workspace index.

Recent edits, the BM25 corpus and the import cache outlive single requests; the server keeps one
`ContextSources` per index and the completer reads from it on the model thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smallcode_lsp.context.imports import ImportCache, clear_file_cache
from smallcode_lsp.context.lexical import LexicalIndex
from smallcode_lsp.context.recent import RecentChunks
from smallcode_lsp.index.workspace_index import WorkspaceIndex


@dataclass
class ContextSources:
    index: WorkspaceIndex
    roots: list[str]
    recent: RecentChunks
    lexical: LexicalIndex
    imports: ImportCache

    @classmethod
    def for_index(cls, index: WorkspaceIndex, roots: list[str]) -> ContextSources:
        return cls(index, roots, RecentChunks(index.chunks_in_file), LexicalIndex(index), ImportCache(roots))

    def file_changed_on_disk(self, path: str) -> None:
        """A file appeared, changed or vanished outside the editor."""
        clear_file_cache()
        self.lexical.schedule_refresh(1.0)
        if path and not os.path.exists(path):
            self.recent.forget_file(path)

    def buffer_edited(self, path: str, line: int) -> None:
        self.recent.note_edit(path, line)
        self.lexical.schedule_refresh(1.0)
