"""Opening one llama.cpp context from a GGUF, with llama.cpp's own error text kept for the user.

Apart from the engine so that the loading knobs (threads, KV cache type, no memory mapping) and the
log capture sit in one place, away from generation.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

from smallcode_lsp.engine.llama_log import LOG_BRIDGE
from smallcode_lsp.engine.model_file import ModelLoadError

_LOG = logging.getLogger(__name__)

KV_CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8}
QUANTISED_KV = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"}  # these need flash attention in llama.cpp


def open_llama(llama_cpp: Any, path: Path, context_size: int, n_threads: int, kv_key: str) -> Any:
    """One llama context for `path`; llama.cpp's own error text goes into the ModelLoadError."""
    LOG_BRIDGE.errors.clear()
    printed = io.StringIO()
    try:
        # verbose=True keeps llama-cpp-python from dup2()-ing fds 1 and 2 to /dev/null while
        # loading, which would silently eat LSP messages written by other threads. Its
        # Python-side chatter goes to sys.stderr, captured here and sent to the debug log.
        with contextlib.redirect_stderr(printed):
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=context_size,
                n_batch=512,
                n_ubatch=512,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                type_k=KV_CACHE_TYPES[kv_key],
                type_v=KV_CACHE_TYPES[kv_key],
                flash_attn=kv_key in QUANTISED_KV,
                logits_all=False,
                n_gpu_layers=0,
                # Read the weights into memory instead of mapping the file: a GGUF truncated or
                # rewritten in place (a re-download, `cp` over it) would otherwise kill the server
                # with SIGBUS at the next token. Costs ~0.25 s of load for the 491 MB default model.
                use_mmap=False,
                verbose=True,
            )
    except (ValueError, RuntimeError, OSError) as exc:
        detail = LOG_BRIDGE.recent_errors() or str(exc)
        raise ModelLoadError(f"llama.cpp failed to load {path}: {detail}") from exc
    finally:
        if printed.getvalue():
            _LOG.debug("llama-cpp-python: %s", printed.getvalue().strip())
