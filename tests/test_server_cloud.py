"""Hybrid dispatch end to end: the real server, the tiny GGUF locally, a loopback endpoint as the cloud."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from lsprotocol import types

from tests.fake_endpoint import ANSWER, FakeEndpoint
from tests.server_harness import inline, open_document, start_server, status, stop_server, wait_for_model

LINES = 12
SOURCE = "import os\n\n\ndef work(items):\n" + "".join(f"    value_{n} = \n" for n in range(LINES))


async def _session(tmp_path, model_path, endpoint: FakeEndpoint, **cloud):
    root = tmp_path / "ws"
    (root / "private").mkdir(parents=True)
    (root / "app.py").write_text(SOURCE)
    options = {
        "model": {"path": str(model_path)},
        "completion": {"debounceMs": 0, "maxTokens": 8, "multiline": "never", "prefetch": False},
        "cloud": {"endpoint": endpoint.url, "timeoutMs": 4000, **cloud},
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
            assert current["cloud"] == {"endpoint": True, "circuit": "closed", "error": None}
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
        client, root = await _session(tmp_path, tiny_model_path, endpoint, confidenceThreshold=-1e9)
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
    with FakeEndpoint(mode, hang_s=5.0) as endpoint:
        client, root = await _session(
            tmp_path, tiny_model_path, endpoint, confidenceThreshold=0.0, timeoutMs=1500
        )
        try:
            doc = open_document(client, root / "app.py", SOURCE)
            started = time.monotonic()
            result = await inline(client, doc, *_line(0))
            assert time.monotonic() - started < 4.0
            assert result.items and result.items[0].insert_text != ANSWER  # the local answer
            assert (await status(client))["requests"]["route.cloudFailed"] == 1
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


async def test_a_real_openai_compatible_server_answers_through_the_lsp(
    tmp_path, tiny_model_path, llama_server
):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)
    options = {
        "model": {"path": str(tiny_model_path)},
        "completion": {"debounceMs": 0, "maxTokens": 8, "multiline": "never", "prefetch": False},
        "cloud": {"endpoint": llama_server, "timeoutMs": 20000, "confidenceThreshold": 0.0},
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
