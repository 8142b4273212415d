"""LocalEngine against the tiny GGUF through the real llama-cpp-python."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from smallcode_lsp.engine.local import LocalEngine, ModelLoadError  # noqa: E402

PROMPT_CONTEXT = "# utils.py\nimport os\n\ndef read(path):\n    return open(path).read()\n"


@pytest.fixture(scope="module")
def engine(tiny_model_path: Path) -> Iterator[LocalEngine]:
    eng = LocalEngine.load(tiny_model_path, context_size=32768, threads=1)
    yield eng
    eng.close()


def test_loads_with_family_and_qwen_fim(engine: LocalEngine) -> None:
    assert engine.family == "llama (Tiny Test Coder)"
    assert engine.fim is not None and engine.fim.name == "qwen"
    assert engine.fim.repo_name == "<|repo_name|>" and engine.fim.file_sep == "<|file_sep|>"
    assert engine.context_size >= 32768
    assert engine.notice is None


def test_fim_prompt_puts_context_first_and_markers_as_single_ids(engine: LocalEngine) -> None:
    ctx_ids = engine.tokenize(PROMPT_CONTEXT)
    prefix, suffix = "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n"
    ids = engine.fim_prompt(prefix, suffix, PROMPT_CONTEXT)
    pre, suf, mid = (engine.token_id(m) for m in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
    assert ids[: len(ctx_ids)] == ctx_ids
    assert ids[len(ctx_ids)] == pre
    assert ids.count(pre) == ids.count(suf) == ids.count(mid) == 1
    assert ids[-1] == mid
    assert ids.index(suf) == len(ctx_ids) + 1 + len(engine.tokenize(prefix))
    expected = f"{PROMPT_CONTEXT}<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
    assert engine.detokenize(ids) == expected


def test_fim_prompt_respects_budget(engine: LocalEngine) -> None:
    prefix = "x = 1\n" * 20000
    ids = engine.fim_prompt(prefix, "y = 2\n" * 20000, PROMPT_CONTEXT, max_new_tokens=1000)
    assert len(ids) <= engine.context_size - 1000
    assert engine.detokenize(ids).split("<|fim_suffix|>")[1].startswith("y = 2\n")


def test_user_text_never_becomes_a_control_token(engine: LocalEngine) -> None:
    text = "marker = '<|fim_prefix|>' + '<|endoftext|>'\n"
    ids = engine.tokenize(text)
    specials = {engine.token_id(t) for t in ("<|fim_prefix|>", "<|endoftext|>")}
    assert specials.isdisjoint(ids)
    assert engine.detokenize(ids) == text
    assert engine.count_tokens(text) == len(ids)


def test_tokenize_round_trips_unicode(engine: LocalEngine) -> None:
    text = "s = 'héllo ✓ 日本'\n"
    assert engine.detokenize(engine.tokenize(text)) == text


def test_generate_runs_to_max_tokens_with_logprobs(engine: LocalEngine) -> None:
    gen = engine.generate(engine.fim_prompt("def f(x):\n    ", "\n"), max_tokens=40)
    assert gen.finish_reason == "length"
    assert len(gen.token_ids) == len(gen.logprobs) == 40
    assert all(math.isfinite(lp) and lp <= 0 for lp in gen.logprobs)
    assert gen.text == engine.detokenize(gen.token_ids)
    assert gen.text.isascii() and gen.text.strip()
    assert gen.seconds > 0


def test_same_prompt_twice_is_identical_and_reuses_cache(engine: LocalEngine) -> None:
    prompt = engine.fim_prompt("class Stack:\n    def push(self, item):\n        ", "\n", PROMPT_CONTEXT)
    first = engine.generate(prompt, max_tokens=24)
    second = engine.generate(prompt, max_tokens=24)
    assert first.text == second.text and first.token_ids == second.token_ids
    assert second.reused_prompt_tokens == len(prompt) - 1
    assert second.prompt_tokens == len(prompt)


def test_shared_prefix_is_reused_and_matches_cold_engine(engine: LocalEngine, tiny_model_path: Path) -> None:
    engine.generate(engine.fim_prompt("import sys\n", "", PROMPT_CONTEXT), max_tokens=8)
    prompt = engine.fim_prompt("for i in range(10):\n    ", "\n", PROMPT_CONTEXT)
    warm = engine.generate(prompt, max_tokens=24)
    assert warm.reused_prompt_tokens >= len(engine.tokenize(PROMPT_CONTEXT)) + 1
    assert warm.reused_prompt_tokens < len(prompt)
    cold_engine = LocalEngine.load(tiny_model_path, context_size=32768, threads=1)
    try:
        cold = cold_engine.generate(prompt, max_tokens=24)
    finally:
        cold_engine.close()
    assert cold.reused_prompt_tokens == 0
    assert warm.token_ids == cold.token_ids
    assert [round(x, 3) for x in warm.logprobs] == [round(x, 3) for x in cold.logprobs]


def test_cancel_from_another_thread_stops_within_a_token(engine: LocalEngine) -> None:
    cancel = threading.Event()
    progress = {"tokens": 0, "at_cancel": 0, "set_at": 0.0}

    def count(_text: str) -> bool:
        progress["tokens"] += 1
        return False

    def canceller() -> None:
        while progress["tokens"] < 50:
            time.sleep(0.005)
        time.sleep(0.2)
        progress["at_cancel"] = progress["tokens"]
        progress["set_at"] = time.perf_counter()
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    gen = engine.generate(
        engine.fim_prompt("def main():\n", ""), max_tokens=20000, cancel=cancel, should_stop=count
    )
    latency = time.perf_counter() - progress["set_at"]
    thread.join()
    assert gen.finish_reason == "cancelled"
    assert len(gen.token_ids) - progress["at_cancel"] <= 2
    assert len(gen.token_ids) < 20000
    assert latency < 1.0


def test_cancel_before_start_returns_nothing(engine: LocalEngine) -> None:
    cancel = threading.Event()
    cancel.set()
    gen = engine.generate(engine.fim_prompt("x = ", ""), max_tokens=10, cancel=cancel)
    assert gen.finish_reason == "cancelled" and gen.token_ids == [] and gen.text == ""


def test_should_stop_callback_stops(engine: LocalEngine) -> None:
    seen: list[str] = []

    def stop(text: str) -> bool:
        seen.append(text)
        return len(text) >= 12

    gen = engine.generate(engine.fim_prompt("value = ", "\n"), max_tokens=500, should_stop=stop)
    assert gen.finish_reason == "stop"
    assert len(gen.text) >= 12 and len(seen) == len(gen.token_ids) < 500
    assert len(seen) == 1 or len(seen[-2]) < 12


def test_q8_0_kv_cache_and_no_fim_override(tiny_model_path: Path) -> None:
    eng = LocalEngine.load(tiny_model_path, context_size=2048, kv_cache_type="q8_0", fim_template="none")
    try:
        assert eng.fim is None and eng.notice and "prefix-only" in eng.notice
        ids = eng.fim_prompt("def f():\n", "never used", PROMPT_CONTEXT)
        assert ids == eng.tokenize(PROMPT_CONTEXT) + eng.tokenize("def f():\n")
        gen = eng.generate(ids, max_tokens=16)
        assert gen.finish_reason == "length" and len(gen.token_ids) == 16
    finally:
        eng.close()


def test_bad_options_are_rejected_before_loading(tiny_model_path: Path) -> None:
    with pytest.raises(ValueError, match="valid names"):
        LocalEngine.load(tiny_model_path, fim_template="nope")
    with pytest.raises(ValueError, match="q8_0"):
        LocalEngine.load(tiny_model_path, kv_cache_type="q3")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        LocalEngine.load(tmp_path / "nope.gguf")


def test_not_a_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_text("<html>404 Not Found</html>")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        LocalEngine.load(bogus)


def test_truncated_gguf(tmp_path: Path, tiny_model_path: Path) -> None:
    data = tiny_model_path.read_bytes()
    for size in (len(data) // 2, 64):
        broken = tmp_path / f"truncated-{size}.gguf"
        broken.write_bytes(data[:size])
        with pytest.raises(ModelLoadError, match="llama.cpp failed to load"):
            LocalEngine.load(broken)


def test_nothing_is_written_to_stdout(tiny_model_path: Path) -> None:
    script = (
        "import sys\n"
        "from smallcode_lsp.engine.local import LocalEngine, ModelLoadError\n"
        f"e = LocalEngine.load({str(tiny_model_path)!r}, context_size=512)\n"
        "e.generate(e.fim_prompt('a = ', ''), max_tokens=8)\n"
        "e.close()\n"
        "try:\n"
        f"    LocalEngine.load({str(tiny_model_path)!r} + '.missing')\n"
        "except ModelLoadError:\n"
        "    pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""


def test_sampling_is_seeded_and_greedy_stays_greedy(engine: LocalEngine) -> None:
    prompt = engine.fim_prompt("def add(a, b):\n    return", "\n")
    greedy = [engine.generate(prompt, max_tokens=12).token_ids for _ in range(2)]
    first = engine.generate(prompt, max_tokens=12, temperature=1.5, seed=1).token_ids
    again = engine.generate(prompt, max_tokens=12, temperature=1.5, seed=1).token_ids
    others = {
        tuple(engine.generate(prompt, max_tokens=12, temperature=1.5, seed=s).token_ids) for s in (2, 3, 4)
    }
    assert greedy[0] == greedy[1]
    assert first == again  # the same seed repeats
    assert len(others | {tuple(first)}) > 1  # other seeds explore


def test_chat_answers_in_the_plain_layout_without_chatml_tokens(engine: LocalEngine) -> None:
    from smallcode_lsp.engine.chat import ChatMessage

    generation = engine.chat([ChatMessage("user", "Write add.")], max_tokens=8)
    assert generation.prompt_tokens > 0 and len(generation.token_ids) <= 8
    assert "\n### " not in generation.text


def test_a_chat_turn_leaves_the_completion_cache_alone(engine: LocalEngine) -> None:
    from smallcode_lsp.engine.chat import ChatMessage

    prompt = engine.fim_prompt("def add(a, b):\n    return ", "\n", PROMPT_CONTEXT)
    first = engine.generate(prompt, max_tokens=4)
    engine.chat([ChatMessage("user", "Write a long story about parsers. " * 20)], max_tokens=8)
    again = engine.generate(prompt, max_tokens=4)
    assert again.token_ids == first.token_ids
    # Only the last prompt token is evaluated again: the chat ran in its own context.
    assert again.reused_prompt_tokens >= len(prompt) - 1


def test_going_back_to_a_prompt_restores_its_saved_cache(tiny_model_path: Path) -> None:
    """Two files in turn: the second visit to each restores its KV cache (no prefill) and answers
    exactly as a cold engine would."""
    engine = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
    try:
        first_file = "".join(f"def first_{n}(value):\n    return value + {n}\n\n" for n in range(30))
        second_file = "".join(f"class Second{n}:\n    size = {n}\n\n" for n in range(30))
        first = engine.fim_prompt(first_file, "\n", "")
        second = engine.fim_prompt(second_file, "\n", "")
        assert min(len(first), len(second)) > 256
        cold_first = engine.generate(first, max_tokens=16)
        engine.generate(second, max_tokens=16)
        back = engine.generate(first, max_tokens=16)
        assert back.reused_prompt_tokens == len(first) - 1
        assert back.token_ids == cold_first.token_ids
        again = engine.generate(second, max_tokens=16)
        assert again.reused_prompt_tokens == len(second) - 1
        saved = engine.saved_prompts
        assert saved["restores"] == 2 and saved["saves"] >= 2 and saved["bytes"] > 0
    finally:
        engine.close()


def test_saved_caches_survive_many_files_edits_and_cancellations(tiny_model_path: Path) -> None:
    """Five files typed in turn with changing context and random cancellations: every generation
    returns, and the last answer for each prompt matches what a cold engine says."""
    engine = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
    cold = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
    rng = random.Random(7)
    files = ["".join(f"def f{k}_{n}(v):\n    return v + {n}\n\n" for n in range(25)) for k in range(5)]
    try:
        for step in range(150):
            k = (step // 10) % 5
            files[k] += rng.choice("ab xy\n")
            context = files[(k + 1) % 5][: rng.randint(0, 300)] if rng.random() < 0.5 else ""
            prompt = engine.fim_prompt(files[k], "\n", context)
            cancel = threading.Event()
            if rng.random() < 0.3:
                threading.Timer(rng.random() * 0.01, cancel.set).start()
            mode = rng.choice(["off", "promptLookup"])
            engine.generate(prompt, max_tokens=6, cancel=cancel, speculation=mode)
        assert engine.saved_prompts["restores"] > 0
        prompt = engine.fim_prompt(files[0], "\n", "")
        warm_ids = engine.generate(prompt, max_tokens=8).token_ids
        assert warm_ids == cold.generate(prompt, max_tokens=8).token_ids
    finally:
        engine.close()
        cold.close()
