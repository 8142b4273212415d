"""Regressions for the bugs the fuzzer (`clients/fuzz/`) found, each reproduced over raw stdio.

Before the fixes each of these left a request unanswered (the editor waits forever), answered it
with Internal error, or served positions that do not match the client's text.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from clients.fuzz.driver import Driver

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, NOT_INITIALIZED = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32002,
)
CALC = "def add(a, b):\n    return a + b\n"
STATUS = (
    b'{"jsonrpc":"2.0","id":%d,"method":"workspace/executeCommand","params":{"command":"smallcode.status"}}'
)


def frame(body: bytes, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    return header % len(body) + body


class Server:
    """The real server over raw stdio: any bytes out, every answer matched by id."""

    def __init__(self, driver: Driver, root: Path) -> None:
        self.driver = driver
        self.root = root
        self.ids = 0
        self.model: Path | None = None  # the tiny GGUF (never the packaged default model)

    @classmethod
    async def start(cls, root: Path, tmp: Path, cwd: Path | None = None) -> Server:
        import os

        env = {**os.environ, "SMALLCODE_CACHE_DIR": str(tmp / "cache")}
        command = [sys.executable, "-m", "smallcode_lsp"]
        repo = Path(__file__).resolve().parents[1]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
        driver = await Driver.start(command, env, cwd or tmp, tmp / "stderr.log")
        return cls(driver, root)

    def uri(self, name: str) -> str:
        return f"{self.root.as_uri()}/{name}"

    async def write(self, data: bytes) -> None:
        await self.driver.write(data)

    async def send(self, message: Any) -> None:
        await self.write(frame(json.dumps(message).encode()))

    async def request(self, method: str, params: Any = None, timeout: float = 20.0, **extra: Any) -> dict:
        self.ids += 1
        message = {"jsonrpc": "2.0", "id": self.ids, "method": method, **extra}
        if params is not None:
            message["params"] = params
        future = self.driver.expect(message["id"])
        await self.send(message)
        return _strip(await _wait(future, timeout))

    async def answer_to(self, data: bytes, msg_id: Any, timeout: float = 20.0) -> dict:
        """Write raw bytes that carry a request with `msg_id`; its answer."""
        future = self.driver.expect(msg_id)
        await self.write(data)
        return _strip(await _wait(future, timeout))

    async def notify(self, method: str, params: Any) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def initialize(self, tiny_model: Path | None, encodings: list[str] | None = None) -> dict:
        options: dict[str, Any] = {"completion": {"debounceMs": 0, "maxTokens": 4, "menuWaitMs": 20000}}
        if tiny_model is not None:
            options["model"] = {"path": str(tiny_model)}
        capabilities = {"general": {"positionEncodings": encodings}} if encodings else {}
        params = {
            "processId": None,
            "rootUri": self.root.as_uri(),
            "capabilities": capabilities,
            "initializationOptions": options,
        }
        result = await self.request("initialize", params)
        await self.notify("initialized", {})
        return result

    async def open(self, name: str, text: str, language: str = "python") -> str:
        uri = name if ":" in name else self.uri(name)
        item = {"uri": uri, "languageId": language, "version": 1, "text": text}
        await self.notify("textDocument/didOpen", {"textDocument": item})
        return uri

    async def alive(self) -> None:
        """Answers a real request (and so read everything sent before it)."""
        response = await self.request("workspace/executeCommand", {"command": "smallcode.status"})
        assert response["result"]["version"], response

    async def stop(self) -> None:
        await self.driver.kill()


async def _wait(future: Any, timeout: float) -> dict:
    import asyncio

    return await asyncio.wait_for(future, timeout)


def _strip(response: dict) -> dict:
    response.pop("_received", None)
    return response


def code_of(response: dict) -> int | None:
    return response.get("error", {}).get("code")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    return root


@pytest.fixture
async def server(root: Path, tmp_path: Path, tiny_model_path: Path):
    server = await Server.start(root, tmp_path)
    server.model = tiny_model_path
    yield server
    await server.stop()


async def started(server: Server, **kw: Any) -> Server:
    await server.initialize(server.model, **kw)
    return server


# ----------------------------------------------------------------- framing


async def test_header_spellings_and_bom_are_read(server: Server) -> None:
    """A lowercase `content-length` used to leave pygls's reader misaligned for good."""
    await started(server)
    body = STATUS
    headers = [
        b"content-length: %d\r\n\r\n",
        b"Content-Length: %d\n\n",
        b"Content-Length:   %d  \r\n\r\n",
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
        b"\xef\xbb\xbfContent-Length: %d\r\n\r\n",
    ]
    for n, header in enumerate(headers, 100):
        response = await server.answer_to(frame(body % n, header), n)
        assert response["result"]["version"], header
    bom = b"\xef\xbb\xbf" + body % 200
    assert "result" in await server.answer_to(frame(bom), 200)


