"""JSON-RPC/LSP protocol that answers every request with a result or the right error code.

pygls leaves some requests unanswered (params that do not parse, anything after `shutdown`, a
notification method sent with an id) and answers others with Internal error (requests before
`initialize`), so an editor waits forever or shows a bogus crash. `dispatch` (called by
`stdio.serve` for each parsed message) checks, in this order:

1. the envelope: an object; with a `method`: `jsonrpc` "2.0", a string method, an integer or
   string id -> else InvalidRequest (-32600), with the id when it is valid, else id null. An
   object without a method is a response from the client when it has `result` or `error`
   (never answered), else -32600;
2. the lifecycle: before `initialize` a request gets ServerNotInitialized (-32002) and a
   notification is dropped (`exit` aside); a second `initialize` and any request after
   `shutdown` get -32600; a second `initialized` is dropped;
3. the method: a request nobody handles (including a notification method sent with an id) gets
   MethodNotFound (-32601); an unknown notification is dropped;
4. the params: what lsprotocol cannot structure gets InvalidParams (-32602) naming the problem.

Document changes are applied here too, by LSP's rules rather than pygls's (see
`index/documents.py`): lines end only at "\\r\\n", "\\r" and "\\n", positions are clamped, a
change to a document that is not open is ignored. Lone surrogates in document text become U+FFFD.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

import attrs
from cattrs.errors import ClassValidationError
from lsprotocol import types
from lsprotocol.types import ResponseErrorMessage
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
)
from pygls.protocol.language_server import lsp_method

from smallcode_lsp.index.documents import edit_offsets
from smallcode_lsp.server.positions import client_encoding

log = logging.getLogger(__name__)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar_text(text: str) -> str:
    """`text` with lone surrogates (JSON allows "\\ud800", UTF-8 cannot carry it) replaced by U+FFFD.

    One code point for one, one UTF-16 unit for one, three UTF-8 bytes for three: no position
    moves, and every service can encode the text.
    """
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


class _Answered:
    """Stands in for a message already answered with an error (or dropped)."""

    jsonrpc = "answered"


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_notification_method(method: str) -> bool:
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and "id" not in attrs.fields_dict(entry[0])


def _schema_problem(exc: BaseException) -> str:
    """A short account of why params did not structure (cattrs nests the real errors)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, ClassValidationError):
        leaves: list[str] = []

        def walk(group: BaseException, path: str) -> None:
            for sub in getattr(group, "exceptions", []):
                note = next((n for n in getattr(sub, "__notes__", []) if "@ attribute" in str(n)), "")
                field = str(note).rsplit("@ attribute", 1)[-1].strip() if note else ""
                where = f"{path}.{field}" if field else path
                if isinstance(sub, ClassValidationError):
                    walk(sub, where)
                else:
                    leaves.append(f"{where.lstrip('.') or 'params'}: {str(sub)[:120]}")

        walk(cause, "")
        if leaves:
            return "; ".join(leaves[:3])
    return str(cause)[:200] or type(cause).__name__


class SmallCodeProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialized_seen = False
        self._made_up_ids: set[str] = set()  # see _execute_handler

    # ----------------------------------------------------------------- entry points

    def send_parse_error(self, message: str, msg_id: Any = None) -> None:
        self._reply(msg_id, JsonRpcParseError(message))

    def dispatch(self, data: Any) -> None:
        """Check and handle one parsed message (see the module docstring for the order)."""
        if not isinstance(data, dict):
            kind = "a batch (LSP has none)" if isinstance(data, list) else f"a JSON {type(data).__name__}"
            self._reply(None, JsonRpcInvalidRequest(f"invalid request: {kind}, not a message object"))
            return
        msg_id = data.get("id") if _valid_id(data.get("id")) else None
        if "method" not in data:
            if "result" in data or "error" in data:
                self._response(data, msg_id)
            else:
                self._reply(msg_id, JsonRpcInvalidRequest("invalid request: no method, result or error"))
            return
        method = data["method"]
        problem = None
        if data.get("jsonrpc") != "2.0":
            problem = f'"jsonrpc" must be "2.0", not {data.get("jsonrpc")!r:.40}'
        elif not isinstance(method, str):
            problem = f"the method must be a string, not {type(method).__name__}"
        elif "id" in data and msg_id is None:
            problem = f"the id must be an integer or a string, not {type(data['id']).__name__}"
        if problem is not None:
            self._reply(msg_id, JsonRpcInvalidRequest(f"invalid request: {problem}"))
            return
        if "id" in data:
            self._request(data, method, msg_id)
        else:
            self._notification(data, method)

    def _request(self, data: dict[str, Any], method: str, msg_id: Any) -> None:
        if self._workspace is None and method != types.INITIALIZE:
            self._reply(msg_id, JsonRpcServerNotInitialized(f"{method}: the server is not initialized yet"))
        elif self._shutdown:
            self._reply(msg_id, JsonRpcInvalidRequest(f"{method}: the server is shutting down"))
        elif method == types.INITIALIZE and self._workspace is not None:
            self._reply(msg_id, JsonRpcInvalidRequest("initialize: the server is already initialized"))
        elif not self._handles(method) or _is_notification_method(method):
            self._reply(msg_id, JsonRpcMethodNotFound(f"unhandled method {method[:200]}"))
        else:
            self.handle_message(self.structure_message(data))

    def _notification(self, data: dict[str, Any], method: str) -> None:
        if method == types.EXIT:
            self.handle_message(self.structure_message(data))
            return
        if self._workspace is None or self._shutdown:
            log.info(
                "dropping %s: %s", method[:100], "not initialized" if not self._shutdown else "shut down"
            )
            return
        if method == types.INITIALIZED:
            if self._initialized_seen:
                log.warning("dropping a second initialized notification")
                return
            self._initialized_seen = True
        if method == types.CANCEL_REQUEST:
            params = data.get("params")
            if not (isinstance(params, dict) and _valid_id(params.get("id"))):
                log.warning("dropping $/cancelRequest without an integer or string id")
                return
        elif not self._handles(method) or not _is_notification_method(method):
            log.info("ignoring notification %s", method[:100])
            return
        self.handle_message(self.structure_message(data))

    def _response(self, data: dict[str, Any], msg_id: Any) -> None:
        """A client's answer to one of our requests; a malformed one is dropped, never answered."""
        if msg_id is None or data.get("jsonrpc") != "2.0":
            log.warning("dropping a response without a valid id or jsonrpc version")
            return
        try:
            if "error" in data:
                message = self._converter.structure(data, ResponseErrorMessage)
            else:
                response_type = self._result_types.pop(msg_id, None) or JsonRPCResponseMessage
                message = self._converter.structure(data, response_type)
        except Exception as exc:
            log.warning("dropping a malformed response to %r: %s", msg_id, _schema_problem(exc))
            return
        self.handle_message(message)

    def _handles(self, method: str) -> bool:
        return method in self.fm.builtin_features or method in self.fm.features

    def _reply(self, msg_id: Any, error: JsonRpcException) -> None:
        self._send_response(msg_id, None, error.to_response_error())

    # ----------------------------------------------------------------- pygls hooks

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            method = data.get("method")
            if not isinstance(method, str):
                return super().structure_message(data)
            # pygls's own version logs a traceback for every bad message: a client error, not ours.
            fallback = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            try:
                return self._converter.structure(data, self.get_message_type(method) or fallback)
            except Exception as exc:
                raise JsonRpcInvalidParams() from exc
        except JsonRpcException as exc:
            method = data.get("method")
            if "id" in data and isinstance(method, str):
                detail = _schema_problem(exc)
                error = JsonRpcInvalidParams(f"invalid params for {method[:100]}: {detail}")
                self._reply(data["id"] if _valid_id(data["id"]) else None, error)
            elif isinstance(method, str):
                log.warning("dropping malformed notification %s: %s", method[:100], _schema_problem(exc))
            else:
                log.warning("dropping a malformed response to %r", data.get("id"))
            return _Answered()

    def handle_message(self, message: Any) -> None:
        self._forget_finished()
        if isinstance(message, _Answered):
            return
        super().handle_message(message)

    def _forget_finished(self) -> None:
        """Drop the finished futures pygls filed under made-up ids. Done here, between messages:
        pygls iterates over its futures (shutdown cancels them), so a done-callback that removed
        entries would change the dict under that loop."""
        finished = [
            msg_id
            for msg_id in self._made_up_ids
            if (future := self._request_futures.get(msg_id)) is None or future.done()
        ]
        for msg_id in finished:
            self._made_up_ids.discard(msg_id)
            self._request_futures.pop(msg_id, None)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """A handler's JSON-RPC error (bad position, document not open...) is the client's mistake:
        answer it without the traceback and the error report pygls gives a server failure."""
        if future.done() and not future.cancelled() and isinstance(future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            error = future.exception()
            log.info("request %r answered with error %s", msg_id, error)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def pending_handlers(self) -> int:
        """Handlers pygls still tracks (running requests, unfinished steps): flat over a session."""
        return len(self._request_futures)

    def _execute_handler(
        self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None
    ) -> None:
        """pygls runs `workspace/executeCommand` as a generator that yields to the command's own
        coroutine under a fresh id, and `$/cancelRequest` cancels only the generator's future: link
        them, so a cancelled command (reindex, fix, tests) stops instead of running on."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        made_up_id = callback == self._check_handler_result or (
            getattr(callback, "func", None) == self._run_generator
        )
        if made_up_id and msg_id in self._request_futures:
            # A notification, or a step of a generator handler: pygls files its future under an id
            # it made up, which no response or `$/cancelRequest` ever removes: one entry per
            # keystroke for its own didChange (the soak's RSS growth). `_forget_finished` drops it.
            self._made_up_ids.add(msg_id)
        result_future = getattr(callback, "keywords", {}).get("result_future")
        inner = self._request_futures.get(msg_id)
        if result_future is not None and inner is not None and not inner.done():
            result_future.add_done_callback(lambda outer: outer.cancelled() and inner.cancel())

    # ----------------------------------------------------------------- documents

    def open_document(self, uri: str) -> Any:
        """The open document `uri` names (however it is percent-encoded), or None: never a file
        read from disk, which is what pygls's `get_text_document` falls back to."""
        return self.workspace.text_documents.get(unquote(uri))

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        params.text_document.text = _scalar_text(params.text_document.text)
        yield from super().lsp_text_document__did_open(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        """Apply the changes in order, each to the text the previous one left (LSP's rules)."""
        document = self.open_document(params.text_document.uri)
        if document is None:
            log.warning("didChange for %s, which is not open: ignored", params.text_document.uri[:200])
            return
        encoding = client_encoding(self)
        text = document.source
        for change in params.content_changes:
            change.text = _scalar_text(change.text)
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                start, end = edit_offsets(
                    text, r.start.line, r.start.character, r.end.line, r.end.character, encoding
                )
                text = text[:start] + change.text + text[end:]
            else:
                text = change.text
        document._source = text
        document.version = params.text_document.version
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None
