"""Command faults: `workspace/executeCommand` with missing, wrong or hostile arguments.

Hints tell the oracle what the arguments provoke: "refuse" (a file outside the workspace roots, or
no file at all), "invalid" (arguments that do not parse), "run" (a real run of the model and sandbox)."""

from __future__ import annotations

from typing import Any

from clients.fuzz.faults.common import (
    EXECUTE,
    FIX,
    TESTS,
    inside_uri,
    key_of,
    lsp_range,
    open_msg,
)
from clients.fuzz.frames import Action
from clients.fuzz.generator import ABSENT, Gen
from clients.fuzz.workspace import FILES


def _outside_uris(g: Gen) -> list[str]:
    root = g.world.root_uri
    return [
        g.world.secret.as_uri(),
        "file:///etc/passwd",
        f"{root}/../outside/secret.py",
        f"{root}/sub/../../outside/secret.py",
        f"{root}/%2E%2E/outside/secret.py",
        f"{root}/link.py",
        "http://example.com/calc.py",
        "untitled:calc.py",
        "file:///",
        "file://otherhost/share/calc.py",
        "file:///" + "a" * 100_000 + ".py",
    ]


def _command(g: Gen, command: str, arguments: Any, expect: str, kind: str) -> Action:
    params: dict[str, Any] = {"command": command}
    if arguments is not ABSENT:
        params["arguments"] = arguments
    return Action("command", kind, [g.request(EXECUTE, params, hint={"expect": expect})])


def command_missing_args(g: Gen) -> Action:
    return _command(
        g,
        g.rng.choice([FIX, TESTS]),
        g.rng.choice([ABSENT, [], None, [None], [[]]]),
        "invalid",
        "command.missing_args",
    )


def command_wrong_args(g: Gen) -> Action:
    uri = inside_uri(g)
    if g.rng.random() < 0.5:
        args = g.rng.choice(
            [
                [42],
                [{"uri": 5}],
                [{"uri": uri}],
                [{"uri": uri, "diagnostic": {"message": "x"}}],
                [{"uri": uri, "diagnostic": {"message": "m", "range": {"start": {"line": "abc"}}}}],
                [{"uri": uri, "position": {"line": "3"}}],
                ["just-a-string"],
                [{"uri": uri, "diagnostic": {"message": "m", "range": {"start": {"line": 10**30}}}}],
                [{"uri": uri, "diagnostic": "not a diagnostic", "position": None}],
            ]
        )
        return _command(g, FIX, args, "invalid", "command.wrong_args")
    args = g.rng.choice(
        [
            [42],
            [{"uri": 5}],
            [{"uri": uri, "position": {"line": -1}}],
            [{"uri": uri, "position": {"line": "3"}}],
            [{"uri": uri, "name": 5}],
            [{"no": "uri"}],
            [[42]],
        ]
    )
    return _command(g, TESTS, args, "invalid", "command.wrong_args")


def command_outside_fix(g: Gen) -> Action:
    uri = g.rng.choice(_outside_uris(g))
    frames = []
    if g.rng.random() < 0.4:
        frames.append(open_msg(g, uri, "python", "def leak(:\n    return 1\n"))
    arg = g.rng.choice(
        [
            {"uri": uri, "position": {"line": 0, "character": 0}},
            {
                "uri": uri,
                "diagnostic": {
                    "message": "SyntaxError",
                    "range": lsp_range({"line": 0, "character": 0}, {"line": 0, "character": 1}),
                },
            },
        ]
    )
    frames.append(g.request(EXECUTE, {"command": FIX, "arguments": [arg]}, hint={"expect": "refuse"}))
    return Action("command", "command.outside_fix", frames)


def command_outside_tests(g: Gen) -> Action:
    uri = g.rng.choice(_outside_uris(g))
    args = g.rng.choice(
        [
            [{"uri": uri}],
            [uri],
            [{"uri": uri, "name": "leak"}],
            [{"uri": uri, "position": {"line": 2, "character": 0}}],
        ]
    )
    return _command(g, TESTS, args, "refuse", "command.outside_tests")


def command_unknown_command(g: Gen) -> Action:
    name = g.rng.choice(
        ["smallcode.nope", "", "smallcode.status ", "rm -rf /", "smallcode.fix\u0000", "x" * 10_000]
    )
    return _command(g, name, g.rng.choice([ABSENT, [], [1]]), "invalid", "command.unknown_command")


def command_status_junk(g: Gen) -> Action:
    args = g.rng.choice([[1, {"x": [1]}, None], ["a" * 10_000], [[[[]]]]])
    return _command(g, "smallcode.status", args, "run", "command.status_junk")


def command_reindex(g: Gen) -> Action:
    return _command(g, "smallcode.reindex", g.rng.choice([ABSENT, [], ["junk"]]), "run", "command.reindex")


def command_run_fix(g: Gen) -> Action:
    uri = inside_uri(g)
    frames = []
    if key_of(uri) not in g.sim.docs:
        frames.append(open_msg(g, uri, "python", FILES["calc.py"]))
    arg = g.rng.choice(
        [
            {"uri": uri, "position": {"line": 4, "character": 0}},
            {
                "uri": uri,
                "diagnostic": {
                    "message": "test failed",
                    "source": "pytest",
                    "data": {"test": "--help"},
                    "range": lsp_range({"line": 1, "character": 0}, {"line": 1, "character": 3}),
                },
            },
        ]
    )
    frames.append(g.request(EXECUTE, {"command": FIX, "arguments": [arg]}, hint={"expect": "run"}))
    return Action("command", "command.run_fix", frames)


def command_run_tests(g: Gen) -> Action:
    uri = f"{g.world.root_uri}/pkg/util.py"
    args = g.rng.choice(
        [[{"uri": uri, "name": "Helper"}], [{"uri": uri, "position": {"line": 1, "character": 4}}]]
    )
    return _command(g, TESTS, args, "run", "command.run_tests")
