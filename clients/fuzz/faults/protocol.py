"""Protocol faults: JSON-RPC envelopes, LSP lifecycle, methods, params, ids of every JSON type."""

from __future__ import annotations

import copy
from typing import Any

from clients.fuzz.faults.common import (
    CODE_ACTION,
    COMPLETION,
    DOC_SYMBOL,
    EXECUTE,
    INLINE,
    WS_SYMBOL,
    inline_params,
    lsp_range,
    status_body,
)
from clients.fuzz.frames import Action, Msg, Raw, frame_bytes
from clients.fuzz.generator import ABSENT, Gen, initialize_params
from clients.fuzz.oracle import PARSE_ERROR

UNKNOWN_METHODS = [
    "fuzz/unknown",
    "$/unknownRequest",
    "",
    "textDocument/hover",
    "textDocument/definition",
    "workspace/willRenameFiles",
    "m" * 5000,
    "textDocument/inlineCompletion/",
    "TEXTDOCUMENT/COMPLETION",
    "initialize ",
    "😀",
    "smallcode.status",
]


def protocol_unknown_request(g: Gen) -> Action:
    params = g.rng.choice([{}, None, [1, 2], {"x": 1}, ABSENT])
    return Action("protocol", "protocol.unknown_request", [g.request(g.rng.choice(UNKNOWN_METHODS), params)])


def protocol_unknown_notification(g: Gen) -> Action:
    params = g.rng.choice([{}, None, [1, 2], ABSENT])
    return Action(
        "protocol", "protocol.unknown_notification", [g.notify(g.rng.choice(UNKNOWN_METHODS), params)]
    )


def _sample_params(g: Gen) -> tuple[str, dict[str, Any], bool]:
    """(method, valid params, is_request) of a method the server implements (never lifecycle)."""
    doc = g.open_doc()
    uri = doc.uri if doc is not None else f"{g.world.root_uri}/calc.py"
    position = g.position_in(doc) if doc is not None else {"line": 0, "character": 0}
    choices = [
        (INLINE, inline_params(g, uri, position), True),
        (COMPLETION, g.text_params(uri, position), True),
        (DOC_SYMBOL, {"textDocument": {"uri": uri}}, True),
        (WS_SYMBOL, {"query": "add"}, True),
        (
            CODE_ACTION,
            {
                "textDocument": {"uri": uri},
                "range": lsp_range(position, position),
                "context": {"diagnostics": []},
            },
            True,
        ),
        (EXECUTE, {"command": "smallcode.status", "arguments": []}, True),
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 99},
                "contentChanges": [{"range": lsp_range(position, position), "text": "z"}],
            },
            False,
        ),
        (
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": g.new_doc_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": "def f():\n    pass\n",
                }
            },
            False,
        ),
        ("textDocument/didClose", {"textDocument": {"uri": uri}}, False),
    ]
    return g.rng.choice(choices)


WRONG_VALUES = [None, True, 3.7, -1, "3", "text", [], [1], {}, {"a": 1}, 2**31, 10**30, "😀" * 10]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*prefix, key))
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.append((*prefix, index))
            out += _paths(item, (*prefix, index))
    return out


def _mutated(g: Gen, params: dict[str, Any], delete: bool) -> dict[str, Any]:
    params = copy.deepcopy(params)
    paths = _paths(params)
    if not paths:
        return params
    path = g.rng.choice(paths)
    parent: Any = params
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(g.rng.choice(WRONG_VALUES))
    return params


def protocol_wrong_param_types(g: Gen) -> Action:
    method, params, is_request = _sample_params(g)
    params = _mutated(g, params, delete=False)
    frame = g.request(method, params) if is_request else g.notify(method, params)
    return Action("protocol", "protocol.wrong_param_types", [frame])


def protocol_missing_fields(g: Gen) -> Action:
    method, params, is_request = _sample_params(g)
    if g.rng.random() < 0.6:
        params = _mutated(g, params, delete=True)
        frame = g.request(method, params) if is_request else g.notify(method, params)
        return Action("protocol", "protocol.missing_fields", [frame])
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": g.new_id(), "method": method, "params": params}
    del body[g.rng.choice(["jsonrpc", "method", "id", "params"])]
    return Action("protocol", "protocol.missing_fields", [g.track(Msg(body))])


def protocol_params_shape(g: Gen) -> Action:
    method, _, is_request = _sample_params(g)
    params = g.rng.choice([[], [1, 2], "string", 5, None, True])
    frame = g.request(method, params) if is_request else g.notify(method, params)
    return Action("protocol", "protocol.params_shape", [frame])


ID_VALUES = [
    0,
    -1,
    2**53,
    2**70,
    "",
    "x" * 1000,
    "😀",
    "1",
    1.5,
    2.0,
    True,
    False,
    None,
    {},
    {"a": 1},
    [],
    [1],
]