async def test_bodies_that_do_not_parse_get_parse_error_and_the_stream_goes_on(server: Server) -> None:
    """Invalid JSON, NaN, an empty or deeply nested body: -32700 with id null (pygls answered nothing)."""
    await started(server)
    for body in [
        b"{",
        b"not json",
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":NaN}',
        b"",
        b"[" * 100_000,
    ]:
        await server.write(frame(body))
    await server.alive()
    codes = [code_of(r) for r in server.driver.null_responses]
    assert codes == [PARSE_ERROR] * 5
    # Invalid UTF-8 inside a string: the id is still recovered, so the request is not left hanging.
    bad = b'{"jsonrpc":"2.0","id":77,"method":"workspace/symbol","params":{"query":"a\xff\xfeb"}}'
    assert code_of(await server.answer_to(frame(bad), 77)) == PARSE_ERROR


async def test_stream_resynchronises_after_a_broken_frame(server: Server) -> None:
    """Missing, non-numeric, too short and too long Content-Length: the next message still gets in."""
    await started(server)
    status = STATUS
    await server.write(b"Content-Type: text/plain\r\n\r\n" + status % 1000)  # no length at all
    assert "result" in await server.answer_to(frame(status % 1), 1)
    await server.write(b"Content-Length: abc\r\n\r\n" + status % 1001)
    assert "result" in await server.answer_to(frame(status % 2), 2)
    await server.write(b"Content-Length: 10\r\n\r\n" + status % 1002)  # truncated: a parse error
    assert "result" in await server.answer_to(frame(status % 3), 3)
    swallowed = frame(status % 1003)
    body = status % 1004
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) + 20) + body + swallowed)  # eats the next
    assert "result" in await server.answer_to(frame(status % 4), 4)
    assert [code_of(r) for r in server.driver.null_responses] == [PARSE_ERROR, PARSE_ERROR]


# ----------------------------------------------------------------- envelope and lifecycle


async def test_requests_before_initialize_get_server_not_initialized(server: Server) -> None:
    """They used to get Internal error (-32603); a didOpen before initialize must be dropped."""
    response = await server.request("workspace/executeCommand", {"command": "smallcode.status"})
    assert code_of(response) == NOT_INITIALIZED
    assert code_of(await server.request("shutdown")) == NOT_INITIALIZED
    early = await server.open("early.py", "def early():\n    pass\n")
    await started(server)
    position = {"line": 0, "character": 0}
    response = await server.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": early}, "position": position, "context": {"triggerKind": 1}},
    )
    assert code_of(response) == INVALID_PARAMS and "not open" in response["error"]["message"]


async def test_after_shutdown_and_a_second_initialize_requests_get_invalid_request(server: Server) -> None:
    """After shutdown pygls answered nothing at all; a second initialize re-created the workspace."""
    await started(server)
    doc = await server.open("a.py", CALC)
    again = await server.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert code_of(again) == INVALID_REQUEST
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}})
    assert [s["name"] for s in symbols["result"]] == ["add"]  # the document is still open
    assert (await server.request("shutdown"))["result"] is None
    for method, params in [("workspace/executeCommand", {"command": "smallcode.status"}), ("shutdown", None)]:
        assert code_of(await server.request(method, params)) == INVALID_REQUEST


