"""The oracle: what the server must answer to each message, worked out from a model of the session.

The model follows the session as the server must see it (lifecycle state, negotiated position
encoding, open documents) and, for every message sent, says which responses are right:

1. Envelope (JSON-RPC): a value that is not an object, or an object with a `method` whose `jsonrpc`
   is not "2.0", whose method is not a string or whose id is not an integer or a string, gets
   InvalidRequest (-32600), with its id when the id is valid, else null. An object without a method
   is a response from the client when it has `result` or `error` (never answered), else -32600.
2. Lifecycle (LSP): before `initialize` a request gets ServerNotInitialized (-32002) and a
   notification is dropped; a second `initialize` and any request after `shutdown` get -32600.
3. Unknown request methods get MethodNotFound (-32601); unknown notifications are ignored.
4. Params that lsprotocol cannot structure get InvalidParams (-32602) (lsprotocol coerces scalars,
   e.g. "3" -> 3; what it accepts the model accepts, with the same coercion).
5. Then each method's own contract (documents must be open, positions must exist, ...), checked
   against the model's text: a symbol's reported range must spell its name in the client's units.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from lsprotocol.converters import get_converter

from clients.fuzz.textmodel import TextModel

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

REQUESTS = {
    "initialize",
    "shutdown",
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "textDocument/documentSymbol",
    "workspace/symbol",
    "textDocument/codeAction",
    "workspace/executeCommand",
}
COMMANDS = {"smallcode.status", "smallcode.reindex", "smallcode.fix", "smallcode.generateTests"}
CHECKED_LANGUAGES = {"python", "javascript"}  # their symbol names are spelled in the source as reported
MAX_PARSED_CHARS = 1_000_000  # index.maxFileBytes: larger buffers are served without symbols

_CONVERTER = get_converter()
Check = Callable[[Any], "str | None"]


@dataclass
class Expect:
    """The acceptable answers to one request."""

    method: str
    errors: frozenset[int] = frozenset()
    result: bool = False
    check: Check | None = None  # returns what is wrong with a result, or None
    message_has: str | None = None  # an error must say this (refusals name their reason)
    timeout: float = 20.0
    on_result: Callable[[Any], None] | None = None

    def judge(self, response: dict[str, Any]) -> str | None:
        """What is wrong with `response`, or None when it is a right answer."""
        if "error" in response:
            error = response["error"] if isinstance(response["error"], dict) else {}
            code = error.get("code")
            if code not in self.errors:
                wanted = sorted(self.errors) or "a result"
                return f"error {code} ({str(error.get('message'))[:300]}), expected {wanted}"
            if self.message_has and self.message_has not in str(error.get("message")):
                return f"error message {str(error.get('message'))[:200]!r} lacks {self.message_has!r}"
            return None
        if "result" not in response:
            return "a response with neither result nor error"
        if not self.result:
            return f"a result, expected error {sorted(self.errors)}: {str(response['result'])[:200]}"
        if self.check is not None:
            problem = self.check(response["result"])
            if problem:
                return problem
        if self.on_result is not None:
            self.on_result(response["result"])
        return None


def error(method: str, *codes: int, message_has: str | None = None) -> Expect:
    return Expect(method, errors=frozenset(codes), message_has=message_has)


def valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def envelope(body: Any) -> tuple[str, Any]:
    """("request"|"notification"|"response"|"invalid", id to answer with)."""
    if not isinstance(body, dict):
        return "invalid", None
    has_id = "id" in body
    msg_id = body.get("id") if has_id and valid_id(body.get("id")) else None
    if "method" not in body:
        if "result" in body or "error" in body:
            return "response", None
        return "invalid", msg_id
    if body.get("jsonrpc") != "2.0" or not isinstance(body["method"], str):
        return "invalid", msg_id
    if has_id and not valid_id(body["id"]):
        return "invalid", None
    return ("request", body["id"]) if has_id else ("notification", None)


def structure(body: dict[str, Any]) -> Any | None:
    """The message as lsprotocol structures it (None: it does not fit the method's schema)."""
    entry = types.METHOD_TO_TYPES.get(body["method"])
    if entry is None:
        return body
    try:
        return _CONVERTER.structure(body, entry[0])
    except Exception:
        return None


def as_sent(body: Any) -> Any:
    """The value the server parses: JSON turns two adjacent lone surrogates ("\\ud800\\udfff") into
    one astral character, so the model must count what arrives, not what was generated."""
    dumped = json.dumps(body)
    return json.loads(dumped) if "\\ud" in dumped else body


def doc_key(uri: str) -> str:
    """Document identity, as the server's workspace keys it."""
    return unquote(uri)


# ----------------------------------------------------------------- result checks


def _is_position(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), int) for k in ("line", "character"))


