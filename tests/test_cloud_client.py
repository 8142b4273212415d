"""The cloud client against a real loopback HTTP server: answers, faults, retries, the breaker, scrubbing."""

from __future__ import annotations

import time

import pytest

from smallcode_lsp.config import CloudSettings
from smallcode_lsp.engine import cloud
from smallcode_lsp.engine.cloud import CircuitBreaker, CloudClient, CloudError
from smallcode_lsp.engine.cloud_budget import TokenBudget
from smallcode_lsp.engine.router import AnswerChecks, Decision, Router, Signals, never_send
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
    # Streamed: two events (counted as tokens, no usage for them), the prompt's usage at the end,
    # and the kept-alive connection serves the second call.
    assert answer.text == again.text == ANSWER and answer.tokens == 2 and answer.prompt_tokens == 11
    request = endpoint.requests[0]
    assert request["path"] == "/v1/completions" and request["body"]["stream"] is True
    assert request["body"]["suffix"] == "\n" and request["body"]["model"] == "m"
    assert request["headers"]["Authorization"] == "Bearer sk-test-abcdefghijklmnopqrstuv"


def test_a_server_that_ignores_stream_still_answers() -> None:
    with FakeEndpoint() as endpoint:
        endpoint.honour_stream = False
        answer = client_for(endpoint).complete_fim("x" * 40, "", max_tokens=8, deadline_s=5)
    assert answer.text == ANSWER and answer.tokens == 5
    assert answer.prompt_tokens == 10  # no usage for the prompt: estimated from 40 characters


def test_the_stop_rule_ends_the_stream_early_and_the_next_call_reconnects() -> None:
    with FakeEndpoint() as endpoint:
        endpoint.fim_pieces = ["x + 1", "\n", "more"] + ["\nfiller"] * 40
        endpoint.event_delay_s = 0.02
        client = client_for(endpoint)
        answer = client.complete_fim("y = ", "", max_tokens=64, deadline_s=5, should_stop=lambda t: "\n" in t)
        sent_when_stopped = endpoint.events_sent
        endpoint.fim_pieces, endpoint.event_delay_s = [ANSWER], 0.0
        again = client.complete_fim("y = ", "", max_tokens=64, deadline_s=5)
    assert answer.text == "x + 1\n" and answer.stopped_early and answer.tokens == 2
    assert sent_when_stopped < 10  # the server stopped producing once the client hung up
    assert again.text == ANSWER and not again.stopped_early


def test_a_fim_template_builds_the_remote_models_own_prompt_and_cuts_at_its_markers() -> None:
    with FakeEndpoint() as endpoint:
        endpoint.fim_pieces = ["x + 1", "<|im_end|>", "other_file.py"]
        client = client_for(endpoint, fim_template="qwen")
        answer = client.complete_fim(
            "y = ", "\nprint(y)", "# lib.py\ndef g(): ...\n\n", max_tokens=8, deadline_s=5
        )
    body = endpoint.requests[0]["body"]
    assert (
        body["prompt"] == "# lib.py\ndef g(): ...\n\n<|fim_prefix|>y = <|fim_suffix|>\nprint(y)<|fim_middle|>"
    )
    assert "suffix" not in body and 0 < len(body["stop"]) <= cloud.MAX_STOP_SEQUENCES
    assert answer.text == "x + 1"  # <|im_end|> is past the fourth stop string sent: cut here


def test_chat_turns_stream_too() -> None:
    with FakeEndpoint() as endpoint:
        endpoint.chat_answer = "```python\ndef add(a, b):\n    return a + b\n```"
        answer = client_for(endpoint).chat([{"role": "user", "content": "add"}], max_tokens=64, deadline_s=5)
    assert answer.text == endpoint.chat_answer and endpoint.requests[0]["body"]["stream"] is True


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


def test_the_router_escalates_by_scope_only_past_the_threshold_and_never_over_budget() -> None:
    router = Router(
        CloudSettings(endpoint="http://x", confidence_threshold=-5.0, multi_file_threshold=3), None
    )
    confident = Signals.of([-0.1, -0.2])
    assert router.decide_inline("a.py", confident, [], False).reason == "confident"
    assert router.decide_inline("a.py", Signals.of([-0.1], scope_files=2), [], False).route == "local"
    wide = Signals.of([-0.1], scope_files=3)
    assert router.decide_inline("a.py", wide, [], False) == Decision("cloud", "multi-file scope")
    assert (
        router.decide_inline("a.py", wide, [], False, budget_spent=True).reason == "daily token budget spent"
    )
    off = Router(CloudSettings(endpoint="http://x", confidence_threshold=-5.0, multi_file_threshold=0), None)
    assert off.decide_inline("a.py", Signals.of([-0.1], scope_files=50), [], False).route == "local"


def test_the_token_budget_counts_per_day_across_restarts(tmp_path) -> None:
    day = ["2026-12-03"]
    ledger = tmp_path / "usage.json"
    budget = TokenBudget(100, ledger, today=lambda: day[0])
    assert budget.allows() and not budget.charge(60)
    assert budget.charge(50)  # crossed the limit with this charge: tell the user
    assert not budget.allows() and not budget.charge(5)  # told once
    again = TokenBudget(100, ledger, today=lambda: day[0])  # a restarted server
    assert again.spent() == 115 and not again.allows()
    other = TokenBudget(100, ledger, today=lambda: day[0])  # a second window charging meanwhile
    other.charge(10)
    again.charge(1)
    assert again.spent() == 126
    day[0] = "2026-12-04"
    assert again.allows() and again.spent() == 0
    assert TokenBudget(0, None).allows() and not TokenBudget(0, None).charge(10**9)  # 0 = no limit
    ledger.write_text("{not json")
    assert TokenBudget(100, ledger, today=lambda: day[0]).spent() == 0  # a broken ledger is a new day


