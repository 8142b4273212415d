"""The recent-chunks buffer: resolution to the enclosing chunk, bound, dedupe, order."""

from __future__ import annotations

from pathlib import Path

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.context.recent import RecentChunks, enclosing_chunk
from smallcode_lsp.index.workspace_index import WorkspaceIndex

SOURCE = """\
class Account:
    def deposit(self, amount):
        self.balance += amount

    def withdraw(self, amount):
        self.balance -= amount


def audit_trail(account):
    return [entry for entry in account.history if entry.kind == "audit"]
"""


def make(tmp_path: Path, files: dict[str, str]) -> WorkspaceIndex:
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    index = WorkspaceIndex([tmp_path], IndexSettings(), None, workers=1)
    index.build()
    return index


def test_resolves_innermost_chunk(tmp_path: Path) -> None:
    index = make(tmp_path, {"bank.py": SOURCE})
    chunks = index.chunks_in_file(str(tmp_path / "bank.py"))
    assert enclosing_chunk(chunks, 2).name == "deposit"  # not the class
    assert enclosing_chunk(chunks, 0).name == "Account"
    assert enclosing_chunk(chunks, 7) is None  # blank module-level line


def test_most_recent_first_bounded_and_edits_first(tmp_path: Path) -> None:
    index = make(tmp_path, {"bank.py": SOURCE})
    recent = RecentChunks(index.chunks_in_file, capacity=2)
    path = str(tmp_path / "bank.py")
    recent.note_edit(path, 2)  # deposit
    recent.note_view(path, 9)  # audit_trail
    recent.note_edit(path, 5)  # withdraw: evicts deposit (capacity 2)
    assert [e.chunk.name for e in recent.entries()] == ["withdraw", "audit_trail"]
    recent.note_view(path, 9)
    assert [e.chunk.name for e in recent.entries()] == ["audit_trail", "withdraw"]
    assert [c.name for c in recent.chunks()] == ["withdraw", "audit_trail"]  # edits before views


def test_same_symbol_and_near_duplicates_replace(tmp_path: Path) -> None:
    copy = SOURCE.replace("audit_trail", "audit_log")  # same tokens but one identifier
    index = make(
        tmp_path, {"bank.py": SOURCE, "copy.py": copy, "other.py": "def unrelated_thing():\n    pass\n"}
    )
    recent = RecentChunks(index.chunks_in_file, capacity=5, similarity=0.5)
    bank = str(tmp_path / "bank.py")
    recent.note_edit(bank, 2)
    recent.note_edit(bank, 1)  # same chunk (deposit) again
    assert [e.chunk.name for e in recent.entries()] == ["deposit"]
    recent.note_view(bank, 9)
    recent.note_view(str(tmp_path / "copy.py"), 9)  # audit_log ~ audit_trail: replaces it
    assert [e.chunk.name for e in recent.entries()] == ["audit_log", "deposit"]
    recent.note_view(bank, 2)  # viewing an edited chunk keeps it an edit
    assert recent.entries()[0].edited


def test_chunks_refresh_text_and_exclude_window(tmp_path: Path) -> None:
    index = make(tmp_path, {"bank.py": SOURCE})
    path = str(tmp_path / "bank.py")
    recent = RecentChunks(index.chunks_in_file)
    recent.note_edit(path, 9)
    (tmp_path / "bank.py").write_text(SOURCE.replace('"audit"', '"audit" and entry.ok'))
    index.update_file(path)
    assert "entry.ok" in recent.chunks()[0].text
    assert recent.chunks(exclude_path=path, exclude_lines=(8, 9)) == []
    recent.forget_file(path)
    assert recent.entries() == []


def test_leaving_a_file_marks_where_the_cursor_was_as_viewed(tmp_path: Path) -> None:
    from smallcode_lsp.context.sources import ContextSources

    index = make(tmp_path, {"bank.py": SOURCE, "app.py": "def main():\n    pass\n"})
    sources = ContextSources.for_index(index, [str(tmp_path)])
    bank, app = str(tmp_path / "bank.py"), str(tmp_path / "app.py")
    sources.cursor_moved(bank, 5)  # in withdraw
    sources.cursor_moved(bank, 2)  # still in bank.py: nothing viewed elsewhere yet
    assert sources.recent.entries() == []
    sources.cursor_moved(app, 1)  # moved on: bank.py's deposit was being looked at
    assert [(e.chunk.name, e.edited) for e in sources.recent.entries()] == [("deposit", False)]
    sources.recent.note_edit(app, 1)
    sources.buffer_closed(bank)  # closed without editing: the view ends
    sources.buffer_closed(app)  # edits outlive closing
    assert [(e.chunk.name, e.edited) for e in sources.recent.entries()] == [("main", True)]