def _is_range(value: Any) -> bool:
    return isinstance(value, dict) and _is_position(value.get("start")) and _is_position(value.get("end"))


def _check_list(result: Any) -> str | None:
    return None if isinstance(result, list) else f"expected a list, got {str(result)[:200]}"


def _check_code_actions(result: Any) -> str | None:
    if not isinstance(result, list):
        return f"expected a list of code actions, got {str(result)[:200]}"
    for action in result:
        if not isinstance(action, dict) or not isinstance(action.get("title"), str):
            return f"a code action without a title: {str(action)[:200]}"
    return None


def _check_workspace_symbols(result: Any) -> str | None:
    if not isinstance(result, list):
        return f"expected a list of symbols, got {str(result)[:200]}"
    for symbol in result:
        if not isinstance(symbol, dict) or not isinstance(symbol.get("name"), str):
            return f"a symbol without a name: {str(symbol)[:200]}"
        location = symbol.get("location")
        if not isinstance(location, dict) or not isinstance(location.get("uri"), str):
            return f"a symbol without a location: {str(symbol)[:200]}"
    return None


def _status_check(result: Any) -> str | None:
    if not isinstance(result, dict) or "version" not in result:
        return f"smallcode.status without a version: {str(result)[:200]}"
    return None


def _dict_check(result: Any) -> str | None:
    return None if isinstance(result, dict) else f"expected an object, got {str(result)[:200]}"


# ----------------------------------------------------------------- the session model


