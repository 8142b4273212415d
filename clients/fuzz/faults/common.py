"""Shared helpers of the fault builders: method names and the messages every builder needs."""

from __future__ import annotations

import json
from typing import Any

from clients.fuzz import content
from clients.fuzz.frames import Msg
from clients.fuzz.generator import Gen
from clients.fuzz.oracle import doc_key
from clients.fuzz.textmodel import TextModel

INLINE = "textDocument/inlineCompletion"
COMPLETION = "textDocument/completion"
DOC_SYMBOL = "textDocument/documentSymbol"
WS_SYMBOL = "workspace/symbol"
CODE_ACTION = "textDocument/codeAction"
EXECUTE = "workspace/executeCommand"
FIX = "smallcode.fix"
TESTS = "smallcode.generateTests"


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def status_body(g: Gen) -> dict[str, Any]:
    """A request no state can make wrong to send (its answer still depends on the state)."""
    params = {"command": "smallcode.status"}
    return {"jsonrpc": "2.0", "id": g.new_id(), "method": EXECUTE, "params": params}


def inline_params(g: Gen, uri: str, position: dict[str, int]) -> dict[str, Any]:
    return {**g.text_params(uri, position), "context": {"triggerKind": g.rng.choice([1, 2])}}


def query_requests(g: Gen, doc: TextModel, *, edge: bool = False) -> list[Msg]:
    """A completion and the document's symbols: what makes a document fault observable."""
    method = g.rng.choice([INLINE, COMPLETION])
    position = g.position_in(doc, edge=edge)
    params = inline_params(g, doc.uri, position) if method == INLINE else g.text_params(doc.uri, position)
    return [g.request(method, params), g.request(DOC_SYMBOL, {"textDocument": {"uri": doc.uri}})]


def open_msg(g: Gen, uri: str, language: str, text: str, version: int = 1) -> Msg:
    item = {"uri": uri, "languageId": language, "version": version, "text": text}
    return g.notify("textDocument/didOpen", {"textDocument": item})


def close_msg(g: Gen, uri: str) -> Msg:
    return g.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def change_msg(g: Gen, uri: str, version: int, changes: list[dict[str, Any]]) -> Msg:
    return g.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
    )


def lsp_range(start: dict[str, int], end: dict[str, int]) -> dict[str, Any]:
    return {"start": start, "end": end}


def valid_edits(g: Gen, doc: TextModel, count: int) -> list[dict[str, Any]]:
    """`count` changes, each valid against the text the previous ones leave."""
    scratch = TextModel(doc.uri, doc.language_id, doc.version, doc.text)
    encoding = g.sim.encoding
    changes = []
    for _ in range(count):
        start = g.position_in(scratch, edge=g.rng.random() < 0.3)
        end = dict(start)
        if g.rng.random() < 0.5:
            end = g.position_in(scratch)
            if (end["line"], end["character"]) < (start["line"], start["character"]):
                start, end = end, start
        change = {"range": lsp_range(start, end), "text": content.snippet(g.rng)}
        scratch.apply(change["range"], change["text"], encoding)
        changes.append(change)
    return changes


def doc_or_open(g: Gen) -> tuple[TextModel | None, list[Msg]]:
    doc = g.open_doc()
    if doc is not None:
        return doc, []
    uri = g.new_doc_uri()
    frames = [open_msg(g, uri, "python", content.document(g.rng, "python"))]
    return g.sim.docs.get(key_of(uri)), frames


def key_of(uri: str) -> str:
    """The model's key for a document URI."""
    return doc_key(uri)


def inside_uri(g: Gen) -> str:
    """A file inside the workspace (with a syntax error on line 4, for the fix command)."""
    return f"{g.world.root_uri}/calc.py"
