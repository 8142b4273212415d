"""How the server process ends, driven raw over stdio as an editor would: exit codes, a closed pipe,
the editor's process dying, signals, and no child process (sandbox run, index worker) left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from clients.lsp_client import LspClient
from smallcode_lsp.process_tree import descendants, process_alive
from tests.fake_endpoint import FakeEndpoint

SLOW_MODULE = '''import time


def slow(seconds):
    """Sleeps, then answers.

    >>> slow(60)
    60
    """
    time.sleep(seconds)
    return seconds
'''


async def _start(
    root: Path | None, cache: Path, model: Path, process_id: Any = None, **settings: Any
) -> LspClient:
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
    client = await LspClient.start(sys.executable, "-m", "smallcode_lsp", env=env)
    params = {
        "processId": process_id,
        "capabilities": {},
        "rootUri": root.resolve().as_uri() if root else None,
        "workspaceFolders": [{"uri": root.resolve().as_uri(), "name": root.name}] if root else None,
        "initializationOptions": {"model": {"path": str(model)}, **settings},
    }
    await client.request("initialize", params, timeout=30)
    client.notify("initialized", {})
    return client


async def _exit_code(client: LspClient, timeout: float = 10.0) -> int:
    return await asyncio.wait_for(client.process.wait(), timeout)


async def _status(client: LspClient) -> dict[str, Any]:
    return await client.request("workspace/executeCommand", {"command": "smallcode.status"})


async def _wait_for_descendant(pid: int, predicate, timeout: float = 30.0, poll: float = 0.1) -> list[int]:
    """Descendants of `pid` once one of them satisfies `predicate(cmdline)`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = descendants(pid)
        if any(predicate(_cmdline(child)) for child in found):
            return found
        await asyncio.sleep(poll)
    raise AssertionError(f"no matching child process of {pid} within {timeout}s")


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def _survivors(pids: list[int], timeout: float = 5.0) -> list[str]:
    """The processes of `pids` still running after `timeout` (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive or time.monotonic() > deadline:
            return [f"{pid}: {_cmdline(pid)}" for pid in alive]
        time.sleep(0.1)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "slow.py").write_text(SLOW_MODULE)
    return root


@pytest.mark.parametrize(("send_shutdown", "expected"), [(True, 0), (False, 1)])
async def test_exit_code_follows_shutdown(send_shutdown, expected, workspace, tmp_path, tiny_model_path):
    """`shutdown` then `exit` exits 0; `exit` alone exits 1 (LSP spec), and promptly."""
    client = await _start(workspace, tmp_path / "cache", tiny_model_path)
    await _status(client)
    if send_shutdown:
        assert await client.request("shutdown", None) is None
    started = time.monotonic()
    client.notify("exit")
    assert await _exit_code(client) == expected
    assert time.monotonic() - started < 5


async def test_closed_stdin_ends_the_server(workspace, tmp_path, tiny_model_path):
    """An editor that dies closes the pipe: the server exits at once (1: no shutdown came)."""
    client = await _start(workspace, tmp_path / "cache", tiny_model_path)
    await _status(client)
    assert client.process.stdin is not None
    client.process.stdin.close()
    assert await _exit_code(client) == 1


async def test_server_exits_when_the_editor_process_dies(workspace, tmp_path, tiny_model_path):
    """`processId` names the editor: when it dies (stdin still open), the server exits on its own."""
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        client = await _start(workspace, tmp_path / "cache", tiny_model_path, process_id=editor.pid)
        await _status(client)
        await asyncio.sleep(1.5)
        assert client.process.returncode is None, "exited while the editor was alive"
    finally:
        editor.kill()
        editor.wait()
    started = time.monotonic()
    assert await _exit_code(client, timeout=10) == 1
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("how", ["exit", "sigterm", "editor-dies"])
async def test_no_child_process_outlives_the_server(how, workspace, tmp_path, tiny_model_path):
    """A sandbox run in flight (the docstring example of `slow` sleeps 60 s) dies with the server."""
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        client = await _start(workspace, tmp_path / "cache", tiny_model_path, process_id=editor.pid)
        doc = (workspace / "slow.py").resolve().as_uri()
        _, pending = client.send_request(
            "workspace/executeCommand",
            {"command": "smallcode.generateTests", "arguments": [{"uri": doc, "name": "slow"}]},
        )
        children = await _wait_for_descendant(client.process.pid, lambda cmd: "pytest" in cmd)
        assert children
        started = time.monotonic()
        if how == "exit":
            client.notify("exit")
        elif how == "sigterm":
            client.process.send_signal(signal.SIGTERM)
        else:
            editor.kill()
            editor.wait()
        code = await _exit_code(client, timeout=10)
        assert time.monotonic() - started < 6
        assert code == {"exit": 1, "sigterm": 128 + signal.SIGTERM, "editor-dies": 1}[how]
        assert _survivors(descendants(client.process.pid) + children) == []
        with contextlib.suppress(Exception):
            pending.cancel()
    finally:
        editor.kill()
        editor.wait()


async def test_exit_during_a_big_index_build_leaves_no_workers(tmp_path, tiny_model_path):
    """Index worker processes (spawned for big builds) are gone when the server exits mid-build."""
    root = tmp_path / "big"
    for i in range(600):
        folder = root / f"pkg{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text(f"class C{i}:\n    def f{i}(self):\n        return {i}\n" * 20)
    client = await _start(root, tmp_path / "cache", tiny_model_path)
    children = await _wait_for_descendant(client.process.pid, lambda cmd: "multiprocessing" in cmd, 60, 0.02)
    assert await client.request("shutdown", None) is None
    client.notify("exit")
    assert await _exit_code(client) == 0
    assert _survivors(children) == []


async def test_a_hanging_cloud_call_does_not_hold_the_exit(workspace, tmp_path, tiny_model_path):
    """A cloud request stuck on an endpoint that never answers: shutdown + exit still end at once."""
    with FakeEndpoint("hang", hang_s=60.0) as endpoint:
        cloud = {"endpoint": endpoint.url, "timeoutMs": 60000, "confidenceThreshold": 0.0}
        completion = {"debounceMs": 0, "maxTokens": 4, "prefetch": False}
        client = await _start(
            workspace, tmp_path / "cache", tiny_model_path, cloud=cloud, completion=completion
        )
        doc = (workspace / "slow.py").resolve().as_uri()
        text = (workspace / "slow.py").read_text()
        item = {"uri": doc, "languageId": "python", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": item})
        position = {"line": 10, "character": 4}
        context = {"triggerKind": 1}
        params = {"textDocument": {"uri": doc}, "position": position, "context": context}
        client.send_request("textDocument/inlineCompletion", params)
        deadline = time.monotonic() + 30
        while not endpoint.requests and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert endpoint.requests, "the cloud was never called"
        started = time.monotonic()
        assert await client.request("shutdown", None, timeout=10) is None
        client.notify("exit")
        assert await _exit_code(client) == 0
        assert time.monotonic() - started < 5
