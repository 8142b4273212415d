"""End-to-end: inline completion from the tiny real GGUF through llama-cpp-python, over stdio."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from lsprotocol import types

from tests.server_harness import (
    inline,
    open_document,
    start_server,
    status,
    stop_server,
    wait_for_index,
    wait_for_model,
    wait_until,
)

SOURCE = "import os\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return \n"


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)
    return root


async def test_initialize_advertises_features(workspace, tmp_path, tiny_model_path):
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        caps = client.init_result.capabilities
        assert caps.inline_completion_provider
        assert caps.completion_provider is not None
        assert caps.workspace_symbol_provider
        assert caps.document_symbol_provider
        assert {"smallcode.status", "smallcode.reindex"} <= set(caps.execute_command_provider.commands)
        assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    finally:
        await stop_server(client)


async def _session(workspace, tmp_path, tiny_model_path, context_size=4096, **settings):
    options = {
        "model": {"path": str(tiny_model_path), "contextSize": context_size},
        "completion": {"debounceMs": 0, **settings},
    }
    client = await start_server(workspace, tmp_path / "cache", options)
    model = await wait_for_model(client)
    assert model["model"]["state"] == "ready", model
    return client


async def test_inline_completion_item_is_at_the_cursor(workspace, tmp_path, tiny_model_path):
    client = await _session(workspace, tmp_path, tiny_model_path, maxTokens=12, multiline="never")
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        result = await inline(client, doc, 5, 11)
        assert result.items, "the tiny model should always produce some text"
        item = result.items[0]
        assert item.range.start == types.Position(5, 11)
        assert item.insert_text.strip()
        assert "\n" not in item.insert_text  # multiline "never" keeps one line
        current = await status(client)
        assert current["requests"]["completion.served"] == 1
        assert current["lastCompletion"]["promptTokens"] > 0
        assert current["model"]["fimTemplate"] == "qwen"
        # Same position again: typed-through cache answers with the same text.
        again = await inline(client, doc, 5, 11)
        assert again.items[0].insert_text == item.insert_text
        assert (await status(client))["requests"]["completion.cacheHits"] == 1
    finally:
        await stop_server(client)


async def test_plain_completion_for_editors_without_ghost_text(workspace, tmp_path, tiny_model_path):
    # The menu waits as long as it takes here (a loaded machine passes the default wait): this test
    # is about the item's shape; deferral has its own tests.
    client = await _session(
        workspace, tmp_path, tiny_model_path, maxTokens=8, multiline="never", menuWaitMs=60000
    )
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        result = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(doc), types.Position(4, 14))
        )
        assert len(result.items) == 1
        edit = result.items[0].text_edit
        # The edit starts at the word being typed ("message" ends at column 11; "= " follows), so
        # a client filtering by the word before the cursor keeps the item.
        assert edit.range.end.line == 4 and edit.range.start.character <= 14
        assert edit.new_text
    finally:
        await stop_server(client)


async def test_cancel_request_stops_a_long_generation(workspace, tmp_path, tiny_model_path):
    client = await _session(
        workspace, tmp_path, tiny_model_path, context_size=32768, maxTokens=20000, multiline="always"
    )
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        msg_id = str(uuid.uuid4())
        pending = asyncio.ensure_future(inline(client, doc, 5, 11, msg_id=msg_id))
        await asyncio.sleep(1.0)
        assert not pending.done(), "a 20000-token generation cannot finish in one second"
        started = time.monotonic()
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        with pytest.raises(Exception):  # noqa: B017 - the error type comes from the JSON-RPC layer
            await asyncio.wait_for(pending, timeout=10)
        # The model thread must be free again: a short request right after answers promptly.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams({"smallcode": {"completion": {"maxTokens": 4}}})
        )
        await inline(client, doc, 4, 0)
        assert time.monotonic() - started < 5
        assert (await status(client))["requests"]["completion.cancelled"] >= 1
    finally:
        await stop_server(client)


async def test_newer_request_supersedes_older_one(workspace, tmp_path, tiny_model_path):
    client = await _session(
        workspace, tmp_path, tiny_model_path, context_size=32768, maxTokens=20000, multiline="always"
    )
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        first = asyncio.ensure_future(inline(client, doc, 5, 11))
        await asyncio.sleep(1.0)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams({"smallcode": {"completion": {"maxTokens": 4}}})
        )
        started = time.monotonic()
        second = await asyncio.wait_for(inline(client, doc, 4, 0), timeout=10)
        older = await asyncio.wait_for(first, timeout=10)
        assert not older.items  # superseded: stopped and answered with nothing
        assert time.monotonic() - started < 5
        assert second is not None
    finally:
        await stop_server(client)


async def test_definitions_from_other_files_reach_the_prompt(tmp_path, tiny_model_path):
    root = tmp_path / "shop"
    root.mkdir()
    (root / "records.py").write_text(
        "class InventoryRecord:\n    def __init__(self, sku, quantity):\n        self.sku = sku\n"
    )
    source = "from records import InventoryRecord\n\n\ndef restock(sku):\n    record = InventoryRecord(\n"
    (root / "app.py").write_text(source)
    client = await _session(root, tmp_path, tiny_model_path, maxTokens=4, multiline="never")
    try:
        await wait_for_index(client)
        doc = open_document(client, root / "app.py", source)
        await inline(client, doc, 4, 29)
        with_context = (await status(client))["lastCompletion"]
        assert with_context["contextSnippets"] >= 1
        # A pull-style client (VS Code) sends no values with didChangeConfiguration: the server must
        # ask with workspace/configuration.
        client.set_configuration({"context": {"retrieval": False}}, section="smallcode")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await wait_until(client, lambda s: s["settings"]["context.retrieval"] is False, timeout=10)
        await inline(client, doc, 3, 16)
        without = (await status(client))["lastCompletion"]
        assert without["contextSnippets"] == 0
        assert without["promptTokens"] < with_context["promptTokens"]
    finally:
        await stop_server(client)


async def test_a_slow_menu_answer_is_deferred_and_arrives_as_the_user_types(
    workspace, tmp_path, tiny_model_path
):
    # The menu may wait 1 ms: the generation (tens of ms) cannot make it, so the first answer is an
    # empty, incomplete list; the generation goes on into the cache, and the next request, typed
    # along the same line, gets it without a second generation.
    client = await _session(
        workspace, tmp_path, tiny_model_path, maxTokens=8, multiline="never", menuWaitMs=1
    )
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        position = types.Position(5, 11)
        first = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(doc), position)
        )
        assert first.is_incomplete and not first.items
        await wait_until(client, lambda s: s["requests"].get("completion.served", 0) == 1)
        again = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(doc), position)
        )
        current = await status(client)
        assert current["requests"]["completion.menuDeferred"] == 1
        assert current["requests"]["completion.cacheHits"] == 1
        assert current["requests"]["completion.served"] == 1  # one generation served both
        assert len(again.items) == 1 and again.items[0].text_edit.new_text.strip()
    finally:
        await stop_server(client)


async def test_typing_on_after_a_deferred_menu_answer_does_not_cancel_its_generation(
    workspace, tmp_path, tiny_model_path
):
    # A 500 ms debounce keeps the first generation running while the user types on: on a fast
    # machine the tiny model would otherwise finish before the second request arrives.
    client = await _session(
        workspace, tmp_path, tiny_model_path, maxTokens=8, multiline="never", menuWaitMs=1, debounceMs=500
    )
    try:
        doc = open_document(client, workspace / "app.py", SOURCE)
        first = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(doc), types.Position(5, 11))
        )
        assert not first.items
        typed = SOURCE.replace("    return \n", "    return m\n")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=2, uri=doc),
                [types.TextDocumentContentChangeWholeDocument(typed)],
            )
        )
        await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(doc), types.Position(5, 12))
        )
        current = await wait_until(client, lambda s: s["requests"].get("completion.served", 0) >= 1)
        # The second request waited on the first generation instead of cancelling it.
        assert current["requests"].get("completion.cancelled", 0) == 0
        assert current["requests"]["completion.menuDeferred"] == 2
    finally:
        await stop_server(client)
