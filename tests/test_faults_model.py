"""A model file that breaks while the server runs, or a context size the machine cannot hold: one clear
`window/showMessage`, symbols and code actions keep working, and completion comes back when the
settings are fixed, without a restart. Driven end to end over stdio."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from smallcode_lsp.server.lifecycle import descendants
from tests.server_harness import (
    inline,
    open_document,
    send_raw_request,
    start_server,
    status,
    stop_server,
    wait_for_messages,
    wait_until,
)

SOURCE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - \n"
DIAGNOSTIC = {
    "range": {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 16}},
    "message": "Expected expression",
    "severity": 1,
    "source": "pyright",
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(SOURCE)
    return root


def _configure(client: LanguageClient, model: dict[str, Any]) -> None:
    settings = {"smallcode": {"model": model, "completion": {"debounceMs": 0, "maxTokens": 6}}}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings))


async def _model_state(client: LanguageClient, state: str, timeout: float = 30.0) -> dict[str, Any]:
    return await wait_until(client, lambda s: s["model"]["state"] == state, timeout)


async def _symbols_and_actions_work(client: LanguageClient, doc: str) -> None:
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(doc))
    )
    assert [s.name for s in symbols] == ["add", "sub"]
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="sub"))
    assert any(s.name == "sub" for s in found or [])
    params = {
        "textDocument": {"uri": doc},
        "range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 16}},
        "context": {"diagnostics": [DIAGNOSTIC]},
    }
    actions = await send_raw_request(client, "textDocument/codeAction", params)
    assert any("Fix this" in action["title"] for action in actions), actions


async def _completes(client: LanguageClient, doc: str, line: int, character: int) -> None:
    result = await inline(client, doc, line, character)
    assert result.items and result.items[0].insert_text, "no completion from a loaded model"


@contextlib.asynccontextmanager
async def _serving_a_copy(
    workspace: Path, tmp_path: Path, tiny_model_path: Path
) -> AsyncIterator[tuple[LanguageClient, Path, str]]:
    """A server whose model is a copy the test may break: (client, the copy, calc.py's uri)."""
    model = tmp_path / "model.gguf"
    shutil.copyfile(tiny_model_path, model)
    options = {"model": {"path": str(model)}, "completion": {"debounceMs": 0, "maxTokens": 6}}
    client = await start_server(workspace, tmp_path / "cache", options)
    try:
        await _model_state(client, "ready")
        yield client, model, open_document(client, workspace / "calc.py", SOURCE)
    finally:
        await stop_server(client)


def _errors(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


@pytest.mark.parametrize("cut", ["header", "tensors"])
async def test_model_truncated_while_running(cut, workspace, tmp_path, tiny_model_path):
    """Truncated in place after loading: the running model is unaffected (no SIGBUS: the weights are
    in memory, not mapped); the next load says the file is truncated; a fixed path brings it back."""
    async with _serving_a_copy(workspace, tmp_path, tiny_model_path) as (client, model, doc):
        await _completes(client, doc, 1, 4)
        size = model.stat().st_size
        os.truncate(model, 4096 if cut == "header" else size - 64)
        await _completes(client, doc, 1, 8)  # still served from the loaded weights
        _configure(client, {"path": str(model), "contextSize": 2048})  # any model change reloads
        await _model_state(client, "error")
        errors = await wait_for_messages(client, lambda m: m.type == types.MessageType.Error)
        assert "truncated" in errors[0].message and str(model) in errors[0].message, errors[0].message
        assert "code actions still work" in errors[0].message
        await _symbols_and_actions_work(client, doc)
        assert not (await inline(client, doc, 4, 4)).items  # no model: an empty answer, not an error
        shutil.copyfile(tiny_model_path, model)  # fixed on disk; same settings sent again
        _configure(client, {"path": str(model), "contextSize": 2048})
        await _model_state(client, "ready")
        await wait_for_messages(client, lambda m: "completions are back on" in m.message)
        await _completes(client, doc, 4, 4)
        assert len(_errors(client)) == 1


async def test_model_deleted_while_running_keeps_completing(workspace, tmp_path, tiny_model_path):
    async with _serving_a_copy(workspace, tmp_path, tiny_model_path) as (client, model, doc):
        model.unlink()
        await _completes(client, doc, 1, 4)
        _configure(client, {"path": str(model), "contextSize": 2048})
        await _model_state(client, "error")
        errors = await wait_for_messages(client, lambda m: m.type == types.MessageType.Error)
        assert "not found" in errors[0].message or "does not exist" in errors[0].message
        await _symbols_and_actions_work(client, doc)
        _configure(client, {"path": str(tiny_model_path), "contextSize": 2048})
        await _model_state(client, "ready")
        await _completes(client, doc, 4, 4)


async def test_corrupt_model_then_fixed_path_recovers(workspace, tmp_path, tiny_model_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(8192))  # right magic, garbage after it
    options = {"model": {"path": str(bad)}, "completion": {"debounceMs": 0, "maxTokens": 6}}
    client = await start_server(workspace, tmp_path / "cache", options)
    try:
        await _model_state(client, "error")
        errors = await wait_for_messages(client, lambda m: m.type == types.MessageType.Error)
        assert str(bad) in errors[0].message
        doc = open_document(client, workspace / "calc.py", SOURCE)
        await _symbols_and_actions_work(client, doc)
        _configure(client, {"path": str(tiny_model_path)})
        await _model_state(client, "ready")
        await _completes(client, doc, 1, 4)
    finally:
        await stop_server(client)


def _server_pid(cache: Path) -> int:
    """The server process this test started (a child of ours, told to use `cache`)."""
    for pid in descendants():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"SMALLCODE_CACHE_DIR={cache}".encode() in environ:
            return pid
    raise AssertionError("server process not found")


def _mapped_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


HEADROOM = 400 << 20


async def test_context_size_that_cannot_be_allocated(workspace, tmp_path, tiny_model_path):
    """The server's address space is capped (RLIMIT_AS, as a small machine or a container would
    be) at what it maps once started plus 400 MB; 131072 tokens need ~600 MB of KV cache and
    attention buffers. It says so with the numbers and a size that fits, symbols and code actions
    keep working, and it loads once the setting is lowered."""
    cache = tmp_path / "cache"
    missing = {"path": str(tmp_path / "not-yet.gguf"), "threads": 1}
    options = {"model": missing, "completion": {"debounceMs": 0, "maxTokens": 6}}
    client = await start_server(workspace, cache, options)
    try:
        await _model_state(client, "error")
        await wait_until(client, lambda s: s["index"]["state"] == "ready")
        pid = _server_pid(cache)
        limit = _mapped_bytes(pid) + HEADROOM
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
        client.messages.clear()
        _configure(client, {"path": str(tiny_model_path), "contextSize": 131072, "threads": 1})
        errors = await wait_for_messages(client, lambda m: m.type == types.MessageType.Error)
        message = errors[0].message
        assert "not enough memory for model.contextSize 131072" in message, message
        assert "smallcode.model.contextSize to" in message, message
        assert (await status(client))["model"]["state"] == "error"
        doc = open_document(client, workspace / "calc.py", SOURCE)
        await _symbols_and_actions_work(client, doc)
        _configure(client, {"path": str(tiny_model_path), "contextSize": 2048, "threads": 1})
        state = await _model_state(client, "ready")
        assert state["model"]["contextSize"] == 2048
        await _completes(client, doc, 1, 4)
    finally:
        await stop_server(client)
