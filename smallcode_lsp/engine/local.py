"""In-process GGUF model engine on llama-cpp-python: load, tokenize, FIM prompts, greedy decoding.

One llama context stays warm for the engine's lifetime. Each generate() call evaluates only the
prompt tokens after the longest common prefix with what the context already holds, so repeated
completions in the same file pay only for what changed near the cursor.

Nothing here may write to stdout (the LSP channel): llama.cpp's log goes to Python logging.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smallcode_lsp.engine.fim import FimTemplate, detect_fim_template, fit_budget
from smallcode_lsp.engine.llama_log import LOG_BRIDGE
from smallcode_lsp.engine.logprobs import greedy_choice
from smallcode_lsp.engine.model_file import ModelLoadError, check_gguf_file, physical_core_count
from smallcode_lsp.engine.text_stream import TextStream

_LOG = logging.getLogger(__name__)

# Prompt tokens decoded per llama_decode call: small enough to notice cancellation quickly,
# large enough to keep batched matrix products efficient on CPU.
PROMPT_CHUNK = 128
# llama.cpp GGML type ids for the KV cache (ggml.h); quantised V needs flash attention.
_KV_CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8}
_QUANTISED_KV = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"}


@dataclass
class Generation:
    """The result of one greedy generation."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop", "length" or "cancelled"
    prompt_tokens: int
    reused_prompt_tokens: int
    seconds: float