async def test_envelope_errors_are_invalid_request(server: Server) -> None:
    """jsonrpc "1.0", a non-string method, an object id, a batch: -32600 instead of silence."""
    await started(server)
    status = {"command": "smallcode.status"}
    response = await server.answer_to(
        frame(
            json.dumps(
                {"jsonrpc": "1.0", "id": 5, "method": "workspace/executeCommand", "params": status}
            ).encode()
        ),
        5,
    )
    assert code_of(response) == INVALID_REQUEST
    response = await server.answer_to(frame(b'{"jsonrpc":"2.0","id":6,"method":42}'), 6)
    assert code_of(response) == INVALID_REQUEST
    for body in [
        {"jsonrpc": "2.0", "id": {"a": 1}, "method": "workspace/executeCommand", "params": status},
        {"jsonrpc": "2.0", "id": 1.5, "method": "workspace/executeCommand", "params": status},
        [],
        [{"jsonrpc": "2.0", "id": 9, "method": "shutdown"}],
    ]:
        await server.send(body)
    # Noise that must be ignored: responses nobody asked for, a cancel with an object id.
    await server.send({"jsonrpc": "2.0", "id": {"a": 1}, "result": None})
    await server.send({"jsonrpc": "2.0", "id": 424242, "error": "not an object"})
    await server.notify("$/cancelRequest", {"id": {}})
    await server.alive()  # the batch's shutdown was not run
    assert [code_of(r) for r in server.driver.null_responses] == [INVALID_REQUEST] * 4
    assert not server.driver.unexpected


async def test_unknown_methods_and_misused_notifications_get_method_not_found(server: Server) -> None:
    """An unknown method without params got Internal error; didOpen sent with an id got no answer."""
    await started(server)
    assert code_of(await server.request("fuzz/ping")) == METHOD_NOT_FOUND
    assert code_of(await server.request("textDocument/hover", {"bogus": True})) == METHOD_NOT_FOUND
    item = {"uri": server.uri("sneaky.py"), "languageId": "python", "version": 1, "text": CALC}
    response = await server.request("textDocument/didOpen", {"textDocument": item})
    assert code_of(response) == METHOD_NOT_FOUND
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": item["uri"]}})
    assert symbols["result"] == []  # not opened by the misdirected request
    response = await server.request(
        "textDocument/documentSymbol", {"textDocument": {"uri": 5, "x": []}, "y": 1}
    )
    assert code_of(response) == INVALID_PARAMS or response["result"] == []


# ----------------------------------------------------------------- documents


async def test_lone_surrogates_in_a_document_do_not_break_completion(server: Server) -> None:
    """JSON may carry "\\ud800"; completion and code actions raised UnicodeEncodeError (-32603)."""
    await started(server)
    doc = await server.open("s.py", "x = '\ud800'\ndef f():\n    return \udfff\n")
    for method, params in [
        (
            "textDocument/inlineCompletion",
            {"position": {"line": 2, "character": 11}, "context": {"triggerKind": 1}},
        ),
        ("textDocument/completion", {"position": {"line": 0, "character": 5}}),
        (
            "textDocument/codeAction",
            {
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                "context": {"diagnostics": []},
            },
        ),
    ]:
        response = await server.request(method, {"textDocument": {"uri": doc}, **params})
        assert "result" in response, response


async def test_percent_encodings_of_one_uri_name_one_document(server: Server) -> None:
    """`my%20doc.py` (as VS Code sends spaces) was "not open" to completion; `_`/`%5F` split in two."""
    await started(server)
    spaced = await server.open("my%20doc.py", CALC)
    position = {"line": 1, "character": 4}
    response = await server.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": spaced}, "position": position, "context": {"triggerKind": 1}},
    )
    assert "result" in response, response
    plain = await server.open("pct_doc.py", CALC)
    encoded = server.uri("pct%5Fdoc.py")
    change = {
        "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 7}},
        "text": "plus",
    }
    await server.notify(
        "textDocument/didChange", {"textDocument": {"uri": encoded, "version": 2}, "contentChanges": [change]}
    )
    for uri in (plain, encoded):
        symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        assert [s["name"] for s in symbols["result"]] == ["plus"]


async def test_lsp_line_breaks_and_utf16_columns(server: Server) -> None:
    """Lines end at \\r\\n, \\r and \\n only: symbols sat on the wrong lines after a lone CR, and pygls
    applied edits after a U+2028 or a form feed to the wrong line (its splitlines breaks there)."""
    await started(server)
    text = "x = 1\rdef alpha():\r    pass\r\ndef beta():\n    s = '\u2028\x0c'\ndef gamma():\n    pass\n"
    doc = await server.open("cr.py", text)
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}})
    where = {s["name"]: s["selectionRange"]["start"] for s in symbols["result"]}
    assert where == {
        "alpha": {"line": 1, "character": 4},
        "beta": {"line": 3, "character": 4},
        "gamma": {"line": 5, "character": 4},
    }
    # An edit on the line after the U+2028: "gamma" -> "delta" must land on "gamma".
    change = {
        "range": {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 9}},
        "text": "delta",
    }
    await server.notify(
        "textDocument/didChange", {"textDocument": {"uri": doc, "version": 2}, "contentChanges": [change]}
    )
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}})
    assert [s["name"] for s in symbols["result"]] == ["alpha", "beta", "delta"]
    # A position after a lone CR exists (line 2 is "    pass"); character 9 on it does not.
    completion = {"textDocument": {"uri": doc}, "position": {"line": 2, "character": 8}}
    assert "result" in await server.request("textDocument/completion", completion)
    completion["position"] = {"line": 2, "character": 9}
    assert code_of(await server.request("textDocument/completion", completion)) == INVALID_PARAMS


