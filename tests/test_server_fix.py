"""End-to-end "Fix this": code actions and the smallcode.fix command over stdio, with the tiny real GGUF.

The tiny model writes random text, so no fix it proposes can verify: these tests check what the
editor sees in that case (no edit, a message saying why) and the protocol around it. The verified
path, with scripted model turns and the real sandbox, is in test_agent_fix.py.
"""

from __future__ import annotations

import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.server_harness import (
    open_document,
    send_raw_request,
    start_server,
    status,
    stop_server,
    wait_for_messages,
    wait_for_model,
    wait_until,
)

BROKEN = "import math\n\n\ndef area(r):\n    return math.pi * r **\n"


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "shapes.py").write_text(BROKEN)
    return root


async def _session(workspace, tmp_path, tiny_model_path, **agent):
    options = {
        "model": {"path": str(tiny_model_path)},
        "agent": {"maxAttempts": 1, "maxTokens": 48, **agent},
    }
    client = await start_server(workspace, tmp_path / "cache", options)
    ready = await wait_for_model(client)
    assert ready["model"]["state"] == "ready", ready
    return client


def _record_edits(client) -> list[types.ApplyWorkspaceEditParams]:
    """Accept every `workspace/applyEdit` the server sends, keeping them for the test to inspect."""
    edits: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def record(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    return edits


async def _code_actions(client, doc_uri, diagnostics, start=0, end=5) -> list[dict]:
    """The raw JSON: lsprotocol's client-side union parsing would read a CodeAction as a Command."""
    params = {
        "textDocument": {"uri": doc_uri},
        "range": {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}},
        "context": {"diagnostics": diagnostics},
    }
    return await send_raw_request(client, "textDocument/codeAction", params)


async def test_fix_actions_cover_editor_diagnostics_and_own_syntax_errors(
    workspace, tmp_path, tiny_model_path
):
    client = await _session(workspace, tmp_path, tiny_model_path)
    try:
        assert (
            types.CodeActionKind.QuickFix
            in client.init_result.capabilities.code_action_provider.code_action_kinds
        )
        doc_uri = open_document(client, workspace / "shapes.py", BROKEN)
        unused = {
            "range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 11}},
            "message": "`math` imported but unused",
            "source": "ruff",
            "code": "F401",
        }
        actions = await _code_actions(client, doc_uri, [unused])
        assert [a["kind"] for a in actions] == ["quickfix"] * 2
        assert actions[0]["diagnostics"][0]["code"] == "F401"
        own = actions[1]["diagnostics"][0]
        assert own["source"] == "smallcode" and own["range"]["start"]["line"] == 4
        assert all(a["command"]["command"] == "smallcode.fix" for a in actions)
        assert actions[1]["command"]["arguments"][0]["uri"] == doc_uri
        # Nothing is offered away from the problems.
        assert await _code_actions(client, doc_uri, [], start=1, end=2) == []
    finally:
        await stop_server(client)


async def test_an_unverifiable_fix_is_not_applied_and_says_why(workspace, tmp_path, tiny_model_path):
    client = await _session(workspace, tmp_path, tiny_model_path)
    edits = _record_edits(client)

    try:
        doc_uri = open_document(client, workspace / "shapes.py", BROKEN)
        actions = await _code_actions(client, doc_uri, [])
        command = actions[0]["command"]
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command["command"], arguments=command["arguments"])
        )
        assert result["verified"] is False and result["applied"] is False
        assert result["attempts"] == 1 and result["error"]
        assert result["range"] == {"startLine": 3, "endLine": 4}  # the function around the error
        assert edits == []
        await wait_for_messages(client, lambda m: "could not verify a fix" in m.message)
        counters = (await status(client))["requests"]
        assert counters["fix.requests"] == 1 and counters["fix.unverified"] == 1
        probed = await wait_until(client, lambda s: isinstance(s["agent"]["sandbox"], dict))
        assert set(probed["agent"]["sandbox"]) >= {"network", "filesystem", "processLimit"}
        assert (workspace / "shapes.py").read_text() == BROKEN
    finally:
        await stop_server(client)


