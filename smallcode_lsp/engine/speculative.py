"""Speculative decoding pieces for LocalEngine: drafters, the adaptive draft length, batch verification.

On a CPU, decoding is bound by reading the weights, so evaluating a few tokens in one llama_decode
costs little more than one. A drafter guesses the next tokens cheaply (copying from the prompt, or
a small model with the same vocabulary); the main model checks all guesses in one batch and keeps
the longest prefix that equals its own greedy choice, plus its own next token. Greedy output is
therefore that of plain decoding; only the number of llama_decode calls changes (up to the float
rounding of batched versus one-token evaluation, which prefix reuse already has).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from smallcode_lsp.engine.logprobs import greedy_choice
from smallcode_lsp.engine.text_stream import TextStream

MODES = ("off", "promptLookup", "draftModel")


class Drafter(Protocol):
    """Proposes up to `k` tokens that may follow `history` (prompt + generated so far)."""

    def propose(self, history: Sequence[int], k: int) -> list[int]: ...


class PromptLookup:
    """Drafts by copying what followed the latest earlier occurrence of the last few tokens.

    Edits mostly copy or rename nearby code, so the continuation of a matching n-gram in the prompt
    (or in the text generated so far) is often exactly what the model writes next. The index maps
    each n-gram to where its most recent continuation starts and grows by one entry per token.
    """

    def __init__(self, tokens: Sequence[int], *, max_ngram: int = 3, min_ngram: int = 1) -> None:
        self._max_n, self._min_n = max_ngram, min_ngram
        self._tokens: list[int] = []
        self._index: dict[tuple[int, ...], int] = {}
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        """Adds one token; the n-grams ending just before it now have a continuation."""
        seq = self._tokens
        end = len(seq)
        for n in range(self._min_n, self._max_n + 1):
            if end >= n:
                self._index[tuple(seq[end - n : end])] = end
        seq.append(int(token))

    def propose(self, history: Sequence[int], k: int) -> list[int]:
        for token in history[len(self._tokens) :]:
            self.append(token)
        seq = self._tokens
        for n in range(self._max_n, self._min_n - 1, -1):
            if len(seq) < n:
                continue
            start = self._index.get(tuple(seq[-n:]))
            if start is not None:
                return seq[start : start + k]
        return []


class DraftLength:
    """Adaptive draft length, and the decision to stop drafting for the rest of a request.

    Grows after a fully accepted draft and shrinks to just past the accepted part after a rejection,
    so a long copy is verified in big batches while a guess that keeps failing costs little. Once
    enough drafts have been tried and the rolling acceptance rate stays below `min_rate`, drafting
    stops: on fresh code every rejected token is wasted batch work.
    """

    def __init__(
        self, max_tokens: int, *, start: int = 2, min_rate: float = 0.3, warmup: int = 4, window: int = 8
    ) -> None:
        self.max_tokens = max(1, max_tokens)
        self.k = min(start, self.max_tokens)
        self.enabled = True
        self._min_rate, self._warmup, self._window = min_rate, warmup, window
        self._recent: list[tuple[int, int]] = []

    def update(self, drafted: int, accepted: int) -> None:
        if drafted <= 0:
            return
        if accepted >= drafted:
            self.k = min(self.max_tokens, max(self.k, drafted) * 2)
        else:
            self.k = max(1, accepted + 1)
        self._recent = [*self._recent[-(self._window - 1) :], (drafted, accepted)]
        if len(self._recent) >= self._warmup:
            total = sum(d for d, _ in self._recent)
            if sum(a for _, a in self._recent) < self._min_rate * total:
                self.enabled = False


class Verifier:
    """Evaluates [last token + draft] in one llama_decode and keeps llama-cpp-python's bookkeeping.

    `llama.input_ids[:llama.n_tokens]` must always describe the KV cache exactly, because the engine
    reuses the longest common prefix of the next prompt with it.
    """

    def __init__(self, llama: Any, lib: Any, capacity: int) -> None:
        self._llama, self._lib = llama, lib
        self.capacity = capacity
        self._batch = lib.llama_batch_init(capacity, 0, 1)
        self._n_vocab = int(llama.n_vocab())

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None

    def evaluate(self, tokens: Sequence[int]) -> list[np.ndarray]:
        """Appends `tokens` to the KV cache; returns one logits row per token (the next-token guess)."""
        llama, lib, batch = self._llama, self._lib, self._batch
        if not 0 < len(tokens) <= self.capacity:
            raise ValueError(f"batch of {len(tokens)} tokens (capacity {self.capacity})")
        base = llama.n_tokens
        llama._ctx.kv_cache_seq_rm(0, base, -1)
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = base + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        rc = lib.llama_decode(llama.ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        llama.input_ids[base : base + len(tokens)] = tokens
        llama.n_tokens = base + len(tokens)
        return [self._row(i) for i in range(len(tokens))]

    def _row(self, i: int) -> np.ndarray:
        return np.ctypeslib.as_array(
            self._lib.llama_get_logits_ith(self._llama.ctx, i), shape=(self._n_vocab,)
        )

    def truncate(self, n_tokens: int) -> None:
        """Drops cache positions from `n_tokens` on (rejected draft tokens)."""
        llama = self._llama
        if n_tokens < llama.n_tokens:
            llama._ctx.kv_cache_seq_rm(0, n_tokens, -1)
            llama.n_tokens = n_tokens


def sync_cache(
    llama: Any, tokens: Sequence[int], cancelled: Callable[[], bool], chunk: int
) -> tuple[int, bool]:
    """Brings a context's KV cache to `tokens`, reusing the common prefix; returns (reused, done).

    The last token is always re-evaluated so the context's last logits predict what follows.
    """
    cached = llama.n_tokens
    common = common_prefix(llama.input_ids[:cached], tokens)
    if (llama._is_recurrent or llama._is_hybrid) and common < cached:
        common = 0
        llama.reset()
    reused = min(common, len(tokens) - 1)
    llama.n_tokens = reused
    for start in range(reused, len(tokens), chunk):
        if cancelled():
            return reused, False
        llama.eval(tokens[start : start + chunk])
    return reused, True


def common_prefix(cached: np.ndarray, prompt: Sequence[int]) -> int:
    n = min(len(cached), len(prompt))
    if n == 0:
        return 0
    diff = np.nonzero(cached[:n] != np.asarray(prompt[:n], dtype=cached.dtype))[0]
    return int(diff[0]) if len(diff) else n


class DraftModel:
    """A small model with the main model's vocabulary that guesses greedily, with its own KV cache.

    Its cache follows the accepted text: each proposal first rewinds to the common prefix with the
    history (dropping its own rejected guesses), so across requests it reuses prompts like the main
    context does. It stops guessing early when its own top choice is unlikely (`min_prob`), since a
    low-confidence guess is usually rejected and costs a draft-model step.
    """

    def __init__(
        self, llama: Any, lib: Any, *, chunk: int = 128, min_prob: float = 0.5, states: Any = None
    ) -> None:
        self.llama, self._lib = llama, lib
        self._states = states  # prompt_states.PromptStates of the draft's context, if any
        self._chunk = chunk
        self._min_logprob = float(np.log(min_prob)) if min_prob > 0 else -np.inf
        self._n_vocab = int(llama.n_vocab())

    def prepare(self, prompt: Sequence[int], cancelled: Callable[[], bool]) -> bool:
        """Evaluates the prompt on the draft (prefix reused); False when cancelled meanwhile."""
        if self._states is not None:
            self._states.prepare(prompt)
        return sync_cache(self.llama, prompt, cancelled, self._chunk)[1]

    def propose(self, history: Sequence[int], k: int) -> list[int]:
        llama = self.llama
        room = len(llama.input_ids) - len(history) - 1
        k = min(k, room)
        if k <= 0:
            return []
        sync_cache(self.llama, history, lambda: False, self._chunk)
        out: list[int] = []
        while True:
            logits = np.ctypeslib.as_array(
                self._lib.llama_get_logits_ith(llama.ctx, -1), shape=(self._n_vocab,)
            )
            token, logprob = greedy_choice(logits)
            if logprob < self._min_logprob or self._lib.llama_vocab_is_eog(llama._model.vocab, token):
                return out
            out.append(token)
            if len(out) >= k:
                return out
            llama.eval([token])

    def close(self) -> None:
        llama, self.llama = self.llama, None
        if llama is not None:
            llama.close()


def vocab_mismatch(main: Any, draft: Any, lib: Any, *, samples: int = 512) -> str | None:
    """Why `draft` cannot draft for `main` (different vocabularies), or None when compatible.

    Compares the size, the special token ids, and the text of the special tokens, the last 64 ids
    (where added tokens live) and an even sample of ids: cheap, and catches a different tokenizer.
    """
    n_main, n_draft = int(main.n_vocab()), int(draft.n_vocab())
    if n_main != n_draft:
        return f"vocabulary sizes differ ({n_main} vs {n_draft} tokens)"
    v_main, v_draft = main._model.vocab, draft._model.vocab
    specials: set[int] = set()
    for name in ("bos", "eos", "eot", "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep"):
        fn = getattr(lib, f"llama_vocab_{name}", None)
        if fn is None:
            continue
        a, b = int(fn(v_main)), int(fn(v_draft))
        if a != b:
            return f"special token {name} differs (id {a} vs {b})"
        if a >= 0:
            specials.add(a)
    step = max(1, n_main // samples)
    ids = sorted(specials | set(range(0, n_main, step)) | set(range(max(0, n_main - 64), n_main)))
    for i in ids:
        a, b = lib.llama_vocab_get_text(v_main, i), lib.llama_vocab_get_text(v_draft, i)
        if a != b:
            return f"token {i} differs ({a!r} vs {b!r})"
    return None


class Emission:
    """Tokens handed to the caller, with the per-token stop rules of plain greedy decoding."""

    def __init__(
        self,
        *,
        piece: Callable[[int], bytes],
        is_eog: Callable[[int], bool],
        stream: TextStream,
        max_tokens: int,
        context_size: int,
        should_stop: Callable[[str], bool] | None,
    ) -> None:
        self._piece, self._is_eog, self.stream = piece, is_eog, stream
        self._max_tokens, self._context_size, self._should_stop = max_tokens, context_size, should_stop
        self.ids: list[int] = []
        self.logprobs: list[float] = []

    def push(self, token: int, logprob: float, position: int) -> str | None:
        """Emits `token` (which would sit at cache `position`); returns a finish reason or None."""
        if self._is_eog(token):
            return "stop"
        self.ids.append(token)
        self.logprobs.append(logprob)
        stop_at = self.stream.push(self._piece(token))
        if stop_at is not None:
            keep = sum(1 for s in self.stream.starts if s < stop_at)
            del self.ids[keep:], self.logprobs[keep:]
            self.stream.text = self.stream.text[:stop_at]
            return "stop"
        if self._should_stop is not None and self._should_stop(self.stream.text):
            return "stop"
        if len(self.ids) >= self._max_tokens or position >= self._context_size:
            return "length"
        return None

    @property
    def remaining(self) -> int:
        return self._max_tokens - len(self.ids)


@dataclass
class DecodeResult:
    finish: str
    drafted: int = 0
    accepted: int = 0


def decode_greedy(
    llama: Any,
    verifier: Verifier | None,
    drafter: Drafter | None,
    prompt: Sequence[int],
    out: Emission,
    cancelled: Callable[[], bool],
    *,
    max_draft_tokens: int,
    choose: Callable[[np.ndarray], tuple[int, float]] = greedy_choice,
) -> DecodeResult:
    """Greedy decoding after an evaluated prompt, verifying drafts in batches when a drafter is given.

    Without a draft a step is plain one-token decoding (llama.eval), so "off" costs what it did.
    `choose` replaces the greedy pick (a sampler); drafts are then meaningless, so pass no drafter.
    """
    n_vocab = int(llama.n_vocab())
    context_size = min(int(llama.n_ctx()), len(llama.input_ids))
    lengths = DraftLength(max_draft_tokens)
    result = DecodeResult("length")
    rows = [_last_logits(llama, n_vocab)]
    draft: list[int] = []
    while True:
        base = llama.n_tokens - len(rows)
        finish, token, accepted = _consume(rows, draft, base, out, cancelled, choose)
        if draft and verifier is not None:
            result.drafted += len(draft)
            result.accepted += accepted
            lengths.update(len(draft), accepted)
            verifier.truncate(base + accepted + 1)
        if finish is not None:
            result.finish = finish
            return result
        draft = []
        if drafter is not None and verifier is not None and lengths.enabled:
            room = min(lengths.k, out.remaining - 1, context_size - llama.n_tokens - 1, verifier.capacity - 1)
            draft = drafter.propose([*prompt, *out.ids], room)[:room] if room > 0 else []
        if draft and verifier is not None:
            rows = verifier.evaluate([token, *draft])
        else:
            llama.eval([token])
            rows = [_last_logits(llama, n_vocab)]


def _consume(
    rows: list[np.ndarray],
    draft: list[int],
    base: int,
    out: Emission,
    cancelled: Callable[[], bool],
    choose: Callable[[np.ndarray], tuple[int, float]] = greedy_choice,
) -> tuple[str | None, int, int]:
    """Emits the model's choice from each row while it confirms the draft; returns (finish, last, accepted).

    Row i holds the model's choice after batch token i, so a draft token stands only while it equals
    that choice; the first differing choice, or the one after a fully accepted draft, is the model's
    own next token (not yet in the cache) and ends the step.
    """
    token = -1
    for i, row in enumerate(rows):
        if cancelled():
            return "cancelled", token, i
        token, logprob = choose(row)
        finish = out.push(token, logprob, base + i + 1)
        if finish is not None:
            return finish, token, i
        if i >= len(draft) or token != draft[i]:
            return None, token, i
    raise AssertionError("the last row always ends the step")


def _last_logits(llama: Any, n_vocab: int) -> np.ndarray:
    return np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(n_vocab,))