@pytest.mark.parametrize("encoding, column", [("utf-16", 25), ("utf-8", 27), ("utf-32", 24)])
async def test_symbol_columns_count_client_units(server: Server, encoding: str, column: int) -> None:
    """Symbol columns were code points: wrong after an emoji in UTF-16, after any non-ASCII in UTF-8."""
    await started(server, encodings=[encoding])
    doc = await server.open("e.js", "const s = '😀'; function f() {}\n", "javascript")
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}})
    selection = next(s["selectionRange"] for s in symbols["result"] if s["name"] == "f")
    assert selection == {
        "start": {"line": 0, "character": column},
        "end": {"line": 0, "character": column + 1},
    }


async def test_an_open_document_that_becomes_unparsable_has_no_stale_symbols(server: Server) -> None:
    """A buffer that turned binary kept serving the symbols of its last parsable version."""
    await started(server)
    doc = await server.open("b.py", CALC)
    symbols = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}})
    assert [s["name"] for s in symbols["result"]] == ["add"]
    change = {
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "text": "\x00\n\n",
    }
    await server.notify(
        "textDocument/didChange", {"textDocument": {"uri": doc, "version": 2}, "contentChanges": [change]}
    )
    assert (await server.request("textDocument/documentSymbol", {"textDocument": {"uri": doc}}))[
        "result"
    ] == []


# ----------------------------------------------------------------- commands and queries


async def test_commands_refuse_uris_that_name_no_workspace_file(
    root: Path, tmp_path: Path, tiny_model_path: Path
) -> None:
    """`untitled:calc.py` resolved against the server's working directory: inside the workspace
    when the editor starts the server there, so the fix ran code for a buffer with no file."""
    server = await Server.start(root, tmp_path, cwd=root)
    server.model = tiny_model_path
    try:
        await started(server)
        doc = await server.open("untitled:calc.py", "def broken(:\n    pass\n")
        for command, argument in [
            ("smallcode.fix", {"uri": doc, "position": {"line": 0, "character": 0}}),
            ("smallcode.generateTests", {"uri": doc}),
            (
                "smallcode.fix",
                {"uri": f"{root.as_uri()}/%2E%2E/outside.py", "position": {"line": 0, "character": 0}},
            ),
        ]:
            response = await server.request(
                "workspace/executeCommand", {"command": command, "arguments": [argument]}
            )
            assert code_of(response) == INVALID_PARAMS and "refusing" in response["error"]["message"], (
                response
            )
    finally:
        await server.stop()


async def test_workspace_symbol_queries_cannot_stall_the_server(
    root: Path, tmp_path: Path, tiny_model_path: Path
) -> None:
    """The fuzzy match compiled the query into a backtracking regex: a 20 MB query never finished,
    and a 9-letter one took seconds against a long repetitive name."""
    (root / "long.py").write_text(f"def {'a' * 40}():\n    pass\n")
    server = await Server.start(root, tmp_path)
    server.model = tiny_model_path
    try:
        await started(server)
        deadline = time.monotonic() + 30
        while True:  # wait for the index
            status = await server.request("workspace/executeCommand", {"command": "smallcode.status"})
            if status["result"]["index"]["state"] == "ready" or time.monotonic() > deadline:
                break
        started_at = time.monotonic()
        assert (await server.request("workspace/symbol", {"query": "a" * 12 + "b"}))["result"] == []
        assert (await server.request("workspace/symbol", {"query": "q" * 20_000_000}, timeout=60))[
            "result"
        ] == []
        assert time.monotonic() - started_at < 15
        found = await server.request("workspace/symbol", {"query": "aaaa"})
        assert any(s["name"] == "a" * 40 for s in found["result"])
    finally:
        await server.stop()
