"""Start the real server over stdio, as an editor does, and talk to it through pytest-lsp."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]


def uri(path: Path) -> str:
    return path.resolve().as_uri()


async def start_server(
    root: Path | None,
    cache_dir: Path,
    options: dict[str, Any] | None = None,
    editor: str = "visual-studio-code",
) -> LanguageClient:
    """Launch `python -m smallcode_lsp`, initialize it with `options` and return the client."""
    client = make_test_lsp_client()
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache_dir)}
    await client.start_io(*SERVER_COMMAND, env=env)
    client.init_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=uri(root) if root else None,
            workspace_folders=[types.WorkspaceFolder(uri(root), root.name)] if root else None,
            initialization_options=options or {},
        )
    )
    return client


async def stop_server(client: LanguageClient) -> None:
    try:
        await asyncio.wait_for(client.shutdown_session(), timeout=15)
    finally:
        await client.stop()


async def status(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="smallcode.status", arguments=[])
    )


async def wait_until(client: LanguageClient, predicate, timeout: float = 30.0) -> dict[str, Any]:
    """Poll `smallcode.status` until `predicate(status)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        current = await status(client)
        if predicate(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last status: {current}")
        await asyncio.sleep(0.1)


async def wait_for_model(client: LanguageClient, timeout: float = 60.0) -> dict[str, Any]:
    return await wait_until(client, lambda s: s["model"]["state"] in ("ready", "error"), timeout)


async def wait_for_index(client: LanguageClient, timeout: float = 60.0) -> dict[str, Any]:
    return await wait_until(client, lambda s: s["index"]["state"] in ("ready", "error"), timeout)


def open_document(client: LanguageClient, path: Path, text: str, language_id: str = "python") -> str:
    doc_uri = uri(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(doc_uri, language_id, 1, text))
    )
    return doc_uri


async def inline(
    client: LanguageClient, doc_uri: str, line: int, character: int, *, msg_id: str | None = None
):
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(doc_uri),
        position=types.Position(line, character),
    )
    return await client.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
    )


async def wait_for_messages(client: LanguageClient, predicate, timeout: float = 10.0) -> list:
    """Poll the `window/showMessage` notifications received until one satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in client.messages if predicate(m)]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no matching message; got {[m.message for m in client.messages]}")


async def send_raw_request(client: LanguageClient, method: str, params: Any, timeout: float = 10.0) -> Any:
    """Send a request exactly as given (no client-side schema), e.g. params that do not parse."""
    msg_id = f"raw-{uuid.uuid4()}"
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
