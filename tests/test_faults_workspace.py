"""A hostile workspace, CI-sized: 2,000 files with symlink loops, a named pipe, an unreadable folder, a
`.gitignore` of backtracking-prone patterns, and files deleted or rewritten while the index reads
them. Indexing reports progress, never hangs, answers requests while it runs, ends up consistent
with the disk, and stops on `window/workDoneProgress/cancel` or `$/cancelRequest` of a reindex.
(clients/bench/indexing_scale.py runs the same workspace at 100,000 files.)"""

from __future__ import annotations

import asyncio
import os
import random
import re
import stat
import time
from pathlib import Path

import pathspec
import pytest
from lsprotocol import types

from clients.bench.indexing_scale import generate_workspace, pathological_gitignore, rmtree
from smallcode_lsp.index.ignore import IgnoreRules, safe_spec
from smallcode_lsp.index.languages import language_for_path
from tests.server_harness import start_server, status, stop_server, wait_until

FILES = 2000


@pytest.fixture
def workspace(tmp_path: Path):
    root = tmp_path / "ws"
    generate_workspace(root, FILES, per_dir=50)
    yield root
    rmtree(root)


def _indexable_files(root: Path) -> int:
    """Regular, readable source files, symlinks not followed (what the index should hold)."""
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.access(os.path.join(folder, d), os.R_OK | os.X_OK)]
        for name in files:
            path = os.path.join(folder, name)
            if language_for_path(name) and stat.S_ISREG(os.lstat(path).st_mode):
                count += 1
    return count


async def _find(client, query: str) -> set[str]:
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    return {symbol.name for symbol in found or []}


def _index_token(client) -> str:
    tokens = [t for t in client.progress_reports if str(t).startswith("smallcode-index-")]
    assert tokens, "no indexing progress token"
    return tokens[-1]


async def _wait_for_token(client, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(str(t).startswith("smallcode-index-") for t in client.progress_reports):
            return _index_token(client)
        await asyncio.sleep(0.01)
    raise AssertionError("indexing never began")


async def test_hostile_workspace_is_indexed_while_answering(workspace, tmp_path, tiny_model_path):
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        await _wait_for_token(client)
        # While it indexes: delete some files, rewrite others, and time requests.
        rng = random.Random(5)
        victims = rng.sample(sorted(workspace.rglob("file*.py")), 40)
        deleted, rewritten = victims[:20], victims[20:]
        latencies: list[float] = []
        answered_while_indexing = 0
        for number, path in enumerate(victims):
            if path in deleted:
                path.unlink()
            else:
                path.write_text(f"def rewritten_{number}():\n    return {number}\n")
            started = time.monotonic()
            await _find(client, "helper_1")
            latencies.append(time.monotonic() - started)
            if (await status(client))["index"]["state"] == "indexing":
                answered_while_indexing += 1
        state = await wait_until(client, lambda s: s["index"]["state"] == "ready", timeout=120)
        assert answered_while_indexing, "indexing finished before any request: make the workspace bigger"
        assert max(latencies) < 2.0, latencies
        # Progress: begin, reports, end.
        kinds = [type(v).__name__ for v in client.progress_reports[_index_token(client)]]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert "WorkDoneProgressReport" in kinds
        # The deletions and rewrites done during the build are reflected once it settles.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            names = await _find(client, "rewritten_")
            gone = [
                p for p in deleted if f"helper_{p.stem[4:]}" in await _find(client, f"helper_{p.stem[4:]}")
            ]
            if len(names) == len(rewritten) and not gone:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"index out of step with the disk: {sorted(names)}, still present: {gone}")
        assert "long_named" in await _find(client, "long_named")  # the name the patterns struggle with
        assert state["index"]["watching"]
        assert (await status(client))["index"]["files"] == _indexable_files(workspace)
    finally:
        await stop_server(client)


async def test_progress_cancel_stops_indexing(workspace, tmp_path, tiny_model_path):
    """`window/workDoneProgress/cancel` on the index's token stops the build; a reindex finishes it."""
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        token = await _wait_for_token(client)
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        state = await wait_until(client, lambda s: s["index"]["state"] != "indexing", timeout=30)
        assert state["index"]["state"] == "cancelled", state["index"]
        assert state["index"]["files"] < FILES
        end = client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd) and "cancelled" in (end.message or "")
        assert isinstance(await _find(client, "helper_1"), set)  # still answering (from what it read)
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="smallcode.reindex", arguments=[])
        )
        assert result["state"] == "ready" and result["files"] > FILES
    finally:
        await stop_server(client)


async def test_cancel_request_of_reindex_stops_it(workspace, tmp_path, tiny_model_path):
    """`$/cancelRequest` of `smallcode.reindex` stops that build (it replaced the initial one)."""
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        await _wait_for_token(client)
        params = types.ExecuteCommandParams(command="smallcode.reindex", arguments=[])
        request = asyncio.ensure_future(
            client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="reindex-1")
        )
        await asyncio.sleep(0.3)
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="reindex-1"))
        with pytest.raises(Exception, match="(?i)cancel"):
            await asyncio.wait_for(request, 30)
        state = await wait_until(client, lambda s: s["index"]["state"] != "indexing", timeout=30)
        assert state["index"]["state"] == "cancelled", state["index"]
        assert state["index"]["files"] < FILES
        result = await client.workspace_execute_command_async(params)
        assert result["state"] == "ready" and result["files"] > FILES
    finally:
        await stop_server(client)


# ---------------------------------------------------------------------------- the ignore patterns


def test_backtracking_patterns_match_in_linear_time(tmp_path):
    """`*a*a*a*a*a*a*b` took 16 s on one 80-character name with pathspec's regex; now microseconds."""
    (tmp_path / ".gitignore").write_text(pathological_gitignore() + "*a*a*a*a*a*a*a*a*b\n")
    rules = IgnoreRules(tmp_path)
    rules.load_dir("")
    started = time.perf_counter()
    for length in (40, 80, 200):
        assert not rules.is_ignored_entry("pkg/" + "a" * length + ".py", False)
    assert rules.is_ignored_entry("pkg/" + "a" * 200 + "b", False)
    assert time.perf_counter() - started < 0.5


def _random_spec(rng: random.Random) -> list[str]:
    pieces = ["a", "b", "ab", "*", "*", "*", "?", "[ab]", "[!a]", ".", "/", "**/", "\\*"]
    lines = []
    for _ in range(rng.randint(1, 4)):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7)))
        lines.append(("!" if rng.random() < 0.3 else "") + line + ("/" if rng.random() < 0.2 else ""))
    return lines


def test_hardened_patterns_decide_like_pathspec():
    """Differential check: on paths short enough for pathspec's own regexes, both decide the same,
    precedence between several patterns (negations, directory-only ones) included."""
    rng = random.Random(11)
    checked = 0
    for _ in range(600):
        lines = _random_spec(rng)
        try:
            original = pathspec.GitIgnoreSpec.from_lines(lines)
        except Exception:
            continue
        hardened = safe_spec(lines)
        for _ in range(30):
            name = "".join(rng.choice("ab./*") for _ in range(rng.randint(1, 12))).strip("/") or "a"
            expected = original.check_file(name).include
            assert hardened.check_file(name).include == expected, (lines, name)
            checked += 1
    assert checked > 10000
    rewritten = [p.regex.pattern for p in safe_spec(["*a*b*c*"]).patterns]
    assert re.search(r"\(\?>", rewritten[0]), rewritten
