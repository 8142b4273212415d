"""End-to-end: the tree-sitter index behind workspace/symbol and documentSymbol, kept live."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lsprotocol import types

from tests.server_harness import open_document, start_server, status, stop_server, wait_for_index


async def _symbols(client, query: str) -> list[types.WorkspaceSymbol]:
    return await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query)) or []


async def _wait_for_symbol(client, name: str, present: bool, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = {s.name for s in await _symbols(client, name)}
        if (name in names) == present:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} {'never appeared' if present else 'never went away'}")


async def test_workspace_symbols_in_all_languages(workspace, tmp_path, tiny_model_path):
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        state = await wait_for_index(client)
        assert state["index"]["state"] == "ready"
        files = {p.suffix for p in workspace.rglob("*") if p.is_file()}
        assert {".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".cpp"} <= files
        found = await _symbols(client, "")
        found_suffixes = {Path(s.location.uri).suffix for s in found}
        assert {".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".cpp"} <= found_suffixes
        assert state["index"]["files"] >= 8 and state["index"]["chunks"] >= 16
        # Progress was reported to a client that supports it.
        kinds = [type(v).__name__ for values in client.progress_reports.values() for v in values]
        assert "WorkDoneProgressBegin" in kinds and "WorkDoneProgressEnd" in kinds
    finally:
        await stop_server(client)


async def test_document_symbols_nest_methods_under_classes(workspace, tmp_path, tiny_model_path):
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        source = "class Shelf:\n    def add(self, book):\n        pass\n\n\ndef helper():\n    return 1\n"
        doc = open_document(client, workspace / "shelf.py", source)
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(doc))
        )
        by_name = {s.name: s for s in symbols}
        assert set(by_name) == {"Shelf", "helper"}
        assert [c.name for c in by_name["Shelf"].children] == ["add"]
        assert by_name["Shelf"].kind == types.SymbolKind.Class
        assert by_name["helper"].selection_range.start == types.Position(5, 4)
        # didChange updates the symbols incrementally.
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                [
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(5, 4), types.Position(5, 10)), text="assist"
                    )
                ],
            )
        )
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(doc))
        )
        assert {s.name for s in symbols} == {"Shelf", "assist"}
        await wait_for_index(client)
        await _wait_for_symbol(client, "assist", present=True)
    finally:
        await stop_server(client)


async def test_files_changed_outside_the_editor_update_the_index(workspace, tmp_path, tiny_model_path):
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        await wait_for_index(client)
        await asyncio.sleep(0.5)  # let the watcher start
        new_file = workspace / "added_later.py"
        new_file.write_text("def brand_new_function():\n    return 42\n")
        await _wait_for_symbol(client, "brand_new_function", present=True)
        new_file.write_text("def renamed_function():\n    return 42\n")
        await _wait_for_symbol(client, "renamed_function", present=True)
        await _wait_for_symbol(client, "brand_new_function", present=False)
        new_file.unlink()
        await _wait_for_symbol(client, "renamed_function", present=False)
    finally:
        await stop_server(client)


async def test_restart_reuses_the_persisted_index(workspace, tmp_path, tiny_model_path):
    options = {"model": {"path": str(tiny_model_path)}}
    client = await start_server(workspace, tmp_path / "cache", options)
    try:
        first = (await wait_for_index(client))["index"]["lastBuild"]
    finally:
        await stop_server(client)
    client = await start_server(workspace, tmp_path / "cache", options)
    try:
        second = (await wait_for_index(client))["index"]["lastBuild"]
        assert second["files"] == first["files"] > 0
        assert second["reusedFiles"] == second["files"] and second["parsedFiles"] == 0
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="smallcode.reindex", arguments=[])
        )
        assert result["files"] == first["files"]
        assert (await status(client))["index"]["state"] == "ready"
    finally:
        await stop_server(client)


async def test_large_workspace_is_indexed_by_worker_processes(tmp_path, tiny_model_path):
    """Enough files to take the multi-process parse path inside the real server process."""
    root = tmp_path / "big"
    for i in range(240):
        package = root / f"pkg{i % 12}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod{i}.py").write_text(f"class Model{i}:\n    def save_{i}(self):\n        return {i}\n")
    client = await start_server(root, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        state = await wait_for_index(client, timeout=120)
        assert state["index"]["state"] == "ready", state["index"]
        assert state["index"]["files"] == 240 and state["index"]["chunks"] == 480
        names = {s.name for s in await _symbols(client, "save_239")}
        assert "save_239" in names
    finally:
        await stop_server(client)


async def test_a_long_typing_session_leaves_no_handler_state_behind(workspace, tmp_path, tiny_model_path):
    """Every keystroke is a didChange notification; none may leave bookkeeping behind (pygls kept
    one future per notification, the soak's RSS growth)."""
    client = await start_server(workspace, tmp_path / "cache", {"model": {"path": str(tiny_model_path)}})
    try:
        doc = open_document(client, workspace / "typing.py", "def typed():\n    x = 0\n")
        before = (await status(client))["pendingHandlers"]
        for version in range(2, 302):
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=doc, version=version),
                    [
                        types.TextDocumentContentChangePartial(
                            range=types.Range(types.Position(1, 9), types.Position(1, 9)), text="1"
                        )
                    ],
                )
            )
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(doc))
        )
        assert [s.name for s in symbols] == ["typed"]
        after = (await status(client))["pendingHandlers"]
        # Whatever was still running at the start (the index build...) may be gone; nothing was added.
        assert after <= max(before, 2), (before, after)
    finally:
        await stop_server(client)
