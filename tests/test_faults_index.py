"""The SQLite index cache damaged, locked by another process, unwritable, or shared by two servers:
the index is rebuilt or served from memory with one warning, never a crash, and two servers on one
workspace leave a database that passes `PRAGMA integrity_check`. End to end over stdio."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from lsprotocol import types

from smallcode_lsp.index.store import BUSY_TIMEOUT_S, db_path_for_root
from tests.server_harness import start_server, stop_server, wait_for_index, wait_for_messages

FILES = 60


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for i in range(FILES):
        folder = root / f"pkg{i % 6}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def func_{i}_{j}(x):\n    return x + {j}\n\n\n" for j in range(12))
        (folder / f"mod{i}.py").write_text(f"class Model{i}:\n    pass\n\n\n{body}")
    return root


async def _serve(workspace: Path, cache: Path, model: Path):
    client = await start_server(workspace, cache, {"model": {"path": str(model)}})
    state = await wait_for_index(client, timeout=60)
    assert state["index"]["state"] == "ready", state["index"]
    return client, state


async def _finds(client, name: str) -> bool:
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=name))
    return any(symbol.name == name for symbol in found or [])


def _warnings(client) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Warning]


def _check_database(db: Path, files: int) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == files
    conn.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed-header"])
async def test_damaged_cache_is_rebuilt_with_a_warning(damage, workspace, tmp_path, tiny_model_path):
    cache = tmp_path / "cache"
    db = db_path_for_root(cache / "index", workspace)
    client, _ = await _serve(workspace, cache, tiny_model_path)
    await stop_server(client)
    size = db.stat().st_size
    assert size > 64 * 1024 and not Path(f"{db}-wal").exists()
    if damage == "garbage":
        db.write_bytes(os.urandom(size))
    elif damage == "truncated":
        os.truncate(db, size // 2)
    else:
        with db.open("r+b") as handle:
            handle.write(b"\0" * 100)
    client, state = await _serve(workspace, cache, tiny_model_path)
    try:
        assert state["index"]["files"] == FILES
        assert state["index"]["lastBuild"]["parsedFiles"] == FILES  # rebuilt, not read from the wreck
        await wait_for_messages(client, lambda m: "damaged" in m.message and "rebuilding" in m.message)
        assert await _finds(client, f"func_{FILES - 1}_11")
    finally:
        await stop_server(client)
    _check_database(db, FILES)


async def test_cache_locked_by_another_process(workspace, tmp_path, tiny_model_path):
    """Another process holds the write lock (WAL): the server waits out the busy timeout, keeps the
    index in memory and says so; the other process's database is left intact."""
    cache = tmp_path / "cache"
    db = db_path_for_root(cache / "index", workspace)
    client, _ = await _serve(workspace, cache, tiny_model_path)
    await stop_server(client)
    (workspace / "pkg0" / "added.py").write_text("def added_while_locked():\n    return 1\n")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        client, state = await _serve(workspace, cache, tiny_model_path)
        try:
            assert state["index"]["files"] == FILES + 1
            assert await _finds(client, "added_while_locked")
            await wait_for_messages(client, lambda m: "locked by another process" in m.message)
        finally:
            await stop_server(client)
    finally:
        other.execute("ROLLBACK")
        other.close()
    _check_database(db, FILES)  # the server's write was skipped, nothing half-written


async def test_cache_locked_before_it_could_be_opened(workspace, tmp_path, tiny_model_path):
    """A database in rollback-journal mode held exclusively: not even opened, so served from memory."""
    cache = tmp_path / "cache"
    db = db_path_for_root(cache / "index", workspace)
    db.parent.mkdir(parents=True)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("CREATE TABLE foreign_data (x)")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO foreign_data VALUES (1)")
    try:
        client, state = await _serve(workspace, cache, tiny_model_path)
        try:
            assert state["index"]["files"] == FILES
            assert await _finds(client, "Model3")
            message = await wait_for_messages(client, lambda m: "kept in memory" in m.message)
            assert f"{BUSY_TIMEOUT_S:.0f} s" in message[0].message
        finally:
            await stop_server(client)
    finally:
        other.execute("ROLLBACK")
        assert other.execute("SELECT count(*) FROM foreign_data").fetchone() == (0,)
        other.close()


@pytest.mark.parametrize("how", ["not-a-directory", "read-only"])
async def test_unwritable_cache_keeps_the_index_in_memory(how, workspace, tmp_path, tiny_model_path):
    if how == "not-a-directory":
        blocker = tmp_path / "a-file"
        blocker.write_text("the cache folder's parent is a file")
        cache = blocker / "cache"  # mkdir fails with ENOTDIR, like a path on a read-only mount fails
    else:
        if os.geteuid() == 0:
            pytest.skip("root ignores permission bits; the not-a-directory case covers unwritable paths")
        cache = tmp_path / "ro-cache"
        cache.mkdir()
        cache.chmod(0o500)
    try:
        client, state = await _serve(workspace, cache, tiny_model_path)
        try:
            assert state["index"]["files"] == FILES
            assert await _finds(client, "Model5")
            await wait_for_messages(client, lambda m: "kept in memory" in m.message)
            assert len([w for w in _warnings(client) if "index" in w]) == 1
        finally:
            await stop_server(client)
    finally:
        if how == "read-only":
            cache.chmod(0o700)


async def test_two_servers_on_one_workspace(workspace, tmp_path, tiny_model_path):
    """Both index at the same time into the same cache, both answer, both follow a change on disk,
    and the shared database is consistent afterwards."""
    cache = tmp_path / "cache"
    db = db_path_for_root(cache / "index", workspace)
    (first, _), (second, _) = await asyncio.gather(
        _serve(workspace, cache, tiny_model_path), _serve(workspace, cache, tiny_model_path)
    )
    try:
        for client in (first, second):
            assert await _finds(client, f"func_{FILES - 1}_11")
        (workspace / "pkg1" / "mod1.py").write_text("def renamed_on_disk():\n    return 1\n")
        (workspace / "pkg2" / "fresh.py").write_text("class FreshOnDisk:\n    pass\n")
        for client in (first, second):
            for _ in range(100):
                if await _finds(client, "renamed_on_disk") and await _finds(client, "FreshOnDisk"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("a server missed the change on disk")
        assert not [w for client in (first, second) for w in _warnings(client) if "index" in w]
    finally:
        await asyncio.gather(stop_server(first), stop_server(second))
    _check_database(db, FILES + 1)
    with sqlite3.connect(db) as conn:
        names = conn.execute("SELECT names FROM files WHERE path LIKE '%mod1.py'").fetchall()
    conn.close()
    assert len(names) == 1