class LocalEngine:
    """A loaded GGUF model with one warm llama context; see the module docstring."""

    def __init__(self, llama: Any, llama_cpp: Any, path: Path, fim_override: str) -> None:
        self._llama = llama
        self._lib = llama_cpp
        self._vocab = llama._model.vocab
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.path = path
        # llama.cpp may round n_ctx; llama-cpp-python's token buffer has the requested size.
        self.context_size: int = min(int(llama.n_ctx()), len(llama.input_ids))
        self.n_vocab: int = int(llama.n_vocab())
        meta = llama.metadata or {}
        arch = meta.get("general.architecture", "unknown")
        name = meta.get("general.name")
        self.family: str = f"{arch} ({name})" if name else arch
        self.fim: FimTemplate | None = detect_fim_template(self._has_token, fim_override)
        self.add_bos: bool = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self.bos_id: int = int(llama_cpp.llama_vocab_bos(self._vocab))
        self._partial_reuse = not (llama._is_recurrent or llama._is_hybrid)
        self._guarded_ids = self._marker_ids()
        self.notice: str | None = None
        if self.fim is None:
            self.notice = (
                f"{path.name}: the model has no fill-in-the-middle tokens, so completions use "
                "prefix-only prompting (text after the cursor is ignored). A FIM-trained code "
                "model (e.g. Qwen2.5-Coder, StarCoder2) gives better completions."
            )
            _LOG.warning("%s", self.notice)

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        context_size: int = 4096,
        threads: int = 0,
        kv_cache_type: str = "f16",
        fim_template: str = "auto",
    ) -> LocalEngine:
        """Loads a GGUF file; raises ModelLoadError with a user-facing message on failure."""
        path = Path(path).expanduser()
        kv_key = kv_cache_type.strip().lower()
        if kv_key not in _KV_CACHE_TYPES:
            raise ValueError(f"unknown KV cache type {kv_cache_type!r}; valid: {', '.join(_KV_CACHE_TYPES)}")
        detect_fim_template(lambda _: False, fim_template)  # validates the name before the slow load
        check_gguf_file(path)
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError(
                f"llama-cpp-python is not installed or failed to import ({exc}); "
                "install it with `pip install llama-cpp-python`."
            ) from exc
        LOG_BRIDGE.install(llama_cpp)
        LOG_BRIDGE.errors.clear()
        n_threads = threads if threads > 0 else physical_core_count()
        started = time.perf_counter()
        printed = io.StringIO()
        try:
            # verbose=True keeps llama-cpp-python from dup2()-ing fds 1 and 2 to /dev/null while
            # loading, which would silently eat LSP messages written by other threads. Its
            # Python-side chatter goes to sys.stderr, captured here and sent to the debug log.
            with contextlib.redirect_stderr(printed):
                llama = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=context_size,
                    n_batch=512,
                    n_ubatch=512,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    type_k=_KV_CACHE_TYPES[kv_key],
                    type_v=_KV_CACHE_TYPES[kv_key],
                    flash_attn=kv_key in _QUANTISED_KV,
                    logits_all=False,
                    n_gpu_layers=0,
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            detail = LOG_BRIDGE.recent_errors() or str(exc)
            raise ModelLoadError(f"llama.cpp failed to load {path}: {detail}") from exc
        finally:
            if printed.getvalue():
                _LOG.debug("llama-cpp-python: %s", printed.getvalue().strip())
        engine = cls(llama, llama_cpp, path, fim_template)
        _LOG.info(
            "loaded %s (%s) in %.2fs: n_ctx=%d threads=%d kv=%s fim=%s",
            path.name,
            engine.family,
            time.perf_counter() - started,
            engine.context_size,
            n_threads,
            kv_key,
            engine.fim.name if engine.fim else "none",
        )
        return engine

    # -- vocabulary ------------------------------------------------------------------------

    def _has_token(self, text: str) -> bool:
        return self.token_id(text) is not None

    def token_id(self, text: str) -> int | None:
        """The id of `text` if it is a single token of the vocabulary (e.g. a FIM marker)."""
        if not text:
            return None
        ids = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(ids) != 1:
            return None
        raw = self._lib.llama_vocab_get_text(self._vocab, ids[0])
        return ids[0] if raw is not None and raw.decode("utf-8", errors="replace") == text else None

    def _marker_ids(self) -> set[int]:
        if self.fim is None:
            return set()
        t = self.fim
        markers = (t.prefix, t.suffix, t.middle, t.repo_name, t.file_sep, *t.stop)
        return {i for m in markers if m and (i := self.token_id(m)) is not None}

    def tokenize(self, text: str) -> list[int]:
        """Token ids of user text: no BOS, and control tokens in the text stay plain text."""
        if not text:
            return []
        ids = list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        if self._guarded_ids.isdisjoint(ids):
            return ids
        # Some GGUFs mark FIM markers as user-defined, which llama.cpp matches even without
        # special parsing. Split each such marker after its first character so it stays text.
        return self._tokenize_defused(text)

    def _tokenize_defused(self, text: str) -> list[int]:
        markers = sorted({self.detokenize([i]) for i in self._guarded_ids} - {""}, key=len, reverse=True)
        pieces = [text]
        for marker in markers:
            pieces = [p for piece in pieces for p in _split_keep(piece, marker)]
        ids: list[int] = []
        for piece in pieces:
            parts = [piece[:1], piece[1:]] if piece in markers else [piece]
            for part in parts:
                if part:
                    ids.extend(self._llama.tokenize(part.encode("utf-8"), add_bos=False, special=False))
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def _piece(self, token: int) -> bytes:
        """Bytes of one token; control tokens render as their text so stop strings can match."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, size, 0, True)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def detokenize(self, ids: Sequence[int]) -> str:
        return b"".join(self._piece(int(i)) for i in ids).decode("utf-8", errors="replace")

    # -- prompts ---------------------------------------------------------------------------

    def fim_prompt(
        self, prefix: str, suffix: str, context: str | Sequence[int] = "", *, max_new_tokens: int = 256
    ) -> list[int]:
        """Token ids for a fill-in-the-middle request: context first, then the FIM layout.

        `context` is text (tokenized without special parsing) or ready token ids (which may hold
        repository markers such as `fim.file_sep`). Keeping it first makes it a stable prompt
        prefix whose KV cache survives edits at the cursor. Everything is trimmed to leave
        `max_new_tokens` of room in the context window.
        """
        ctx_ids = self.tokenize(context) if isinstance(context, str) else [int(i) for i in context]
        head = [self.bos_id] if self.add_bos and self.bos_id >= 0 else []
        fim = self.fim
        if fim is None:
            budget = self.context_size - max_new_tokens - len(head)
            ctx_ids, prefix_ids, _ = fit_budget(ctx_ids, self.tokenize(prefix), [], budget)
            return head + ctx_ids + prefix_ids
        pre, suf, mid = (self.token_id(m) for m in (fim.prefix, fim.suffix, fim.middle))
        if pre is None or suf is None or mid is None:
            raise ValueError(f"FIM template {fim.name!r} does not match this model's vocabulary")
        budget = self.context_size - max_new_tokens - len(head) - 3
        ctx_ids, prefix_ids, suffix_ids = fit_budget(
            ctx_ids, self.tokenize(prefix), self.tokenize(suffix), budget
        )
        return head + ctx_ids + [pre] + prefix_ids + [suf] + suffix_ids + [mid]

    # -- generation ------------------------------------------------------------------------

    def generate(
        self,
        prompt: list[int],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        should_stop: Callable[[str], bool] | None = None,
    ) -> Generation:
        """Greedy decoding of up to `max_tokens` tokens after `prompt`.

        Stops on end-of-generation tokens and template stop strings (neither appears in the
        text), when `should_stop(text_so_far)` returns True, or within one token of `cancel`
        being set.
        """
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) >= self.context_size:
            raise ValueError(
                f"prompt of {len(prompt)} tokens does not fit the {self.context_size}-token context"
            )
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("engine is closed")
            started = time.perf_counter()

            def cancelled() -> bool:
                return self._closed.is_set() or (cancel is not None and cancel.is_set())

            reused, complete = self._evaluate_prompt(prompt, cancelled)
            if not complete:
                return Generation("", [], [], "cancelled", len(prompt), reused, time.perf_counter() - started)
            text, ids, logprobs, finish = self._decode(max_tokens, cancelled, should_stop)
            return Generation(text, ids, logprobs, finish, len(prompt), reused, time.perf_counter() - started)

    def _evaluate_prompt(self, prompt: list[int], cancelled: Callable[[], bool]) -> tuple[int, bool]:
        """Brings the KV cache to `prompt`, reusing the common prefix; returns (reused, done)."""
        llama = self._llama
        cached = llama.n_tokens
        common = _common_prefix(llama.input_ids[:cached], prompt)
        if not self._partial_reuse and common < cached:
            common = 0
            llama.reset()
        # The last prompt token is always re-evaluated: its logits give the first new token.
        reused = min(common, len(prompt) - 1)
        llama.n_tokens = reused
        for start in range(reused, len(prompt), PROMPT_CHUNK):
            if cancelled():
                return reused, False
            llama.eval(prompt[start : start + PROMPT_CHUNK])
        return reused, True

    def _decode(
        self,
        max_tokens: int,
        cancelled: Callable[[], bool],
        should_stop: Callable[[str], bool] | None,
    ) -> tuple[str, list[int], list[float], str]:
        llama, lib = self._llama, self._lib
        stream = TextStream(self.fim.stop if self.fim else ())
        ids: list[int] = []
        logprobs: list[float] = []
        finish = "length"
        while len(ids) < max_tokens:
            if cancelled():
                finish = "cancelled"
                break
            logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llama.ctx, -1), shape=(self.n_vocab,))
            token, logprob = greedy_choice(logits)
            if lib.llama_vocab_is_eog(self._vocab, token):
                finish = "stop"
                break
            ids.append(token)
            logprobs.append(logprob)
            stop_at = stream.push(self._piece(token))
            if stop_at is not None:
                keep = sum(1 for s in stream.starts if s < stop_at)
                del ids[keep:], logprobs[keep:]
                stream.text = stream.text[:stop_at]
                finish = "stop"
                break
            if should_stop is not None and should_stop(stream.text):
                finish = "stop"
                break
            if len(ids) >= max_tokens or llama.n_tokens >= self.context_size:
                break
            llama.eval([token])
        return stream.text, ids, logprobs, finish

    def close(self) -> None:
        """Frees the model; a generation in flight is cancelled first."""
        self._closed.set()
        with self._lock:
            llama, self._llama = self._llama, None
            if llama is not None:
                llama.close()


def _common_prefix(cached: np.ndarray, prompt: Sequence[int]) -> int:
    n = min(len(cached), len(prompt))
    if n == 0:
        return 0
    diff = np.nonzero(cached[:n] != np.asarray(prompt[:n], dtype=cached.dtype))[0]
    return int(diff[0]) if len(diff) else n


def _split_keep(text: str, sep: str) -> list[str]:
    """Splits `text` on `sep`, keeping each separator as its own item."""
    parts = text.split(sep)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        if part:
            out.append(part)
    return out
