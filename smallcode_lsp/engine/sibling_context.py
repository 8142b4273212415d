"""A second llama context on the already loaded model, so agent turns keep their own KV cache.

Ghost text lives on KV-cache reuse: each keystroke re-evaluates only the few tokens that changed. A
fix or tests turn run in the same context overwrites that cache with its own prompt, and on a 2-core
CPU the next keystroke then pays a full prompt evaluation (about 30 tokens/s here: ~20 s for a
typical completion prompt). A sibling context shares the model's weights (the same mapped file
pages) and adds only its KV cache and compute buffers (~140 MB measured, 4096 cells, batch 128).

llama-cpp-python's `Llama` owns exactly one context, so the sibling is a shallow copy of it with its
own context, batch and token bookkeeping; everything else (model, vocabulary, metadata) is shared.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
from typing import Any

import numpy as np

SIBLING_BATCH = 128  # prompt tokens per decode: agent prompts are long, but memory matters more


def open_sibling_context(llama: Any, llama_cpp: Any, batch: int = SIBLING_BATCH) -> Any:
    """A `Llama`-like object on `llama`'s model with a fresh context; close it before `llama`.

    Raises RuntimeError (with llama-cpp-python's own reason) when the context cannot be made.
    """
    from llama_cpp import _internals as internals

    params = llama_cpp.llama_context_params()
    ctypes.memmove(ctypes.byref(params), ctypes.byref(llama.context_params), ctypes.sizeof(params))
    params.n_batch = params.n_ubatch = min(batch, int(llama.n_batch))
    sibling = copy.copy(llama)
    sibling._stack = contextlib.ExitStack()
    try:
        sibling._ctx = sibling._stack.enter_context(
            contextlib.closing(internals.LlamaContext(model=llama._model, params=params, verbose=False))
        )
        sibling._batch = sibling._stack.enter_context(
            contextlib.closing(
                internals.LlamaBatch(n_tokens=params.n_batch, embd=0, n_seq_max=params.n_ctx, verbose=False)
            )
        )
    except Exception as exc:  # llama-cpp-python raises ValueError/RuntimeError; internals may change
        sibling._stack.close()
        raise RuntimeError(f"no second llama context: {exc}") from exc
    sibling.context_params = params
    sibling.n_batch = int(params.n_batch)
    sibling.n_tokens = 0
    sibling.input_ids = np.ndarray((len(llama.input_ids),), dtype=np.intc)
    sibling.scores = np.ndarray((sibling.n_batch, int(llama.n_vocab())), dtype=np.single)
    sibling._candidates = internals.LlamaTokenDataArray(n_vocab=int(llama.n_vocab()))
    return sibling


def close_sibling_context(sibling: Any) -> None:
    """Frees the sibling's context and batch only; the shared model stays with its owner."""
    sibling._stack.close()