async def test_fix_from_a_position_finds_the_syntax_error(workspace, tmp_path, tiny_model_path):
    client = await _session(workspace, tmp_path, tiny_model_path)
    try:
        doc_uri = open_document(client, workspace / "shapes.py", BROKEN)
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="smallcode.fix", arguments=[{"uri": doc_uri, "position": {"line": 0, "character": 0}}]
            )
        )
        assert result["range"]["endLine"] == 4
        clean_uri = open_document(client, workspace / "clean.py", "x = 1\n")
        nothing = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="smallcode.fix",
                arguments=[{"uri": clean_uri, "position": {"line": 0, "character": 0}}],
            )
        )
        assert nothing["verified"] is False and "no problem to fix" in nothing["message"]
    finally:
        await stop_server(client)


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        [42],
        [{"uri": 7}],
        [{"uri": "file:///x.py"}],
        [{"uri": "file:///x.py", "diagnostic": {"message": "m"}}],
    ],
)
async def test_bad_fix_arguments_get_invalid_params(workspace, tmp_path, tiny_model_path, arguments):
    client = await _session(workspace, tmp_path, tiny_model_path)
    try:
        with pytest.raises(JsonRpcException) as error:
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="smallcode.fix", arguments=arguments)
            )
        assert error.value.code == -32602
    finally:
        await stop_server(client)


async def test_fix_refuses_a_file_outside_the_workspace(workspace, tmp_path, tiny_model_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text(BROKEN)
    client = await _session(workspace, tmp_path, tiny_model_path)
    try:
        doc_uri = open_document(client, outside, BROKEN)
        diagnostic = {
            "message": "syntax error",
            "range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 5}},
        }
        with pytest.raises(JsonRpcException, match="outside the workspace"):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="smallcode.fix", arguments=[{"uri": doc_uri, "diagnostic": diagnostic}]
                )
            )
    finally:
        await stop_server(client)


CALC = "def add(a, b):\n    return a + b\n"


async def test_generate_tests_action_and_command_with_the_tiny_model(workspace, tmp_path, tiny_model_path):
    (workspace / "calc.py").write_text(CALC)
    client = await _session(workspace, tmp_path, tiny_model_path)
    try:
        await wait_until(client, lambda s: s["index"]["state"] == "ready")
        doc_uri = open_document(client, workspace / "calc.py", CALC)
        actions = await _code_actions(client, doc_uri, [], start=1, end=1)
        [tests] = [a for a in actions if a["kind"] == "refactor.smallcode.generateTests"]
        assert tests["title"] == "Generate tests for add (SmallCode)"
        assert tests["command"]["command"] == "smallcode.generateTests"
        # A client that asks only for quick fixes does not get it.
        only = await send_raw_request(
            client,
            "textDocument/codeAction",
            {
                "textDocument": {"uri": doc_uri},
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
                "context": {"diagnostics": [], "only": ["quickfix"]},
            },
        )
        assert only == []
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="smallcode.generateTests", arguments=tests["command"]["arguments"]
            )
        )
        assert result["subjects"] == ["add"]
        assert result["kept"] == 0 and result["applied"] is False  # random weights write no passing test
        assert result["testFile"] == "tests/test_calc.py"
        await wait_for_messages(client, lambda m: "no test could be verified" in m.message)
        assert not (workspace / "tests").exists()
        with pytest.raises(JsonRpcException, match="no function or class named"):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="smallcode.generateTests", arguments=[{"uri": doc_uri, "name": "missing"}]
                )
            )
    finally:
        await stop_server(client)


@pytest.mark.parametrize("mode", ["ok", "500", "hang"])
async def test_a_fix_the_local_model_cannot_verify_goes_to_the_cloud(
    workspace, tmp_path, tiny_model_path, mode
):
    from tests.fake_endpoint import FakeEndpoint

    with FakeEndpoint(mode, hang_s=8.0) as endpoint:
        endpoint.chat_answer = "Fixed:\n```python\ndef area(r):\n    return math.pi * r ** 2\n```\n"
        options = {
            "model": {"path": str(tiny_model_path)},
            "agent": {"maxAttempts": 1, "maxTokens": 48},
            "cloud": {"endpoint": endpoint.url, "agentTimeoutMs": 3000},
        }
        client = await start_server(workspace, tmp_path / "cache", options)
        edits = _record_edits(client)

        try:
            assert (await wait_for_model(client))["model"]["state"] == "ready"
            keyed = BROKEN.replace("def area(r):\n", 'def area(r):\n    key = "AKIAIOSFODNN7EXAMPLE"\n')
            doc_uri = open_document(client, workspace / "shapes.py", keyed)
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="smallcode.fix",
                    arguments=[{"uri": doc_uri, "position": {"line": 4, "character": 0}}],
                )
            )
            assert result["attempts"] == 2  # one local turn, then one cloud turn
            counters = (await status(client))["requests"]
            assert counters["route.fixCloud"] == 1
            assert endpoint.requests[0]["path"] == "/v1/chat/completions"
            # The task alone, not the local model's failed answer and its error.
            roles = [m["role"] for m in endpoint.requests[0]["body"]["messages"]]
            assert roles == ["system", "user"]
            if mode == "ok":
                assert result["verified"] is True
                assert result["title"].startswith("Fix [cloud model]: verified by syntax, py_compile")
                assert result["source"] == "cloud"
                assert result["applied"] and edits and edits[0].label == result["title"]
                sent = endpoint.received_text()
                assert "AKIAIOSFODNN7EXAMPLE" not in sent and "<redacted>" in sent
                assert result["replacement"].endswith("r ** 2")
            else:
                assert result["verified"] is False and counters["route.cloudFailed"] == 1
                # A turn that ran out of time is told apart from an endpoint error.
                assert counters.get("route.cloudTimedOut", 0) == (mode == "hang")
        finally:
            await stop_server(client)


