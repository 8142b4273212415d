"""Saved KV caches of recent prompts, so that going back to a file costs a copy instead of a prefill.

One context holds one prompt's KV cache; typing in another file replaces it, and coming back used to
re-read the whole window: a cold 600-token prompt takes ~14 s on the soak's 2 cores (~43 tokens/s of
prefill for the 0.5B model), against 5 ms to save its KV cells (7.4 MB) and 7 ms to put them back
(llama.cpp's per-sequence state API). Before a prompt evicts a cache worth keeping, the cache is
saved; when a saved one shares a clearly longer prefix with the new prompt than the live one, it is
restored and the usual prefix reuse takes over. Keyed by tokens only: the engine knows nothing of
documents, and a prompt that shares its prefix with a saved one is the same file, whoever asks.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smallcode_lsp.engine.speculative import common_prefix

_LOG = logging.getLogger(__name__)

# All saved caches together: ~4,000 tokens of the 0.5B model's f16 KV, the prompts of the last 3-6
# files. 96 MB kept 5 files' prompts in the 20,000-keystroke soak but cost 6.1% RSS growth after
# warm-up (target < 5%) for little: the prompts there diverge early (new snippets), so a restore
# brought back ~6% of the prompt tokens.
MAX_BYTES = 48 << 20
MIN_TOKENS = 128  # a shorter cache is cheaper to rebuild than to keep
MIN_GAIN = 64  # restore only when it saves at least this many tokens of prefill


@dataclass(eq=False)  # compared by identity: `==` on the token arrays is element-wise
class _Saved:
    tokens: np.ndarray
    data: Any  # the ctypes view of the mapping llama.cpp wrote into (it keeps the mapping alive)
    size: int


class PromptStates:
    """A small LRU of saved KV caches for sequence 0 of one llama-cpp-python context."""

    def __init__(self, llama: Any, lib: Any, max_bytes: int = MAX_BYTES) -> None:
        self._llama = llama
        self._lib = lib
        self._max_bytes = max_bytes
        self._saved: list[_Saved] = []  # least recently used first
        self.saves = 0
        self.restores = 0
        self.restored_tokens = 0

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self._saved)

    @classmethod
    def for_context(cls, llama: Any, lib: Any) -> PromptStates | None:
        """Saved caches for a context whose cache can be cut at any position (not recurrent)."""
        return None if llama._is_recurrent or llama._is_hybrid else cls(llama, lib)

    def describe(self) -> dict[str, int]:
        return {
            "saves": self.saves,
            "restores": self.restores,
            "restoredTokens": self.restored_tokens,
            "bytes": self.bytes,
        }

    def prepare(self, prompt: Sequence[int]) -> int:
        """Make the context's cache the best start for `prompt`: save the live cache if `prompt`
        would throw most of it away, restore a saved one that shares a longer prefix. Returns the
        tokens restored (0: the live cache stays). Never raises: the saved caches are an
        optimisation, and if they fail they are dropped and the prompt is read the ordinary way."""
        try:
            return self._prepare(prompt)
        except Exception:
            _LOG.exception("saved prompt caches failed; dropping them")
            self.clear()
            return 0

    def _prepare(self, prompt: Sequence[int]) -> int:
        llama = self._llama
        cached = int(llama.n_tokens)
        live = common_prefix(llama.input_ids[:cached], prompt) if cached else 0
        if cached - live >= MIN_TOKENS:
            self._save(np.array(llama.input_ids[:cached], dtype=np.intc))
        best, best_shared = None, live
        for saved in self._saved:
            shared = common_prefix(saved.tokens, prompt)
            if shared > best_shared:
                best, best_shared = saved, shared
        if best is None or best_shared - live < MIN_GAIN:
            return 0
        if not self._restore(best):
            return 0
        self._saved.remove(best)
        self._saved.append(best)  # most recently used
        return len(best.tokens)

    def _save(self, tokens: np.ndarray) -> None:
        ctx = self._llama._ctx.ctx
        size = int(self._lib.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self._max_bytes:
            return
        # Its own anonymous mapping, given back to the OS when the entry goes. From malloc, these
        # 5-12 MB buffers raise glibc's mmap threshold once freed and then come from the heap, which
        # fragments: the soak's RSS swung by ~40 MB and crept up (a replay of the same allocation
        # pattern: 78-109 MB resident for 48 MB live with malloc, 61-68 MB with mmap).
        buffer = (ctypes.c_uint8 * size).from_buffer(mmap.mmap(-1, size))
        written = int(self._lib.llama_state_seq_get_data(ctx, buffer, size, 0))
        if written <= 0:
            return
        # The same prompt grown or edited since (a shared prefix of most of it) replaces its old copy.
        self._saved = [s for s in self._saved if common_prefix(s.tokens, tokens) < len(s.tokens) // 2]
        self._saved.append(_Saved(tokens, buffer, written))
        self.saves += 1
        while self.bytes > self._max_bytes:
            self._saved.pop(0)

    def _restore(self, saved: _Saved) -> bool:
        llama = self._llama
        ctx = llama._ctx.ctx
        memory = self._lib.llama_get_memory(ctx)
        self._lib.llama_memory_seq_rm(memory, 0, -1, -1)
        llama.n_tokens = 0
        if int(self._lib.llama_state_seq_set_data(ctx, saved.data, saved.size, 0)) <= 0:
            self._lib.llama_memory_seq_rm(memory, 0, -1, -1)  # whatever half-arrived goes
            return False
        count = len(saved.tokens)
        llama.input_ids[:count] = saved.tokens
        llama.n_tokens = count
        self.restores += 1
        self.restored_tokens += count
        return True

    def clear(self) -> None:
        self._saved.clear()
