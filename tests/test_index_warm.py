"""Warm restarts: cached directory listings (still finding every change) and lazily decoded chunks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index import files
from smallcode_lsp.index.languages import query_fingerprint
from smallcode_lsp.index.store import IndexStore, StoredChunks, db_path_for_root
from smallcode_lsp.index.workspace_index import WorkspaceIndex


@pytest.fixture()
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Directories actually listed (scandir'ed); listings count as settled at once."""
    calls: list[str] = []
    real = files._list_dir

    def spy(folder: str, *args: int) -> files.Listing | None:
        calls.append(folder)
        return real(folder, *args)

    monkeypatch.setattr(files, "_list_dir", spy)
    monkeypatch.setattr(files, "_RACY_NS", 0)
    return calls


def build(root: Path, cache: Path) -> tuple[WorkspaceIndex, object]:
    index = WorkspaceIndex([root], IndexSettings(), cache, workers=1)
    return index, index.build()


def settle() -> None:
    """Let the coarse filesystem clock tick past the last listing."""
    time.sleep(0.05)


def test_unchanged_directories_are_not_relisted(workspace: Path, tmp_path: Path, listed: list[str]) -> None:
    cache = tmp_path / "cache"
    index, cold = build(workspace, cache)
    index.close()
    assert listed
    listed.clear()
    index, warm = build(workspace, cache)
    assert listed == []
    assert (warm.files, warm.reused_files, warm.parsed_files) == (cold.files, cold.files, 0)
    index.close()


def test_new_changed_and_deleted_files_are_found(workspace: Path, tmp_path: Path, listed: list[str]) -> None:
    cache = tmp_path / "cache"
    index, cold = build(workspace, cache)
    index.close()
    settle()
    (workspace / "py_pkg" / "added.py").write_text("def brand_new():\n    pass\n")
    (workspace / "rust" / "lib.rs").unlink()
    deep = workspace / "web" / "deep" / "more"
    deep.mkdir(parents=True)
    (deep / "late.py").write_text("class Late:\n    pass\n")
    listed.clear()
    index, warm = build(workspace, cache)
    relisted = {Path(p).relative_to(workspace).as_posix() for p in listed}
    assert relisted == {"py_pkg", "rust", "web", "web/deep", "web/deep/more"}
    assert warm.parsed_files == 2
    assert [c.name for c in index.definitions("brand_new")] == ["brand_new"]
    assert [c.name for c in index.definitions("Late")] == ["Late"]
    assert not any(c.path.endswith("lib.rs") for c in index.all_chunks())
    index.close()


def test_gitignore_edit_applies_to_listings(workspace: Path, tmp_path: Path, listed: list[str]) -> None:
    cache = tmp_path / "cache"
    (workspace / ".gitignore").write_text("*.log\n")
    index, cold = build(workspace, cache)
    index.close()
    assert any("/rust/" in p for p in index.files_under(workspace))
    settle()
    (workspace / ".gitignore").write_text("rust/\n")  # edited in place: no directory changes
    listed.clear()
    index, warm = build(workspace, cache)
    assert listed == []
    assert not any("/rust/" in c.path for c in index.all_chunks())
    assert warm.files < cold.files
    index.close()


def test_racy_listings_are_not_stored(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index, _ = build(workspace, cache)  # every directory was just created: too recent to trust
    index.close()
    store = IndexStore(db_path_for_root(cache, workspace), query_fingerprint())
    try:
        assert store.load_files() and store.load_dirs() == {}
    finally:
        store.close()


def test_warm_chunks_stay_encoded_until_queried(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index, _ = build(workspace, cache)
    path = str(workspace / "py_pkg" / "shapes.py")
    cold_chunks = index.chunks_in_file(path)
    index.close()
    index, _ = build(workspace, cache)
    assert isinstance(index._table.raw(path), StoredChunks)
    assert index.chunks_in_file(path) == cold_chunks
    assert isinstance(index._table.raw(path), list)
    assert {c.container for c in index.definitions("area")} == {"Shape", "Circle"}
    index.close()
