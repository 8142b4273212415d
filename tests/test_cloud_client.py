"""The cloud client against a real loopback HTTP server: answers, faults, retries, the breaker, scrubbing."""

from __future__ import annotations

import time

import pytest

from smallcode_lsp.config import CloudSettings
from smallcode_lsp.engine import cloud
from smallcode_lsp.engine.cloud import CircuitBreaker, CloudClient, CloudError
from smallcode_lsp.engine.router import Router, Signals, never_send
from smallcode_lsp.engine.scrub import scrub
from tests.fake_endpoint import ANSWER, FakeEndpoint


def client_for(endpoint: FakeEndpoint, **settings) -> CloudClient:
    return CloudClient(CloudSettings(endpoint=endpoint.url, model="m", **settings))


def test_an_answer_comes_back_with_the_key_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SMALLCODE_TEST_KEY", "sk-test-abcdefghijklmnopqrstuv")
    with FakeEndpoint() as endpoint:
        client = client_for(endpoint, api_key_env="SMALLCODE_TEST_KEY")
        answer = client.complete_fim("def f():\n    return ", "\n", max_tokens=8, deadline_s=5)
        again = client.complete_fim("x = ", "", max_tokens=8, deadline_s=5)
    assert answer.text == again.text == ANSWER and answer.tokens == 5
    request = endpoint.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["body"]["suffix"] == "\n" and request["body"]["model"] == "m"
    assert request["headers"]["Authorization"] == "Bearer sk-test-abcdefghijklmnopqrstuv"


@pytest.mark.parametrize("mode", ["500", "429", "hang", "reset", "garbage", "empty"])
def test_every_fault_is_a_cloud_error_within_the_deadline(mode: str) -> None:
    with FakeEndpoint(mode, hang_s=2.0) as endpoint:
        client = client_for(endpoint)
        started = time.monotonic()
        with pytest.raises(CloudError):
            client.complete_fim("x = ", "", max_tokens=8, deadline_s=0.5)
        assert time.monotonic() - started < 1.0
    # Only a dropped connection is retried.
    assert len(endpoint.requests) == (3 if mode == "reset" else 1)


def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_success(monkeypatch) -> None:
    opened: list[str] = []
    now = [100.0]
    breaker = CircuitBreaker(on_open=opened.append, clock=lambda: now[0])
    for _ in range(cloud.FAILURES_TO_OPEN):
        assert breaker.allows()
        breaker.failed("HTTP 500")
    assert breaker.state == "open" and not breaker.allows()
    assert opened == ["HTTP 500"]  # told once
    now[0] += cloud.OPEN_SECONDS
    assert breaker.state == "half-open" and breaker.allows()
    breaker.failed("HTTP 500")
    assert opened == ["HTTP 500"]  # still once while it stays open
    breaker.succeeded()
    assert breaker.state == "closed"


def test_an_open_circuit_sends_nothing() -> None:
    with FakeEndpoint("500") as endpoint:
        client = client_for(endpoint)
        for _ in range(cloud.FAILURES_TO_OPEN + 2):
            with pytest.raises(CloudError):
                client.complete_fim("x = ", "", max_tokens=8, deadline_s=2)
    assert len(endpoint.requests) == cloud.FAILURES_TO_OPEN


def test_credentials_are_scrubbed() -> None:
    text = (
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
        'db_password = "hunter2hunter2"\n'
        "headers = {'Authorization': 'Bearer abcdefghijklmnop123456'}\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
        "token = get_token()\n"
    )
    clean, count = scrub(text)
    for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter2hunter2", "abcdefghijklmnop123456", "MIIEow"):
        assert secret not in clean
    assert count >= 4
    assert "token = get_token()" in clean  # code that merely mentions a token is untouched


def test_the_router_sends_only_low_confidence_requests_from_sendable_files(tmp_path) -> None:
    settings = CloudSettings(
        endpoint="http://127.0.0.1:9", confidence_threshold=-1.0, never_send=("private/*",)
    )
    router = Router(settings, tmp_path / "routing.jsonl")
    roots = [str(tmp_path)]
    unsure, sure = Signals.of([-3.0, -2.0]), Signals.of([-0.1, -0.2])
    path = str(tmp_path / "app.py")
    assert router.decide_inline(path, unsure, roots, False).route == "cloud"
    assert router.decide_inline(path, sure, roots, False).route == "local"
    assert router.decide_inline(path, Signals.of([]), roots, False).reason == "no local answer"
    assert router.decide_inline(path, unsure, roots, True).reason == "circuit open"
    assert never_send(str(tmp_path / "private" / "keys.py"), settings, roots)
    assert never_send(str(tmp_path / ".env"), settings, roots)
    off = Router(CloudSettings(), None)
    assert off.decide_inline(path, unsure, roots, False).reason == "no endpoint"
    decision = router.decide_inline(path, unsure, roots, False)
    router.record("inline", decision, unsure, "served", 0.2)
    line = (tmp_path / "routing.jsonl").read_text()
    assert '"route": "cloud"' in line and '"mean_logprob": -2.5' in line