@dataclass
class SessionModel:
    """The session as the server must see it; `on_message` says what each message must get back."""

    state: str = "new"  # new | running | shutdown
    encoding: str = "utf-16"
    initialized_seen: bool = False
    docs: dict[str, TextModel] = field(default_factory=dict)

    def on_message(self, body: Any, hint: dict[str, Any] | None = None) -> tuple[Any, Expect] | None:
        """(id, expectation) for a message that must be answered; None when nothing may come back.

        An envelope error whose id is unknown is returned with id None (the answer has id null).
        """
        body = as_sent(body)
        kind, msg_id = envelope(body)
        if kind == "response":
            return None
        if kind == "invalid":
            return msg_id, error("invalid", INVALID_REQUEST)
        method = body["method"]
        if kind == "notification":
            self._notification(method, body)
            return None
        return msg_id, self._request(method, body, hint or {})

    # --- notifications ------------------------------------------------------------------------
    def _notification(self, method: str, body: dict[str, Any]) -> None:
        if self.state != "running":
            return
        if method == "initialized":
            self.initialized_seen = True
            return
        if method not in ("textDocument/didOpen", "textDocument/didChange", "textDocument/didClose"):
            return
        message = structure(body)
        if message is None:
            return
        params = message.params
        if method == "textDocument/didOpen":
            item = params.text_document
            self.docs[doc_key(item.uri)] = TextModel(item.uri, item.language_id, item.version, item.text)
        elif method == "textDocument/didClose":
            self.docs.pop(doc_key(params.text_document.uri), None)
        else:
            doc = self.docs.get(doc_key(params.text_document.uri))
            if doc is None:
                return
            for change in params.content_changes:
                rng = _CONVERTER.unstructure(change.range) if hasattr(change, "range") else None
                doc.apply(rng, change.text, self.encoding)
            doc.version = params.text_document.version

    # --- requests -------------------------------------------------------------------------------
    def _request(self, method: str, body: dict[str, Any], hint: dict[str, Any]) -> Expect:
        if self.state == "new" and method != "initialize":
            return error(method, NOT_INITIALIZED)
        if self.state == "shutdown":
            return error(method, INVALID_REQUEST)
        if self.state == "running" and method == "initialize":
            return error(method, INVALID_REQUEST)
        if method not in REQUESTS:
            return error(method, METHOD_NOT_FOUND)
        message = structure(body)
        if message is None:
            return error(method, INVALID_PARAMS)
        handler = getattr(self, "_" + method.replace("/", "_"))
        expect: Expect = handler(message.params if hasattr(message, "params") else None, hint)
        expect.timeout = hint.get("timeout", expect.timeout)
        if hint.get("cancellable"):  # a `$/cancelRequest` follows: RequestCancelled is right too
            expect.errors = expect.errors | {REQUEST_CANCELLED}
        return expect

    def _initialize(self, params: Any, hint: dict[str, Any]) -> Expect:
        self.state = "running"

        def negotiated(result: Any) -> None:
            capabilities = result.get("capabilities", {}) if isinstance(result, dict) else {}
            self.encoding = str(capabilities.get("positionEncoding") or "utf-16")

        def check(result: Any) -> str | None:
            if not isinstance(result, dict) or not isinstance(result.get("capabilities"), dict):
                return f"initialize without capabilities: {str(result)[:200]}"
            return None

        return Expect("initialize", result=True, check=check, on_result=negotiated, timeout=30.0)

    def _shutdown(self, params: Any, hint: dict[str, Any]) -> Expect:
        self.state = "shutdown"
        return Expect("shutdown", result=True, check=lambda r: None if r is None else f"shutdown gave {r!r}")

    def _position_expect(self, method: str, uri: str, position: types.Position) -> TextModel | Expect:
        doc = self.docs.get(doc_key(uri))
        if doc is None:
            return error(method, INVALID_PARAMS, message_has="not open")
        if not doc.valid(position.line, position.character, self.encoding):
            return error(method, INVALID_PARAMS)
        return doc

    def _cursor_expect(self, method: str, params: Any) -> tuple[int, int, int] | Expect:
        """(line, the cursor's column rounded to a character boundary, the line's length) in the
        negotiated encoding, or the error a bad position must get."""
        doc = self._position_expect(method, params.text_document.uri, params.position)
        if isinstance(doc, Expect):
            return doc
        line = params.position.line
        want = doc.rounded(line, params.position.character, self.encoding)
        return line, want, doc.line_units(line, self.encoding)

    def _textDocument_inlineCompletion(self, params: Any, hint: dict[str, Any]) -> Expect:
        method = "textDocument/inlineCompletion"
        cursor = self._cursor_expect(method, params)
        if isinstance(cursor, Expect):
            return cursor
        line, want, limit = cursor

        def check(result: Any) -> str | None:
            if not isinstance(result, dict) or not isinstance(result.get("items"), list):
                return f"expected an InlineCompletionList, got {str(result)[:200]}"
            for item in result["items"]:
                if not isinstance(item, dict) or not isinstance(item.get("insertText"), str):
                    return f"an inline item without insertText: {str(item)[:200]}"
                rng = item.get("range")
                if rng is None:
                    continue
                if not _is_range(rng):
                    return f"a malformed range {rng}"
                start, end = rng["start"], rng["end"]
                if (start["line"], start["character"]) != (line, want):
                    return f"item starts at {start}, the cursor is {line}:{want} ({self.encoding})"
                if end["line"] != line or not want <= end["character"] <= limit:
                    return f"item ends at {end}, outside {line}:{want}..{limit}"
            return None

        return Expect(method, result=True, check=check, timeout=30.0)

    def _textDocument_completion(self, params: Any, hint: dict[str, Any]) -> Expect:
        method = "textDocument/completion"
        cursor = self._cursor_expect(method, params)
        if isinstance(cursor, Expect):
            return cursor
        line, want, limit = cursor

        def check(result: Any) -> str | None:
            if isinstance(result, list):
                result = {"items": result}
            if not isinstance(result, dict) or not isinstance(result.get("items"), list):
                return f"expected a CompletionList, got {str(result)[:200]}"
            for item in result["items"]:
                edit = item.get("textEdit") if isinstance(item, dict) else None
                if edit is None:
                    continue
                rng = edit.get("range")
                if not _is_range(rng):
                    return f"a malformed textEdit range {edit}"
                start, end = rng["start"], rng["end"]
                if start["line"] != line or end["line"] != line:
                    return f"textEdit {rng} is not on line {line}"
                if not start["character"] <= want <= end["character"] <= limit:
                    return f"textEdit {rng} does not cover the cursor {line}:{want} (line has {limit})"
            return None

        return Expect(method, result=True, check=check, timeout=30.0)

    def _textDocument_documentSymbol(self, params: Any, hint: dict[str, Any]) -> Expect:
        current = self.docs.get(doc_key(params.text_document.uri))
        # The answer is judged after the action's later frames: judge it against this version.
        doc = TextModel(current.uri, current.language_id, current.version, current.text) if current else None
        encoding = self.encoding

        def check(result: Any) -> str | None:
            if not isinstance(result, list):
                return f"expected a list of symbols, got {str(result)[:200]}"
            if doc is None:
                return None
            checked = doc.language_id in CHECKED_LANGUAGES or doc.uri.endswith((".py", ".js"))
            return _check_symbols(result, doc, encoding, checked)

        return Expect("textDocument/documentSymbol", result=True, check=check)

    def _workspace_symbol(self, params: Any, hint: dict[str, Any]) -> Expect:
        timeout = 60.0 if len(params.query) > 100_000 else 20.0
        return Expect("workspace/symbol", result=True, check=_check_workspace_symbols, timeout=timeout)

    def _textDocument_codeAction(self, params: Any, hint: dict[str, Any]) -> Expect:
        return Expect("textDocument/codeAction", result=True, check=_check_code_actions)

    def _workspace_executeCommand(self, params: Any, hint: dict[str, Any]) -> Expect:
        method = "workspace/executeCommand"
        command = params.command
        if command not in COMMANDS:
            return error(method, INVALID_PARAMS)
        if command == "smallcode.status":
            return Expect(method, result=True, check=_status_check)
        if command == "smallcode.reindex":
            return Expect(method, result=True, check=_dict_check, timeout=60.0)
        expected = hint.get("expect", "run")
        if expected == "refuse":  # names a file outside the workspace roots
            return error(method, INVALID_PARAMS, message_has="refusing to run code")
        if expected == "invalid":
            return error(method, INVALID_PARAMS)
        # A real run: the model and the sandbox; "not open", "past the end" and "nothing to test"
        # are InvalidParams too.
        return Expect(
            method, result=True, errors=frozenset({INVALID_PARAMS}), check=_dict_check, timeout=180.0
        )


