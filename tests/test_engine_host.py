"""ModelHost: background chat turns give the model thread up to interactive calls, and lose nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from smallcode_lsp.config import ModelSettings  # noqa: E402
from smallcode_lsp.engine.chat import ChatMessage  # noqa: E402
from smallcode_lsp.engine.host import ModelHost  # noqa: E402

MESSAGES = [ChatMessage("system", "You write Python."), ChatMessage("user", "Write a parser for INI files.")]


@pytest.fixture(scope="module")
def host(tiny_model_path: Path) -> Iterator[ModelHost]:
    model_host = ModelHost()
    model_host.load(ModelSettings(path=str(tiny_model_path), context_size=8192, threads=1)).result()
    assert model_host.state == "ready", model_host.error
    yield model_host
    model_host.shutdown()


def test_a_yielded_turn_continues_into_the_same_answer(host: ModelHost) -> None:
    engine = host.engine
    assert engine is not None
    whole = engine.chat(MESSAGES, max_tokens=60)
    calls = {"n": 0}

    def after_twenty() -> bool:
        calls["n"] += 1
        return calls["n"] >= 20

    first = engine.chat(MESSAGES, max_tokens=60, should_yield=after_twenty)
    assert first.finish_reason == "yielded"
    assert first.token_ids == whole.token_ids[: len(first.token_ids)]
    rest = engine.chat(MESSAGES, max_tokens=60 - len(first.token_ids), answer_prefix=first.token_ids)
    assert first.token_ids + rest.token_ids == whole.token_ids
    assert rest.text == whole.text


def test_an_interactive_call_runs_while_a_background_turn_is_in_progress(host: ModelHost) -> None:
    engine = host.engine
    assert engine is not None
    tokens = 1500
    started = time.perf_counter()
    alone = engine.chat(MESSAGES, max_tokens=tokens)
    alone_seconds = time.perf_counter() - started
    if alone.finish_reason != "length" or alone_seconds < 0.3:
        pytest.skip(f"the tiny model's turn is too short to interrupt ({alone_seconds:.2f}s)")

    result: dict[str, object] = {}

    def background() -> None:
        result["generation"] = host.chat_in_background(MESSAGES, max_tokens=tokens)
        result["ended"] = time.perf_counter()

    worker = threading.Thread(target=background)
    worker.start()
    time.sleep(alone_seconds / 5)
    asked = time.perf_counter()
    answered = host.run(lambda _engine: time.perf_counter(), interactive=True).result()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert answered - asked < alone_seconds / 2  # it did not wait for the whole turn
    assert answered < result["ended"]  # the background turn was still going
    assert result["generation"].token_ids == alone.token_ids  # and it lost nothing
    assert not host.interactive_waiting()


def test_a_cancelled_interactive_call_leaves_the_queue(host: ModelHost) -> None:
    gate = threading.Event()
    blocker = host.run(lambda _engine: gate.wait(5))
    queued = host.run(lambda _engine: None, interactive=True)
    assert host.interactive_waiting()
    assert queued.cancel()
    assert not host.interactive_waiting()
    gate.set()
    blocker.result()


def test_a_turn_yields_during_its_prompt_and_keeps_what_it_evaluated(host: ModelHost) -> None:
    engine = host.engine
    assert engine is not None
    messages = [ChatMessage("user", "Explain this code, line by line:\n" + "x = x + 1\n" * 150)]
    checks = {"n": 0}

    def after_two_chunks() -> bool:
        checks["n"] += 1
        return checks["n"] > 2

    paused = engine.chat(messages, max_tokens=20, should_yield=after_two_chunks)
    assert paused.finish_reason == "yielded" and paused.token_ids == []
    resumed = engine.chat(messages, max_tokens=20)
    assert resumed.reused_prompt_tokens >= 2 * 32  # the chunks evaluated before the pause
    assert resumed.reused_prompt_tokens < resumed.prompt_tokens - 1
    again = engine.chat(messages, max_tokens=20)
    assert again.token_ids == resumed.token_ids