def protocol_id_types(g: Gen) -> Action:
    msg_id = copy.deepcopy(g.rng.choice(ID_VALUES))
    body = {"jsonrpc": "2.0", "id": msg_id, "method": EXECUTE, "params": {"command": "smallcode.status"}}
    return Action("protocol", "protocol.id_types", [g.track(Msg(body))])


def protocol_duplicate_ids(g: Gen) -> Action:
    msg_id = g.rng.choice([g.new_id(), 1, "r2"])
    params = {"command": "smallcode.status"}
    frames = [g.request(EXECUTE, params, msg_id), g.request(EXECUTE, params, msg_id)]
    return Action("protocol", "protocol.duplicate_ids", frames)


def protocol_bad_jsonrpc(g: Gen) -> Action:
    body = status_body(g)
    body["jsonrpc"] = g.rng.choice(["1.0", 2.0, None, "2.0 ", 2, "", {}])
    return Action("protocol", "protocol.bad_jsonrpc", [g.track(Msg(body))])


def protocol_bad_method_type(g: Gen) -> Action:
    body = status_body(g)
    body["method"] = g.rng.choice([42, None, [], {}, True])
    if g.rng.random() < 0.3:
        del body["id"]
    return Action("protocol", "protocol.bad_method_type", [g.track(Msg(body))])


def protocol_client_response(g: Gen) -> Action:
    body = g.rng.choice(
        [
            {"jsonrpc": "2.0", "id": "never-sent", "result": {"x": 1}},
            {"jsonrpc": "2.0", "id": 424242, "error": {"code": -32000, "message": "no"}},
            {"jsonrpc": "2.0", "id": 5, "error": "not an object"},
            {"jsonrpc": "2.0", "result": 1},
            {"jsonrpc": "2.0", "id": {"a": 1}, "result": None},
        ]
    )
    return Action("protocol", "protocol.client_response", [g.track(Msg(body))])


def protocol_cancel_unknown(g: Gen) -> Action:
    params = g.rng.choice([{"id": 999_999}, {"id": "nope"}, {"id": {}}, {}, None, {"id": None}])
    return Action("protocol", "protocol.cancel_unknown", [g.notify("$/cancelRequest", params)])


def protocol_notification_as_request(g: Gen) -> Action:
    method = g.rng.choice(
        ["textDocument/didOpen", "exit", "initialized", "textDocument/didClose", "$/cancelRequest"]
    )
    params: Any = {}
    if method == "textDocument/didOpen":
        params = {
            "textDocument": {"uri": g.new_doc_uri(), "languageId": "python", "version": 1, "text": "x = 1\n"}
        }
    return Action("protocol", "protocol.notification_as_request", [g.request(method, params)])


def protocol_request_as_notification(g: Gen) -> Action:
    method = g.rng.choice(["shutdown", COMPLETION, WS_SYMBOL, EXECUTE, "initialize"])
    params: Any = {"query": "a"} if method == WS_SYMBOL else ABSENT
    return Action("protocol", "protocol.request_as_notification", [g.notify(method, params)])


def protocol_second_initialize(g: Gen) -> Action:
    return Action("protocol", "protocol.second_initialize", [g.request("initialize", initialize_params(g))])


def protocol_initialized_twice(g: Gen) -> Action:
    return Action("protocol", "protocol.initialized_twice", [g.notify("initialized", {})])


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def protocol_settings_garbage(g: Gen) -> Action:
    settings = g.rng.choice(
        [
            {"smallcode": {"completion": {"maxTokens": "lots", "multiline": "sometimes"}}},
            {"smallcode": {"bogus": _nested(200), "completion": {"debounceMs": "x"}}},
            {"smallcode": None},
            {"smallcode": [1, 2]},
            {"smallcode": "string"},
            None,
            "settings",
            [1],
            {"smallcode": {"completion": _nested(50)}},
        ]
    )
    return Action(
        "protocol",
        "protocol.settings_garbage",
        [g.notify("workspace/didChangeConfiguration", {"settings": settings})],
    )


def protocol_deep_params(g: Gen) -> Action:
    """Valid JSON nested deeper than the parser allows (parse error), or just deep (processed)."""
    if g.rng.random() < 0.5:
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"workspace/symbol","params":{"query":"a","x":'
            + b"[" * 200_000
            + b"]" * 200_000
            + b"}}"
        )
        return Action("protocol", "protocol.deep_params", [Raw(frame_bytes(body), {PARSE_ERROR: 1})])
    return Action(
        "protocol", "protocol.deep_params", [g.request(WS_SYMBOL, {"query": "a", "extra": _nested(300)})]
    )