async def test_tests_the_local_model_cannot_write_come_from_the_cloud_labelled(
    workspace, tmp_path, tiny_model_path
):
    from tests.fake_endpoint import FakeEndpoint

    with FakeEndpoint() as endpoint:
        endpoint.chat_answer = (
            "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
            "def test_add_wrong():\n    assert add(2, 2) == 5\n```\n"
        )
        options = {
            "model": {"path": str(tiny_model_path)},
            "agent": {"maxAttempts": 1, "maxTokens": 32},
            "cloud": {"endpoint": endpoint.url},
        }
        (workspace / "calc.py").write_text(CALC)
        client = await start_server(workspace, tmp_path / "cache", options)
        edits = _record_edits(client)
        try:
            assert (await wait_for_model(client))["model"]["state"] == "ready"
            doc_uri = open_document(client, workspace / "calc.py", CALC)
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="smallcode.generateTests", arguments=[{"uri": doc_uri, "name": "add"}]
                )
            )
            # The local turn wrote nothing that passes; the cloud's turn was run like any other:
            # its passing test is kept, its wrong one is reported, not kept.
            assert result["kept"] == 1 and result["cloudTests"] == 1
            assert [bug["test"] for bug in result["possibleBugs"]] == ["test_add_wrong"]
            assert result["applied"] and edits[0].label.startswith("Generate tests [cloud model]: 1 test(s)")
            assert "def test_add():" in result["text"] and "test_add_wrong" not in result["text"]
            assert (await status(client))["requests"]["route.testsCloud"] == 1
            assert [r["path"] for r in endpoint.requests] == ["/v1/chat/completions"]
        finally:
            await stop_server(client)


CROSS_FILE = (
    "from alpha import scale\nfrom beta import offset\nfrom gamma import clamp\n\n\n"
    "def adjust(x):\n    return clamp(scale(x) + offset(x)\n"
)


@pytest.mark.parametrize("mode", ["ok", "500"])
async def test_a_fix_whose_code_uses_three_other_files_asks_the_cloud_first(tmp_path, tiny_model_path, mode):
    """Scope: the broken function calls definitions from three other files (cloud.multiFileThreshold's
    default), so the cloud's turn comes before the local model's; when the cloud fails, the local
    turn still follows."""
    from tests.fake_endpoint import FakeEndpoint

    root = tmp_path / "ws"
    root.mkdir()
    for name, body in [("alpha", "scale(x):\n    return 2 * x"), ("beta", "offset(x):\n    return 1")]:
        (root / f"{name}.py").write_text(f"def {body}\n")
    (root / "gamma.py").write_text("def clamp(x):\n    return max(0, min(x, 10))\n")
    (root / "app.py").write_text(CROSS_FILE)
    with FakeEndpoint(mode) as endpoint:
        endpoint.chat_answer = "```python\ndef adjust(x):\n    return clamp(scale(x) + offset(x))\n```\n"
        options = {
            "model": {"path": str(tiny_model_path)},
            "agent": {"maxAttempts": 1, "maxTokens": 48},
            "cloud": {"endpoint": endpoint.url},
        }
        client = await start_server(root, tmp_path / "cache", options)
        try:
            assert (await wait_for_model(client))["model"]["state"] == "ready"
            await wait_until(client, lambda s: s["index"]["state"] == "ready")
            doc_uri = open_document(client, root / "app.py", CROSS_FILE)
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="smallcode.fix",
                    arguments=[{"uri": doc_uri, "position": {"line": 6, "character": 0}}],
                )
            )
            assert [r["path"] for r in endpoint.requests] == ["/v1/chat/completions"]
            if mode == "ok":
                assert result["attempts"] == 1 and result["verified"] is True, result
                assert result["title"].startswith("Fix [cloud model]")
            else:
                assert result["attempts"] == 2 and result["verified"] is False  # then the local turn
        finally:
            await stop_server(client)
    log_lines = (tmp_path / "cache" / "routing.jsonl").read_text().splitlines()
    entry = json.loads(log_lines[0])
    assert (entry["kind"], entry["reason"], entry["scope_files"]) == ("fix", "multi-file scope", 3)
