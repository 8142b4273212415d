"""The LSP fuzzer in CI: a short fixed-seed run passes, the oracle is not vacuous, and the minimizer
finds the core of a failure. The long run is `python -m clients.fuzz.run --messages 10000`."""

from __future__ import annotations

import time
from pathlib import Path

from clients.fuzz import faults
from clients.fuzz.frames import actions_from_json, actions_to_json, encode
from clients.fuzz.generator import plan_run
from clients.fuzz.minimize import ddmin
from clients.fuzz.oracle import INVALID_PARAMS, NOT_INITIALIZED, SessionModel
from clients.fuzz.run import fuzz
from clients.fuzz.workspace import World

SEED = 7
MESSAGES = 250  # two sessions; enough for every fault class to come up once


async def test_short_fixed_seed_run_has_no_crash_hang_or_wrong_answer(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    started = time.monotonic()
    report = await fuzz(MESSAGES, SEED, tmp_path / "fuzz", tiny_model_path, minimize=False)
    assert report["crashes"] == 0, report["firstViolations"]
    assert report["hangs"] == 0, report["firstViolations"]
    assert report["violations"] == 0, report["firstViolations"]
    assert report["health"]["ok"], report["health"]
    assert report["messagesSent"] >= MESSAGES
    assert report["requests"] == report["answered"]
    assert set(faults.FAULTS) <= set(report["actionsByKind"]), "every fault class is sent and judged"
    assert time.monotonic() - started < 120


def test_runs_are_reproducible(tmp_path: Path) -> None:
    world = World(tmp_path, tmp_path / "model.gguf")
    first, second = plan_run(SEED, MESSAGES, world), plan_run(SEED, MESSAGES, world)
    as_bytes = [[encode(f) for a in s.actions for f in a.frames] for s in first]
    assert as_bytes == [[encode(f) for a in s.actions for f in a.frames] for s in second]
    assert plan_run(SEED + 1, MESSAGES, world)[0].actions != first[0].actions


def _status(msg_id: int) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": "smallcode.status"},
    }


def test_oracle_rejects_wrong_answers() -> None:
    """The checks bite: wrong codes and symbols that do not spell their names at their range."""
    model = SessionModel()
    msg_id, expect = model.on_message(_status(1))
    assert expect.judge({"id": 1, "error": {"code": -32603, "message": "boom"}})  # before initialize
    assert not expect.judge({"id": 1, "error": {"code": NOT_INITIALIZED, "message": "not yet"}})
    model.on_message({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"capabilities": {}}})
    uri = "file:///ws/a.py"
    text = "x = '😀'\r\ndef f():\r    pass\n"
    open_params = {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
    model.on_message({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": open_params})
    _, symbols = model.on_message(
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "textDocument/documentSymbol",
            "params": {"textDocument": {"uri": uri}},
        }
    )

    def symbol(line: int, start: int, end: int) -> list[dict]:
        rng = {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}
        return [{"name": "f", "kind": 12, "range": rng, "selectionRange": rng}]

    assert not symbols.judge({"id": 3, "result": symbol(1, 4, 5)})
    assert symbols.judge({"id": 3, "result": symbol(0, 4, 5)})  # wrong line
    inline = {
        "textDocument": {"uri": uri},
        "position": {"line": 0, "character": 6},
        "context": {"triggerKind": 1},
    }
    _, completion = model.on_message(
        {"jsonrpc": "2.0", "id": 4, "method": "textDocument/inlineCompletion", "params": inline}
    )
    at = {"line": 0, "character": 7}  # character 6 is inside the emoji's surrogate pair: rounds up
    assert not completion.judge(
        {"id": 4, "result": {"items": [{"insertText": "x", "range": {"start": at, "end": at}}]}}
    )
    assert completion.judge(
        {
            "id": 4,
            "result": {
                "items": [{"insertText": "x", "range": {"start": {"line": 0, "character": 6}, "end": at}}]
            },
        }
    )
    inline["position"] = {"line": 0, "character": 9}
    _, past = model.on_message(
        {"jsonrpc": "2.0", "id": 5, "method": "textDocument/inlineCompletion", "params": inline}
    )
    assert past.errors == {INVALID_PARAMS} and not past.result


async def test_minimizer_finds_the_core_of_a_failing_sequence(tmp_path: Path) -> None:
    """ddmin over real generated actions with an injected oracle: the failure needs `initialize`
    and, after it, a frame whose Content-Length swallows the next one; nothing else."""
    actions = plan_run(SEED, MESSAGES, World(tmp_path, tmp_path / "model.gguf"))[0].actions
    replays = 0

    def fails(candidate: list) -> bool:
        nonlocal replays
        replays += 1
        kinds = [a.kind for a in candidate]
        return (
            "valid.initialize" in kinds
            and "framing.long_length" in kinds
            and kinds.index("valid.initialize") < kinds.index("framing.long_length")
        )

    assert fails(actions)
    minimal = await ddmin(actions, fails)
    assert [a.kind for a in minimal] == ["valid.initialize", "framing.long_length"]
    assert replays < 100
    # What the CLI saves for a minimized case replays to the same bytes.
    again = actions_from_json(actions_to_json(minimal))
    assert [encode(f) for a in again for f in a.frames] == [encode(f) for a in minimal for f in a.frames]


async def test_minimizer_on_plain_sequences() -> None:
    items = list(range(300))

    async def fails(candidate: list[int]) -> bool:  # an async predicate, as a server replay is
        return {17, 123, 250} <= set(candidate)

    assert await ddmin(items, fails) == [17, 123, 250]
    assert await ddmin(items, lambda c: True) == []