def _check_symbols(symbols: list[Any], doc: TextModel, encoding: str, spelled: bool) -> str | None:
    """Every symbol's selection range lies in the document and (for `spelled`) spells its name."""
    for symbol in symbols:
        if not isinstance(symbol, dict) or not isinstance(symbol.get("name"), str):
            return f"a symbol without a name: {str(symbol)[:200]}"
        selection = symbol.get("selectionRange")
        if not _is_range(selection) or not _is_range(symbol.get("range")):
            return f"a symbol without ranges: {str(symbol)[:200]}"
        start, end = selection["start"], selection["end"]
        if not doc.valid(start["line"], start["character"], encoding):
            return f"{symbol['name']!r} starts at {start}, outside the document"
        if spelled:
            if start["line"] != end["line"] or not doc.valid(end["line"], end["character"], encoding):
                return f"{symbol['name']!r} has selection {selection}, not within one line"
            spelled_as = doc.units_slice(start["line"], start["character"], end["character"], encoding)
            if spelled_as != symbol["name"]:
                line = doc.line(start["line"])
                return (
                    f"symbol {symbol['name']!r} at {start['line']}:{start['character']}-{end['character']} "
                    f"({encoding}) spells {spelled_as!r}; line is {line[:120]!r}"
                )
        children = symbol.get("children") or []
        problem = _check_symbols(children, doc, encoding, spelled)
        if problem:
            return problem
    return None
