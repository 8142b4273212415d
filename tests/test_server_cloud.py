"""Hybrid dispatch end to end: the real server, the tiny GGUF locally, a loopback endpoint as the cloud."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from lsprotocol import types

from smallcode_lsp.completion.name_fit import unknown_names
from smallcode_lsp.completion.syntax_fit import breaks_syntax
from smallcode_lsp.index.languages import language_for_path
from tests.fake_endpoint import ANSWER, FakeEndpoint
from tests.server_harness import (
    inline,
    open_document,
    start_server,
    status,
    stop_server,
    wait_for_index,
    wait_for_messages,
    wait_for_model,
)

LINES = 12
SOURCE = "import os\n\n\ndef work(items):\n" + "".join(f"    value_{n} = \n" for n in range(LINES))


async def _session(tmp_path, model_path, endpoint: FakeEndpoint, **cloud):
    root = tmp_path / "ws"
    (root / "private").mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(SOURCE)
    options = {
        "model": {"path": str(model_path)},
        # The menu waits for its answer however loaded the machine is (deferral has its own tests).
        "completion": {
            "debounceMs": 0,
            "maxTokens": 8,
            "multiline": "never",
            "prefetch": False,
            "menuWaitMs": 60000,
        },
        "cloud": {"endpoint": endpoint.url, "timeoutMs": 15000, **cloud},
    }
    client = await start_server(root, tmp_path / "cache", options)
    assert (await wait_for_model(client))["model"]["state"] == "ready"
    return client, root


def _line(n: int) -> tuple[int, int]:
    return 4 + n, len(f"    value_{n} = ")


async def test_low_confidence_goes_to_the_cloud_and_says_so(tmp_path, tiny_model_path, monkeypatch):
    monkeypatch.setenv("SMALLCODE_TEST_KEY", "sk-test-zyxwvutsrqponmlkjihgf")
    with FakeEndpoint() as endpoint:
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, apiKeyEnv="SMALLCODE_TEST_KEY"
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            result = await inline(client, doc, *_line(0))
            assert result.items[0].insert_text == ANSWER
            items = await client.text_document_completion_async(
                types.CompletionParams(types.TextDocumentIdentifier(doc), types.Position(*_line(1)))
            )
            assert items.items[0].detail == "SmallCode (cloud model)"
            current = await status(client)
            assert current["requests"]["route.cloudServed"] == 2
            # Each answer: 2 streamed tokens + the 11 prompt tokens the endpoint reported.
            tokens = {"limit": 0, "spentToday": 26}
            assert current["cloud"] == {
                "endpoint": True,
                "circuit": "closed",
                "error": None,
                "tokens": tokens,
            }
            assert "sk-test-zyxwvutsrqponmlkjihgf" not in json.dumps(current)
            assert endpoint.requests[0]["headers"]["Authorization"].endswith("zyxwvutsrqponmlkjihgf")
            assert "value_0 = " in endpoint.requests[0]["body"]["prompt"]
            log = (tmp_path / "cache" / "routing.jsonl").read_text()
            assert '"outcome": "served"' in log and "value_0" not in log  # signals, never code
        finally:
            await stop_server(client)
    logs = " ".join(m.message for m in client.log_messages)
    assert "sk-test-zyxwvutsrqponmlkjihgf" not in logs


async def test_confident_answers_stay_local(tmp_path, tiny_model_path):
    with FakeEndpoint() as endpoint:
        # The tiny random model's text is rarely valid Python: the syntax signal is tested below.
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=-1e9, escalateOnSyntaxError=False
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            result = await inline(client, doc, *_line(0))
            assert result.items and result.items[0].insert_text != ANSWER
            assert (await status(client))["requests"]["route.local"] == 1
        finally:
            await stop_server(client)
    assert endpoint.requests == []


@pytest.mark.parametrize("mode", ["500", "429", "hang", "reset", "garbage", "empty"])
async def test_a_failing_cloud_leaves_the_local_answer_in_time(tmp_path, tiny_model_path, mode):
    with FakeEndpoint(mode, hang_s=8.0) as endpoint:
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, timeoutMs=3000
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            started = time.monotonic()
            result = await inline(client, doc, *_line(0))
            assert time.monotonic() - started < 4.5  # the 3 s budget, plus slack for a loaded machine
            assert result.items and result.items[0].insert_text != ANSWER  # the local answer
            counters = (await status(client))["requests"]
            assert counters["route.cloudFailed"] == 1
            assert counters.get("route.cloudTimedOut", 0) == (mode == "hang")
        finally:
            await stop_server(client)
        assert endpoint.requests


async def test_the_circuit_opens_tells_the_user_once_and_stops_calling(tmp_path, tiny_model_path):
    with FakeEndpoint("500") as endpoint:
        client, root = await _session(tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0)
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            for n in range(5):
                result = await inline(client, doc, *_line(n))
                assert result.items  # the local answer every time
            current = await status(client)
            assert current["cloud"]["circuit"] == "open"
            assert current["requests"]["route.circuitOpened"] == 1
            assert len(endpoint.requests) == 3
            assert sum("keeps failing" in m.message for m in client.messages) == 1
        finally:
            await stop_server(client)


async def test_never_send_files_and_credentials_stay_home(tmp_path, tiny_model_path):
    with FakeEndpoint() as endpoint:
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, neverSend=["private/*"]
        )
        try:
            hidden = root / "private" / "billing.py"
            hidden.write_text(SOURCE)
            doc = open_document(client, hidden, SOURCE)
            result = await inline(client, doc, *_line(0))
            assert result.items and result.items[0].insert_text != ANSWER
            assert endpoint.requests == []
            keyed = 'KEY = "AKIAIOSFODNN7EXAMPLE"\n' + SOURCE
            (root / "keyed.py").write_text(keyed)
            doc = open_document(client, root / "keyed.py", keyed)
            result = await inline(client, doc, 5, len("    value_0 = "))
            assert result.items[0].insert_text == ANSWER
            sent = endpoint.received_text()
            assert "AKIAIOSFODNN7EXAMPLE" not in sent and "<redacted>" in sent
        finally:
            await stop_server(client)


MODULES = {
    "pricing.py": "def net_price(amount, rate):\n    return amount * (1 - rate)\n",
    "taxes.py": "def vat(amount):\n    return amount * 0.2\n",
    "shipping.py": "def shipping_cost(weight):\n    return 4 + weight * 0.5\n",
}
CHECKOUT = (
    "from pricing import net_price\nfrom shipping import shipping_cost\nfrom taxes import vat\n\n\n"
    "def total(amount, rate, weight):\n    price = net_price(amount, rate)\n"
    "    extra = vat(price) + shipping_cost(weight)\n    return \n"
)


async def test_a_completion_that_needs_three_other_files_goes_to_the_cloud_with_them(
    tmp_path, tiny_model_path
):
    with FakeEndpoint() as endpoint:
        client, root = await _session(
            tmp_path,
            tiny_model_path,
            endpoint,
            confidenceThreshold=-1e9,
            multiFileThreshold=3,
            escalateOnSyntaxError=False,
        )
        try:
            for name, text in MODULES.items():
                (root / name).write_text(text)
            (root / "checkout.py").write_text(CHECKOUT)
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="smallcode.reindex")
            )
            await wait_for_index(client)
            doc = open_document(client, root / "checkout.py", CHECKOUT)
            result = await inline(client, doc, 8, len("    return "))
            assert result.items[0].insert_text == ANSWER
            prompt = endpoint.requests[0]["body"]["prompt"]
            assert all(f"def {name}(" in prompt for name in ("net_price", "vat", "shipping_cost"))
            log = (tmp_path / "cache" / "routing.jsonl").read_text().splitlines()
            assert json.loads(log[-1])["reason"] == "multi-file scope"
            assert json.loads(log[-1])["scope_files"] == 3
            # A file that needs nothing from elsewhere stays local at the same threshold.
            doc = open_document(client, root / "app.py", SOURCE)
            result = await inline(client, doc, *_line(0))
            assert result.items and result.items[0].insert_text != ANSWER
            assert len(endpoint.requests) == 1
        finally:
            await stop_server(client)


async def test_a_local_answer_that_breaks_syntax_or_reads_unknown_names_goes_to_the_cloud(
    tmp_path, tiny_model_path
):
    """Both sides of the rules: whatever the tiny model answers at each hole, it goes to the cloud
    exactly when syntax_fit says that answer, inserted, breaks the code or name_fit says it reads a
    name nothing defines (checked here on the text the same model gives with the rules off), and
    the routing log and lastCompletion say why."""
    source = "def first(items):\n    total = \n    return total\n\n\ndef second(items):\n    # keep the \n"
    source += "    return items\n"
    # After `=` (the tiny model's garbage breaks it) and at the end of a comment (nothing can).
    holes = [(1, len("    total = ")), (6, len("    # keep the "))]
    local_answers = []
    with FakeEndpoint() as endpoint:
        client, root = await _session(
            tmp_path,
            tiny_model_path,
            endpoint,
            confidenceThreshold=-1e9,
            escalateOnSyntaxError=False,
            escalateOnUnknownName=False,
        )
        try:
            doc = open_document(client, root / "app.py", source)
            for line, column in holes:
                result = await inline(client, doc, line, column)
                local_answers.append(result.items[0].insert_text if result.items else "")
        finally:
            await stop_server(client)
    assert endpoint.requests == []
    spec = language_for_path("app.py")
    lines = source.split("\n")
    broken = [
        bool(t) and bool(breaks_syntax(lines, ln, col, t, 0, spec))
        for t, (ln, col) in zip(local_answers, holes, strict=True)
    ]
    unknown = [
        len(unknown_names(lines, ln, col, t, 0, spec) or ()) if t and not b else None
        for t, b, (ln, col) in zip(local_answers, broken, holes, strict=True)
    ]
    expected = [b or bool(u) for b, u in zip(broken, unknown, strict=True)]
    assert True in expected and False in expected, f"both routes must be exercised: {local_answers}"

    with FakeEndpoint() as endpoint:
        client, root = await _session(tmp_path, tiny_model_path, endpoint, confidenceThreshold=-1e9)
        try:
            doc = open_document(client, root / "app.py", source)
            for number, ((line, column), local) in enumerate(zip(holes, local_answers, strict=True)):
                result = await inline(client, doc, line, column)
                served = result.items[0].insert_text if result.items else ""
                assert served == (ANSWER if expected[number] else local)
                last = (await status(client))["lastCompletion"]
                assert last["breaksSyntax"] is (broken[number] if local else None)
                if local and not broken[number]:
                    assert last["unknownNames"] == unknown[number]
        finally:
            await stop_server(client)
    reasons = [
        json.loads(x)["reason"] for x in (tmp_path / "cache" / "routing.jsonl").read_text().splitlines()
    ]
    assert reasons[-2:] == [
        "local answer breaks syntax" if b else "local answer reads an unknown name" if u else "confident"
        for b, u in zip(broken, unknown, strict=True)
    ]
    assert len(endpoint.requests) == sum(expected)


async def test_the_daily_token_budget_stops_sending_and_says_so_once(tmp_path, tiny_model_path):
    with FakeEndpoint() as endpoint:
        # Each answer costs 13 tokens (2 streamed + 11 prompt): the second call crosses 20.
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, dailyTokenBudget=20
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            answers = [(await inline(client, doc, *_line(n))).items[0].insert_text for n in range(4)]
            assert answers[:2] == [ANSWER, ANSWER] and ANSWER not in answers[2:]
            assert len(endpoint.requests) == 2
            current = await status(client)
            assert current["cloud"]["tokens"] == {"limit": 20, "spentToday": 26}
            await wait_for_messages(client, lambda m: "token budget" in m.message)
            assert sum("token budget" in m.message for m in client.messages) == 1
            reasons = [json.loads(line)["reason"] for line in (tmp_path / "cache" / "routing.jsonl").open()]
            assert reasons[2:] == ["daily token budget spent"] * 2
        finally:
            await stop_server(client)
        # The ledger outlives the server: a restart on the same day sends nothing more.
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, dailyTokenBudget=20
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            assert (await inline(client, doc, *_line(0))).items[0].insert_text != ANSWER
            assert len(endpoint.requests) == 2
        finally:
            await stop_server(client)


@pytest.fixture(scope="module")
def llama_server(tiny_model_path):
    """`llama_cpp.server` (llama-cpp-python's OpenAI-compatible server) serving the tiny GGUF on loopback."""
    pytest.importorskip("llama_cpp.server.app", reason="the `server` extra of llama-cpp-python")
    from clients.bench.hybrid import start_cloud

    process, url = start_cloud(tiny_model_path, threads=1)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.parametrize("fim_template", ["suffix", "qwen"])
async def test_a_real_openai_compatible_server_answers_through_the_lsp(
    tmp_path, tiny_model_path, llama_server, fim_template
):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)
    options = {
        "model": {"path": str(tiny_model_path)},
        "completion": {"debounceMs": 0, "maxTokens": 8, "multiline": "never", "prefetch": False},
        "cloud": {
            "endpoint": llama_server,
            "timeoutMs": 20000,
            "confidenceThreshold": 0.0,
            "fimTemplate": fim_template,
        },
    }
    client = await start_server(root, tmp_path / "cache", options)
    try:
        assert (await wait_for_model(client))["model"]["state"] == "ready"
        doc = open_document(client, root / "app.py", SOURCE)
        for n in range(3):
            await inline(client, doc, *_line(n))
        requests = (await status(client))["requests"]
        assert requests["route.cloud"] == 3
        assert requests.get("route.cloudFailed", 0) == 0, requests
        # Random weights may say nothing usable; every answer still made the round trip.
        assert requests.get("route.cloudServed", 0) + requests.get("route.cloudEmpty", 0) == 3
    finally:
        await stop_server(client)


