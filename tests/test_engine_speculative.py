"""Speculative decoding in LocalEngine against tiny GGUFs through the real llama-cpp-python.

The random tiny model makes most guesses wrong; what matters is that the output never changes.
A draft that is the main model itself accepts everything, which exercises long accepted batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from smallcode_lsp.engine.local import Generation, LocalEngine, ModelLoadError  # noqa: E402
from smallcode_lsp.engine.speculative import DraftLength, PromptLookup  # noqa: E402
from tests.tiny_gguf import write_tiny_gguf  # noqa: E402

MODES = ("off", "promptLookup", "draftModel")
REPEATED = "class A:\n    def f(self):\n        return self\n\n" * 5
FRESH = "def main():\n"


@pytest.fixture(scope="module")
def draft_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same vocabulary and seed as the tiny model, one layer instead of two."""
    return write_tiny_gguf(tmp_path_factory.mktemp("draft") / "tiny-draft.gguf", n_layer=1)


@pytest.fixture(scope="module")
def engine(tiny_model_path: Path, draft_path: Path) -> Iterator[LocalEngine]:
    eng = LocalEngine.load(tiny_model_path, context_size=4096, threads=1, draft_path=draft_path)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def self_drafted(tiny_model_path: Path) -> Iterator[LocalEngine]:
    eng = LocalEngine.load(tiny_model_path, context_size=4096, threads=1, draft_path=tiny_model_path)
    yield eng
    eng.close()


def assert_same(a: Generation, b: Generation, tol: float = 1e-4) -> None:
    assert a.token_ids == b.token_ids
    assert a.text == b.text
    assert a.finish_reason == b.finish_reason
    assert len(a.logprobs) == len(b.logprobs)
    assert max((abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)), default=0.0) < tol


def run_modes(eng: LocalEngine, prompt: list[int], max_tokens: int = 80) -> dict[str, Generation]:
    return {m: eng.generate(prompt, max_tokens=max_tokens, speculation=m) for m in MODES}


def test_repeated_code_is_identical_and_drafted(engine: LocalEngine) -> None:
    runs = run_modes(engine, engine.fim_prompt(REPEATED, "\n"))
    for mode in MODES[1:]:
        assert_same(runs[mode], runs["off"])
    assert runs["off"].drafted_tokens == runs["off"].accepted_tokens == 0
    lookup = runs["promptLookup"]
    assert lookup.drafted_tokens > 0 and lookup.accepted_tokens > 0
    assert runs["draftModel"].drafted_tokens > 0
    assert lookup.decode_seconds > 0 and lookup.decode_seconds <= lookup.seconds


def test_fresh_text_is_identical(engine: LocalEngine) -> None:
    runs = run_modes(engine, engine.fim_prompt(FRESH, "\n"), max_tokens=60)
    for mode in MODES[1:]:
        assert_same(runs[mode], runs["off"])
    assert len(runs["off"].token_ids) == 60


def test_a_draft_that_always_agrees_is_fully_accepted(self_drafted: LocalEngine) -> None:
    prompt = self_drafted.fim_prompt(FRESH, "\n")
    off = self_drafted.generate(prompt, max_tokens=120)
    spec = self_drafted.generate(prompt, max_tokens=120, speculation="draftModel", max_draft_tokens=8)
    # Cache rows computed in batches of 9 instead of 1 differ in the last float bits; over 120
    # tokens that drifts logprobs by ~4e-4 (tokens stay identical).
    assert_same(spec, off, tol=1e-3)
    assert spec.drafted_tokens >= 60 and spec.accepted_tokens == spec.drafted_tokens


def test_cache_stays_exact_for_the_next_request(engine: LocalEngine, tiny_model_path: Path) -> None:
    first_prompt = engine.fim_prompt(REPEATED, "\n")
    for mode in MODES[1:]:
        first = engine.generate(first_prompt, max_tokens=40, speculation=mode)
        # Typing along the suggestion: the next prompt holds some of the generated tokens.
        follow = first_prompt + first.token_ids[:25]
        warm = engine.generate(follow, max_tokens=30, speculation=mode)
        assert warm.reused_prompt_tokens >= len(first_prompt)
        assert warm.evaluated_prompt_tokens == len(follow) - warm.reused_prompt_tokens
        cold_engine = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
        try:
            cold = cold_engine.generate(follow, max_tokens=30)
        finally:
            cold_engine.close()
        assert_same(warm, cold, tol=1e-3)  # cache built in other batch shapes: float-level drift
        assert warm.token_ids[:15] == first.token_ids[25:40]


def test_shared_prefix_after_speculation_matches_cold_engine(
    engine: LocalEngine, tiny_model_path: Path
) -> None:
    engine.generate(engine.fim_prompt(REPEATED + "x = ", "\n"), max_tokens=40, speculation="draftModel")
    prompt = engine.fim_prompt(REPEATED + "for i in range(3):\n", "\n")
    warm = engine.generate(prompt, max_tokens=40, speculation="promptLookup")
    assert warm.reused_prompt_tokens >= len(engine.tokenize(REPEATED))
    cold_engine = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
    try:
        cold = cold_engine.generate(prompt, max_tokens=40)
    finally:
        cold_engine.close()
    assert_same(warm, cold, tol=1e-3)


