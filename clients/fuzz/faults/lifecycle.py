"""Faults placed around the lifecycle: before `initialize`, a bad `initialize`, after `shutdown`."""

from __future__ import annotations

from typing import Any

from clients.fuzz.faults.common import (
    DOC_SYMBOL,
    EXECUTE,
    INLINE,
    WS_SYMBOL,
    inline_params,
    inside_uri,
    open_msg,
)
from clients.fuzz.frames import Action
from clients.fuzz.generator import ABSENT, Gen, initialize_params


def before_initialize(g: Gen) -> Action:
    rng = g.rng
    roll = rng.random()
    if roll < 0.5:
        method = rng.choice([EXECUTE, WS_SYMBOL, "shutdown", "fuzz/unknown", DOC_SYMBOL])
        params = {
            EXECUTE: {"command": "smallcode.status"},
            WS_SYMBOL: {"query": "a"},
            "shutdown": ABSENT,
        }.get(method, {"textDocument": {"uri": inside_uri(g)}})
        return Action("protocol", "protocol.before_initialize", [g.request(method, params)])
    if roll < 0.8:
        uri = f"{g.world.root_uri}/early_{rng.randrange(10**6)}.py"
        frames = [open_msg(g, uri, "python", "def early():\n    pass\n"), g.notify("initialized", {})]
        return Action("protocol", "protocol.before_initialize", frames)
    return Action("protocol", "protocol.before_initialize", [g.notify("$/cancelRequest", {"id": 1})])


def bad_initialize(g: Gen) -> Action:
    params: Any = initialize_params(g)
    variant = g.rng.choice(["process", "caps", "array", "absent"])
    if variant == "process":
        params["processId"] = "abc"
    elif variant == "caps":
        params["capabilities"] = 5
    elif variant == "array":
        params = []
    else:
        params = ABSENT
    return Action("protocol", "protocol.bad_initialize", [g.request("initialize", params)])


def after_shutdown(g: Gen) -> list[Action]:
    rng = g.rng
    actions = [Action("valid", "valid.shutdown", [g.request("shutdown", ABSENT)])]
    for _ in range(rng.randint(3, 8)):
        roll = rng.random()
        doc = g.open_doc()
        if roll < 0.3:
            frames = [g.request(EXECUTE, {"command": "smallcode.status"})]
        elif roll < 0.45 and doc is not None:
            frames = [g.request(INLINE, inline_params(g, doc.uri, {"line": 0, "character": 0}))]
        elif roll < 0.6:
            frames = [g.request("shutdown", ABSENT)]
        elif roll < 0.7:
            from clients.fuzz.generator import initialize_params

            frames = [g.request("initialize", initialize_params(g))]
        elif roll < 0.85:
            frames = [open_msg(g, g.new_doc_uri(), "python", "x = 1\n")]
        else:
            frames = [g.request("fuzz/unknown", {})]
        actions.append(Action("protocol", "protocol.after_shutdown", frames))
    return actions
