"""Hostile and broken input: the server answers every request and never dies."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.server_harness import (
    inline,
    open_document,
    send_raw_request,
    start_server,
    status,
    stop_server,
    uri,
    wait_for_messages,
    wait_for_model,
)

SOURCE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(SOURCE)
    return root


async def _alive(client) -> None:
    """The server still answers a real request."""
    assert (await status(client))["version"]


@pytest.fixture
async def client(workspace, tmp_path, tiny_model_path):
    options = {"model": {"path": str(tiny_model_path)}, "completion": {"debounceMs": 0, "maxTokens": 6}}
    client = await start_server(workspace, tmp_path / "cache", options)
    await wait_for_model(client)
    yield client
    await stop_server(client)


async def test_position_past_the_end_is_a_clear_error(client, workspace):
    doc = open_document(client, workspace / "calc.py", SOURCE)
    with pytest.raises(JsonRpcException, match="outside the document"):
        await inline(client, doc, 99, 0)
    with pytest.raises(JsonRpcException, match="past the end of its line"):
        await inline(client, doc, 0, 500)
    await _alive(client)


async def test_unknown_uri_is_a_clear_error(client, workspace):
    with pytest.raises(JsonRpcException, match="not open"):
        await inline(client, uri(workspace / "nowhere.py"), 0, 0)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri(workspace / "nowhere.py")))
    )
    assert symbols == []
    await _alive(client)


async def test_params_that_do_not_parse_get_an_error_response(client):
    with pytest.raises(JsonRpcException, match="invalid params"):
        await send_raw_request(
            client, types.TEXT_DOCUMENT_INLINE_COMPLETION, {"textDocument": 42, "position": "top"}
        )
    with pytest.raises(JsonRpcException, match="invalid params"):
        await send_raw_request(client, types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, None)
    with pytest.raises(JsonRpcException):
        await send_raw_request(client, "smallcode/noSuchMethod", {})
    await _alive(client)


async def test_binary_huge_and_unknown_language_documents(client, workspace):
    binary = open_document(client, workspace / "blob.py", "\x00\x01\x02 binary \x00" * 100)
    result = await inline(client, binary, 0, 3)
    assert isinstance(result, types.InlineCompletionList)
    huge_text = ("x = 1  # filler line\n" * 250_000)[:5_000_000]
    huge = open_document(client, workspace / "huge.py", huge_text)
    result = await inline(client, huge, 200_000, 5)
    assert isinstance(result, types.InlineCompletionList)
    assert (
        await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(huge))
        )
        == []
    )
    odd = open_document(client, workspace / "notes.weird", "some text in no known language\n", "weird")
    result = await inline(client, odd, 0, 4)
    assert isinstance(result, types.InlineCompletionList)
    assert (
        await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(odd))
        )
        == []
    )
    await _alive(client)


async def test_invalid_settings_are_reported_and_ignored(client):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            {"smallcode": {"completion": {"maxTokens": "lots", "multiline": "sometimes"}, "bogus": 1}}
        )
    )
    current = await status(client)
    assert current["settings"]["completion.maxTokens"] == 6
    assert current["settings"]["completion.multiline"] == "auto"
    await wait_for_messages(client, lambda m: "bogus" in m.message)
    texts = " ".join(m.message for m in client.messages)
    assert "completion.maxTokens" in texts and "completion.multiline" in texts and "bogus" in texts


@pytest.mark.parametrize("problem", ["missing", "corrupt", "truncated"])
async def test_bad_model_file_keeps_symbols_working(problem, workspace, tmp_path, tiny_model_path):
    bad = tmp_path / "bad.gguf"
    if problem == "corrupt":
        bad.write_bytes(b"definitely not a gguf file" * 100)
    elif problem == "truncated":
        bad.write_bytes(tiny_model_path.read_bytes()[:4096])
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(bad)}})
    try:
        state = await wait_for_model(client)
        assert state["model"]["state"] == "error"
        errors = await wait_for_messages(client, lambda m: m.type == types.MessageType.Error)
        assert "model not loaded" in errors[0].message
        doc = open_document(client, workspace / "calc.py", SOURCE)
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(doc))
        )
        assert [s.name for s in symbols] == ["add"]
        result = await inline(client, doc, 1, 4)
        assert not result.items
        await _alive(client)
    finally:
        await stop_server(client)
