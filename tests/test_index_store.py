"""WorkspaceIndex + SQLite cache: cold build, warm restart, changed/touched/deleted files, search."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.languages import language_for_path
from smallcode_lsp.index.store import IndexStore, db_path_for_root
from smallcode_lsp.index.workspace_index import WorkspaceIndex


def new_index(root: Path, cache: Path | None, **kwargs) -> WorkspaceIndex:
    return WorkspaceIndex([root], IndexSettings(), cache, workers=kwargs.pop("workers", 1), **kwargs)


def test_cold_then_warm_restart(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    progress: list[tuple[int, int]] = []
    index = new_index(workspace, cache)
    cold = index.build(progress=lambda done, total: progress.append((done, total)))
    n_files = len([p for p in workspace.rglob("*") if language_for_path(p)])
    assert (cold.files, cold.parsed_files, cold.reused_files) == (n_files, n_files, 0)
    assert cold.chunks == index.chunk_count > 50
    assert progress[-1] == (n_files, n_files)
    before = sorted(index.all_chunks(), key=lambda c: (c.path, c.start_line, c.name))
    index.close()
    assert db_path_for_root(cache, workspace).exists()

    warm_index = new_index(workspace, cache)
    warm = warm_index.build()
    assert (warm.files, warm.reused_files, warm.parsed_files) == (n_files, n_files, 0)
    after = sorted(warm_index.all_chunks(), key=lambda c: (c.path, c.start_line, c.name))
    assert after == before
    warm_index.close()


def test_restart_reparses_only_changed_files(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    new_index(workspace, cache).build()
    shapes = workspace / "py_pkg" / "shapes.py"
    shapes.write_text(shapes.read_text() + "\n\ndef added_later():\n    pass\n")
    touched = workspace / "go" / "server.go"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 5_000_000_000))
    (workspace / "rust" / "lib.rs").unlink()

    index = new_index(workspace, cache)
    stats = index.build()
    assert stats.parsed_files == 1  # touched-but-identical server.go is reused via its hash
    assert stats.reused_files == stats.files - 1
    assert [c.name for c in index.definitions("added_later")] == ["added_later"]
    assert index.definitions("MAX_ITEMS") == []
    index.close()
    # The stat refresh was persisted: the next restart reuses everything.
    again = new_index(workspace, cache)
    assert again.build().parsed_files == 0
    again.close()


def test_schema_or_query_change_invalidates_cache(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    store = IndexStore(db, "fingerprint-a")
    from smallcode_lsp.index.store import FileRecord

    store.write([(FileRecord("/x.py", 1, 2, "h"), [])])
    store.close()
    assert IndexStore(db, "fingerprint-a").load_files()
    assert IndexStore(db, "fingerprint-b").load_files() == {}


def test_corrupt_cache_is_rebuilt(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    db = db_path_for_root(cache, workspace)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    index = new_index(workspace, cache)
    assert index.build().parsed_files > 0
    index.close()


def test_update_and_remove_file(workspace: Path, tmp_path: Path) -> None:
    index = new_index(workspace, tmp_path / "cache")
    index.build()
    path = workspace / "py_pkg" / "shapes.py"
    assert not index.update_file(path)  # unchanged
    path.write_text("def only_one():\n    pass\n")
    assert index.update_file(path)
    assert [c.name for c in index.document_symbols(str(path))] == ["only_one"]
    assert [c.path for c in index.definitions("Shape")] == [str(workspace / "native" / "geometry.hpp")]
    path.unlink()
    assert index.update_file(path)  # gone: removed
    assert index.chunks_in_file(str(path)) == []
    files_before = index.file_count
    index.remove_file(workspace / "go" / "server.go")
    assert index.file_count == files_before - 1
    # A binary file with a source extension is dropped, not parsed.
    (workspace / "blob.py").write_bytes(b"\x00\x01\x02")
    assert not index.update_file(workspace / "blob.py")
    assert not index.has_file(workspace / "blob.py")
    index.close()


def test_update_document_overrides_disk_until_saved(workspace: Path) -> None:
    index = new_index(workspace, None)
    index.build()
    path = workspace / "py_pkg" / "shapes.py"
    doc = ParsedDocument(str(path), "class Draft:\n    def wip(self): ...\n", language_for_path(path))
    index.update_document(doc)
    assert [(c.name, c.container) for c in index.chunks_in_file(str(path))] == [
        ("Draft", None),
        ("wip", "Draft"),
    ]
    assert index.build().files == index.file_count  # a rebuild keeps the buffer's symbols
    assert index.definitions("Draft")
    index.update_file(path)  # saved/reverted: disk wins again
    assert not index.definitions("Draft") and index.definitions("Circle")
    index.close()


def test_search_ranking(workspace: Path) -> None:
    index = new_index(workspace, None)
    index.build()
    names = [c.name for c in index.search_symbols("area")]
    assert names[:3] == ["area", "area", "area"] and "area_of" in names
    assert names.index("area_of") > 2
    assert [c.name for c in index.search_symbols("AREA_O")] == ["area_of"]  # case-insensitive prefix
    sub = [c.name for c in index.search_symbols("store")]
    assert sub[0] == "UserStore" or sub[0] == "createStore"
    fuzzy = [c.name for c in index.search_symbols("vnew")]
    assert "vector_new" in fuzzy
    ranked = [c.name for c in index.search_symbols("ser")]
    assert ranked.index("Server") < ranked.index("UserStore") if "UserStore" in ranked else True
    assert len(index.search_symbols("", limit=5)) == 5
    assert len(index.search_symbols("e", limit=3)) == 3
    assert index.search_symbols("zzzzqqq") == []
    assert {c.container for c in index.definitions("area")} == {"Shape", "Circle"}
    index.close()


def test_concurrent_queries_during_build(workspace: Path) -> None:
    index = new_index(workspace, None)
    errors: list[BaseException] = []

    def query() -> None:
        try:
            for _ in range(200):
                index.search_symbols("a")
                list(index.all_chunks())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=query)
    thread.start()
    index.build()
    thread.join()
    assert not errors
    index.close()


def test_cancelled_build_stops_early(workspace: Path) -> None:
    index = new_index(workspace, None)
    cancel = threading.Event()
    cancel.set()
    stats = index.build(cancel=cancel)
    assert stats.parsed_files == 0
    assert index.build().parsed_files > 0
    index.close()


def test_parallel_build_matches_serial(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(200):
        sub = root / f"pkg{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"mod{i}.py").write_text(
            f"class C{i}:\n    def m{i}(self):\n        return {i}\n\nK{i} = {i}\n"
        )
    serial = WorkspaceIndex([root], IndexSettings(), None, workers=1)
    parallel = WorkspaceIndex([root], IndexSettings(), tmp_path / "cache", workers=2)
    assert serial.build().chunks == parallel.build().chunks == 600
    key = lambda c: (c.path, c.start_line)  # noqa: E731
    assert sorted(serial.all_chunks(), key=key) == sorted(parallel.all_chunks(), key=key)
    serial.close()
    parallel.close()


def test_the_files_on_disk_stay_bounded_however_often_a_file_is_saved(tmp_path: Path) -> None:
    """A long session re-saves the same files thousands of times: the index is one row per file, and
    its write-ahead log must not stay at SQLite's default high-water mark (4 MB for a 40 KB index)."""
    from smallcode_lsp.index.chunker import chunk_source
    from smallcode_lsp.index.store import WAL_SIZE_LIMIT, FileRecord

    source = Path(__file__).read_bytes()
    chunks = chunk_source(source, language_for_path("t.py"), "/w/t.py")
    store = IndexStore(tmp_path / "idx.sqlite")
    sizes = []
    for save in range(1, 601):
        assert store.write([(FileRecord("/w/t.py", save, len(source), f"hash{save}"), chunks)])
        if save % 100 == 0:
            sizes.append(sum(p.stat().st_size for p in tmp_path.iterdir()))
    store.close()
    data = (tmp_path / "idx.sqlite").stat().st_size
    assert max(sizes) <= data + WAL_SIZE_LIMIT + (64 << 10), sizes  # + the shared-memory index
    assert sizes[-1] <= sizes[1] * 1.05, sizes  # flat, not one more copy per save