EXAMPLES_SOURCE = '''def add(a, b):
    """The sum.

    >>> add(2, 3)
    5
    """
    # note:
    return a {op} b


if __name__ == "__main__":
    raise SystemExit("the module's main block must not run")
'''


@pytest.mark.parametrize("op, route", [("+", "local"), ("-", "cloud")])
async def test_the_functions_own_examples_decide_where_a_completion_goes(
    tmp_path, tiny_model_path, op, route
):
    """At the end of a comment nothing the model types changes the code, so the examples' verdict is
    the body's: passing examples keep the answer local though every other rule would send it
    (threshold 0), failing ones send it, and the status and routing log say so."""
    with FakeEndpoint() as endpoint:
        client, root = await _session(tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0)
        try:
            doc = open_document(client, root / "app.py", EXAMPLES_SOURCE.format(op=op))
            result = await inline(client, doc, 6, len("    # note:"))
            served = result.items[0].insert_text if result.items else ""
            last = (await status(client))["lastCompletion"]
            counters = (await status(client))["requests"]
        finally:
            await stop_server(client)
    assert last["generatedTokens"] > 0, "the tiny model answered nothing: the examples never ran"
    assert last["examplesPass"] is (route == "local")
    assert counters[f"route.examples{'Passed' if route == 'local' else 'Failed'}"] == 1
    assert last["source"] == route
    assert (served == ANSWER) is (route == "cloud")
    assert len(endpoint.requests) == (route == "cloud")
    entry = json.loads((tmp_path / "cache" / "routing.jsonl").read_text().splitlines()[-1])
    assert entry["reason"] == f"local answer {'passes' if route == 'local' else 'fails'} its examples"
    assert entry["examples_pass"] is (route == "local")