def test_one_unlikely_token_escalates_when_the_minimum_threshold_is_set() -> None:
    settings = CloudSettings(endpoint="http://x", confidence_threshold=-0.5, min_logprob_threshold=-1.0)
    router = Router(settings, None)
    steady = Signals.of([-0.2, -0.3, -0.2])
    shaky = Signals.of([-0.01, -1.5, -0.01, -0.01, -0.01])  # a good mean (-0.31) hiding one guess
    assert router.decide_inline("a.py", steady, [], False).route == "local"
    assert router.decide_inline("a.py", shaky, [], False) == Decision("cloud", "an unlikely token")
    off = Router(
        CloudSettings(endpoint="http://x", confidence_threshold=-0.5, min_logprob_threshold=-1e9), None
    )
    assert off.decide_inline("a.py", shaky, [], False).route == "local"


def test_an_answer_that_breaks_syntax_escalates_unless_the_setting_is_off() -> None:
    confident = Signals.of([-0.01, -0.02])
    router = Router(CloudSettings(endpoint="http://x", confidence_threshold=-0.5), None)
    broken = AnswerChecks(breaks_syntax=True, unknown_names=None)
    decision = router.decide_inline("a.py", confident, [], False, checks=lambda: broken)
    assert decision == Decision("cloud", "local answer breaks syntax", broken)
    fine = AnswerChecks(breaks_syntax=False, unknown_names=0)
    assert router.decide_inline("a.py", confident, [], False, checks=lambda: fine).route == "local"
    assert router.decide_inline("a.py", confident, [], False).route == "local"  # not checked
    assert router.decide_inline("a.py", confident, [], False, True, lambda: broken).route == "local"
    off = Router(
        CloudSettings(endpoint="http://x", confidence_threshold=-0.5, escalate_on_syntax_error=False), None
    )
    assert off.decide_inline("a.py", confident, [], False, checks=lambda: broken).route == "local"


def test_an_answer_reading_an_unknown_name_escalates_unless_the_setting_is_off() -> None:
    confident = Signals.of([-0.01, -0.02])
    invented = AnswerChecks(breaks_syntax=False, unknown_names=1)
    router = Router(CloudSettings(endpoint="http://x", confidence_threshold=-0.5), None)
    decision = router.decide_inline("a.py", confident, [], False, checks=lambda: invented)
    assert decision == Decision("cloud", "local answer reads an unknown name", invented)
    off = Router(
        CloudSettings(endpoint="http://x", confidence_threshold=-0.5, escalate_on_unknown_name=False), None
    )
    assert off.decide_inline("a.py", confident, [], False, checks=lambda: invented).route == "local"


def test_the_answer_is_parsed_only_when_no_cheaper_rule_decided() -> None:
    """The checks parse the document: not for a request that stays local for a cheaper reason
    (no endpoint, never-send, circuit, budget) or goes for one (low confidence, scope), nor with
    both checks switched off."""
    calls: list[int] = []

    def checks() -> AnswerChecks:
        calls.append(1)
        return AnswerChecks(breaks_syntax=True)

    sure, unsure = Signals.of([-0.01]), Signals.of([-3.0])
    on = Router(CloudSettings(endpoint="http://x", confidence_threshold=-0.5), None)
    unset = Router(CloudSettings(), None)
    assert unset.decide_inline("a.py", sure, [], False, checks=checks).reason == "no endpoint"
    assert on.decide_inline(".env", sure, [], False, checks=checks).reason == "never send"
    assert on.decide_inline("a.py", sure, [], True, checks=checks).reason == "circuit open"
    assert on.decide_inline("a.py", sure, [], False, True, checks).reason == "daily token budget spent"
    assert on.decide_inline("a.py", unsure, [], False, checks=checks).reason == "low confidence"
    wide = Signals.of([-0.01], scope_files=5)
    assert on.decide_inline("a.py", wide, [], False, checks=checks).reason == "multi-file scope"
    both_off = Router(
        CloudSettings(
            endpoint="http://x",
            confidence_threshold=-0.5,
            escalate_on_syntax_error=False,
            escalate_on_unknown_name=False,
        ),
        None,
    )
    assert both_off.decide_inline("a.py", sure, [], False, checks=checks) == Decision("local", "confident")
    assert calls == []
    assert on.decide_inline("a.py", sure, [], False, checks=checks).route == "cloud"
    assert calls == [1]


def test_the_examples_verdict_outranks_confidence_but_not_what_keeps_a_file_home(tmp_path) -> None:
    settings = CloudSettings(endpoint="http://x", confidence_threshold=-1.0, never_send=("private/*",))
    router = Router(settings, None)
    roots = [str(tmp_path)]
    unsure, sure = Signals.of([-3.0, -2.0]), Signals.of([-0.1, -0.2])
    path = str(tmp_path / "app.py")
    passed = router.decide_inline(path, unsure, roots, False, examples=True)
    assert (passed.route, passed.reason) == ("local", "local answer passes its examples")
    assert passed.checks is not None and passed.checks.examples_pass is True
    failed = router.decide_inline(path, sure, roots, False, examples=False)
    assert (failed.route, failed.reason) == ("cloud", "local answer fails its examples")
    assert router.decide_inline(path, sure, roots, False, examples=None).route == "local"
    assert router.decide_inline(path, sure, roots, True, examples=False).reason == "circuit open"
    secret = str(tmp_path / "private" / "app.py")
    assert router.decide_inline(secret, sure, roots, False, examples=False).reason == "never send"
    assert router.held_local(path, roots, False, budget_spent=True).reason == "daily token budget spent"
    assert router.held_local(path, roots, False) is None