def test_cancel_stops_within_one_step(self_drafted: LocalEngine) -> None:
    cancel = threading.Event()

    def stop_after(count: int) -> object:
        seen = {"n": 0}

        def callback(_text: str) -> bool:
            seen["n"] += 1
            if seen["n"] == count:
                cancel.set()
            return False

        return callback

    gen = self_drafted.generate(
        self_drafted.fim_prompt(FRESH, ""),
        max_tokens=500,
        cancel=cancel,
        should_stop=stop_after(30),  # type: ignore[arg-type]
        speculation="draftModel",
    )
    assert gen.finish_reason == "cancelled" and len(gen.token_ids) == 30
    assert gen.drafted_tokens > 0


def test_cancel_from_another_thread(self_drafted: LocalEngine) -> None:
    cancel = threading.Event()
    progress = {"tokens": 0, "set_at": 0.0}

    def count(_text: str) -> bool:
        progress["tokens"] += 1
        return False

    def canceller() -> None:
        while progress["tokens"] < 40:
            time.sleep(0.002)
        progress["set_at"] = time.perf_counter()
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    gen = self_drafted.generate(
        self_drafted.fim_prompt("def main():\n", ""),
        max_tokens=3000,
        cancel=cancel,
        should_stop=count,
        speculation="promptLookup",
    )
    latency = time.perf_counter() - progress["set_at"]
    thread.join()
    assert gen.finish_reason == "cancelled" and len(gen.token_ids) < 3000
    assert latency < 1.0


def test_should_stop_and_max_tokens_apply_per_token(engine: LocalEngine) -> None:
    prompt = engine.fim_prompt(REPEATED, "\n")
    seen: dict[str, list[str]] = {m: [] for m in MODES}
    gens = {}
    for mode in MODES:

        def stop(text: str, mode: str = mode) -> bool:
            seen[mode].append(text)
            return len(text) >= 40

        gens[mode] = engine.generate(prompt, max_tokens=500, should_stop=stop, speculation=mode)
    for mode in MODES[1:]:
        assert_same(gens[mode], gens["off"])
        assert seen[mode] == seen["off"]
    assert gens["off"].finish_reason == "stop" and len(seen["off"]) == len(gens["off"].token_ids)
    for max_tokens in (1, 2, 7):
        lengths = {
            len(engine.generate(prompt, max_tokens=max_tokens, speculation=m).token_ids) for m in MODES
        }
        assert lengths == {max_tokens}


def test_context_limit_is_the_same(tiny_model_path: Path, draft_path: Path) -> None:
    eng = LocalEngine.load(tiny_model_path, context_size=512, threads=1, draft_path=draft_path)
    try:
        prompt = eng.fim_prompt("x = 1\n" * 200, "", max_new_tokens=20)
        room = eng.context_size - len(prompt)
        assert 0 < room < 40
        runs = run_modes(eng, prompt, max_tokens=200)
        for mode in MODES[1:]:
            assert_same(runs[mode], runs["off"])
        assert runs["off"].finish_reason == "length" and len(runs["off"].token_ids) == room + 1
    finally:
        eng.close()


def test_draft_model_mode_without_a_draft_uses_prompt_lookup(tiny_model_path: Path) -> None:
    eng = LocalEngine.load(tiny_model_path, context_size=4096, threads=1)
    try:
        prompt = eng.fim_prompt(REPEATED, "\n")
        off = eng.generate(prompt, max_tokens=40)
        fallback = eng.generate(prompt, max_tokens=40, speculation="draftModel")
        lookup = eng.generate(prompt, max_tokens=40, speculation="promptLookup")
        assert_same(fallback, off)
        assert fallback.drafted_tokens == lookup.drafted_tokens > 0
        with pytest.raises(ValueError, match="promptLookup"):
            eng.generate(prompt, max_tokens=4, speculation="ngram")
    finally:
        eng.close()


def test_draft_with_another_vocabulary_is_refused(tiny_model_path: Path, tmp_path: Path) -> None:
    other = write_tiny_gguf(tmp_path / "other-vocab.gguf", n_layer=1, extra_words=("zebra", "quokka"))
    with pytest.raises(ModelLoadError) as info:
        LocalEngine.load(tiny_model_path, context_size=512, draft_path=other)
    message = str(info.value)
    assert "vocabularies differ" in message
    assert str(other) in message and str(tiny_model_path) in message


def test_missing_draft_file_is_reported(tiny_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        LocalEngine.load(tiny_model_path, context_size=512, draft_path=tmp_path / "nope.gguf")


# -- pure drafting policy -------------------------------------------------------------------


def test_prompt_lookup_copies_after_the_latest_longest_match() -> None:
    lookup = PromptLookup([1, 2, 3, 4, 5, 9, 2, 3, 7, 8])
    assert lookup.propose([1, 2, 3, 4, 5, 9, 2, 3, 7, 8, 1, 2, 3], 3) == [4, 5, 9]  # 3-gram wins
    assert lookup.propose([1, 2, 3, 4, 5, 9, 2, 3, 7, 8, 1, 2, 3, 4], 2) == [5, 9]
    latest = PromptLookup([5, 2, 3, 7, 2, 3, 8, 9])
    assert latest.propose([5, 2, 3, 7, 2, 3, 8, 9, 0, 2, 3], 4) == [8, 9, 0, 2]
    assert PromptLookup([1, 2, 3]).propose([1, 2, 3, 6], 4) == []


def test_draft_length_grows_shrinks_and_gives_up() -> None:
    lengths = DraftLength(8, start=4)
    lengths.update(4, 4)
    assert lengths.k == 8
    lengths.update(8, 2)
    assert lengths.k == 3 and lengths.enabled
    for _ in range(4):
        lengths.update(3, 0)
    assert not lengths.enabled
