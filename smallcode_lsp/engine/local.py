"""In-process GGUF model engine on llama-cpp-python: load, tokenize, FIM prompts, greedy decoding.

One llama context stays warm for the engine's lifetime. Each generate() call evaluates only the
prompt tokens after the longest common prefix with what the context already holds, so repeated
completions in the same file pay only for what changed near the cursor.

Nothing here may write to stdout (the LSP channel): llama.cpp's log goes to Python logging.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallcode_lsp.engine.chat import ChatMessage, build_chat_prompt, runaway
from smallcode_lsp.engine.fim import FimTemplate, detect_fim_template, fit_budget
from smallcode_lsp.engine.llama_log import LOG_BRIDGE
from smallcode_lsp.engine.llama_open import KV_CACHE_TYPES, open_llama
from smallcode_lsp.engine.logprobs import TemperatureSampler, greedy_choice
from smallcode_lsp.engine.model_file import ModelLoadError, check_gguf_file, physical_core_count
from smallcode_lsp.engine.prompt_states import PromptStates
from smallcode_lsp.engine.sibling_context import close_sibling_context, open_sibling_context
from smallcode_lsp.engine.speculative import (
    MODES,
    DraftModel,
    Emission,
    PromptLookup,
    Verifier,
    decode_greedy,
    sync_cache,
    vocab_mismatch,
)
from smallcode_lsp.engine.text_stream import TextStream

_LOG = logging.getLogger(__name__)

# Prompt tokens decoded per llama_decode call: small enough to notice cancellation quickly,
# large enough to keep batched matrix products efficient on CPU.
PROMPT_CHUNK = 128
# An agent turn's prompt chunk: a waiting keystroke waits for at most one (~1 s on 2 cores); batches
# this small cost little more per token on a CPU (speculation.py measures batch costs).
AGENT_PROMPT_CHUNK = 32
# llama.cpp GGML type ids for the KV cache (ggml.h); quantised V needs flash attention.
# Longest speculative draft verified in one batch (the speculative.maxDraftTokens setting allows 64).
_MAX_DRAFT = 64


@dataclass
class Generation:
    """The result of one greedy generation."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop", "length", "cancelled" or "yielded" (see `LocalEngine.chat`)
    prompt_tokens: int
    reused_prompt_tokens: int
    seconds: float
    drafted_tokens: int = 0  # speculative draft tokens checked by the model
    accepted_tokens: int = 0  # of those, the ones the model agreed with
    decode_seconds: float = 0.0  # generation only, prompt evaluation excluded

    @property
    def evaluated_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.reused_prompt_tokens


class LocalEngine:
    """A loaded GGUF model with one warm llama context; see the module docstring."""

    def __init__(
        self,
        llama: Any,
        llama_cpp: Any,
        path: Path,
        fim_override: str,
        draft: Any = None,
        draft_path: Path | None = None,
    ) -> None:
        self._llama = llama
        self._sibling: Any = None  # agent turns' own context, opened on first use (sibling_context.py)
        self._sibling_error: str | None = None
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
        # Batch verification needs rejected positions removed from the cache: not on recurrent models.
        self._verifier = Verifier(llama, llama_cpp, _MAX_DRAFT + 1) if self._partial_reuse else None
        # Going back to a file restores its saved KV cache instead of re-reading its prompt.
        self._states = PromptStates.for_context(llama, llama_cpp)
        self._draft = None
        if draft is not None:
            draft_states = PromptStates.for_context(draft, llama_cpp)
            self._draft = DraftModel(draft, llama_cpp, chunk=PROMPT_CHUNK, states=draft_states)
        self.draft_path: Path | None = draft_path if draft is not None else None
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
        draft_path: str | Path | None = None,
    ) -> LocalEngine:
        """Loads a GGUF file (and a draft model for speculation); raises ModelLoadError on failure."""
        path = Path(path).expanduser()
        draft_file = Path(draft_path).expanduser() if draft_path else None
        kv_key = kv_cache_type.strip().lower()
        if kv_key not in KV_CACHE_TYPES:
            raise ValueError(f"unknown KV cache type {kv_cache_type!r}; valid: {', '.join(KV_CACHE_TYPES)}")
        detect_fim_template(lambda _: False, fim_template)  # validates the name before the slow load
        check_gguf_file(path)
        if draft_file is not None:
            check_gguf_file(draft_file)
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError(
                f"llama-cpp-python is not installed or failed to import ({exc}); "
                "install it with `pip install llama-cpp-python`."
            ) from exc
        LOG_BRIDGE.install(llama_cpp)
        n_threads = threads if threads > 0 else physical_core_count()
        started = time.perf_counter()
        llama = open_llama(llama_cpp, path, context_size, n_threads, kv_key)
        draft = None
        if draft_file is not None:
            try:
                draft = open_llama(llama_cpp, draft_file, context_size, n_threads, kv_key)
                problem = vocab_mismatch(llama, draft, llama_cpp)
            except ModelLoadError:
                llama.close()
                raise
            if problem is not None:
                llama.close()
                draft.close()
                raise ModelLoadError(
                    f"draft model {draft_file} cannot draft for {path}: the vocabularies differ ({problem}); "
                    "use a smaller model of the same family, or set speculative.mode to promptLookup."
                )
        engine = cls(llama, llama_cpp, path, fim_template, draft, draft_file)
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
        if draft_file is not None:
            _LOG.info("draft model %s loaded for speculative decoding", draft_file.name)
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
        speculation: str = "off",
        max_draft_tokens: int = 8,
        temperature: float = 0.0,
        seed: int = 0,
        own_context: bool = False,
        pause: Callable[[], bool] | None = None,
    ) -> Generation:
        """Greedy decoding of up to `max_tokens` tokens after `prompt` (sampled when `temperature` > 0,
        for agent retries; speculation is then off). `own_context` runs it in the agent's context,
        which leaves the completion context's KV cache (and the next keystroke's speed) alone; there
        the prompt is evaluated in small chunks, and `pause()` turning true between two of them ends
        the call with finish reason "yielded" (the evaluated part stays cached for the next call).

        Stops on end-of-generation tokens and template stop strings (neither appears in the
        text), when `should_stop(text_so_far)` returns True, or within one step of `cancel`
        being set. `speculation` ("off", "promptLookup", "draftModel") changes only the speed:
        drafts are kept only where they equal the greedy choice. (Cache rows computed in a batch
        differ from one-by-one rows in the last float bits, as with prefix reuse, so a near-tie
        can still resolve differently on a quantised model.)
        """
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) >= self.context_size:
            raise ValueError(
                f"prompt of {len(prompt)} tokens does not fit the {self.context_size}-token context"
            )
        if speculation not in MODES:
            raise ValueError(f"unknown speculation mode {speculation!r}; valid: {', '.join(MODES)}")
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("engine is closed")
            started = time.perf_counter()

            def cancelled() -> bool:
                return self._closed.is_set() or (cancel is not None and cancel.is_set())

            def interrupted() -> bool:
                return cancelled() or (pause is not None and pause())

            llama = self._agent_context() if own_context else self._llama
            chunk = AGENT_PROMPT_CHUNK if own_context else PROMPT_CHUNK
            if self._states is not None and llama is self._llama:
                self._states.prepare(prompt)
            reused, complete = sync_cache(llama, prompt, interrupted, chunk)
            sampling = temperature > 0
            # Drafts are verified in the main context only.
            drafts = complete and not sampling and llama is self._llama
            drafter = self._drafter(speculation, prompt, cancelled) if drafts else None
            if not complete or cancelled():
                finish = "cancelled" if cancelled() else "yielded"
                return Generation("", [], [], finish, len(prompt), reused, time.perf_counter() - started)
            decode_started = time.perf_counter()
            out = Emission(
                piece=self._piece,
                is_eog=lambda t: bool(self._lib.llama_vocab_is_eog(self._vocab, t)),
                stream=TextStream(self.fim.stop if self.fim else ()),
                max_tokens=max_tokens,
                context_size=self.context_size,
                should_stop=should_stop,
            )
            max_draft = max(1, min(max_draft_tokens, _MAX_DRAFT))
            verifier = self._verifier if drafter is not None else None
            choose = TemperatureSampler(temperature, seed=seed) if sampling else greedy_choice
            result = decode_greedy(
                llama,
                verifier,
                drafter,
                prompt,
                out,
                cancelled,
                max_draft_tokens=max_draft,
                choose=choose,
            )
            now = time.perf_counter()
            return Generation(
                out.stream.text,
                out.ids,
                out.logprobs,
                result.finish,
                len(prompt),
                reused,
                now - started,
                drafted_tokens=result.drafted,
                accepted_tokens=result.accepted,
                decode_seconds=now - decode_started,
            )

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        speculation: str = "off",
        temperature: float = 0.0,
        seed: int = 0,
        answer_prefix: Sequence[int] = (),
        should_yield: Callable[[], bool] | None = None,
    ) -> Generation:
        """The model's next assistant turn after `messages` (fix and tests requests), in the agent's
        own context; greedy unless `temperature` > 0.

        A long turn can give the model thread up to interactive requests: when `should_yield()` turns
        true the call ends with finish reason "yielded", and a later call with `answer_prefix` (the
        ids generated so far) carries on from the same cache. The text is the whole answer so far.
        """
        head = [self.bos_id] if self.add_bos and self.bos_id >= 0 else []
        prompt = build_chat_prompt(messages, tokenize=self.tokenize, token_id=self.token_id, head=head)
        ids = [*prompt.ids, *answer_prefix]
        room = self.context_size - len(ids) - 1
        if room < 16:
            raise ValueError(
                f"the request needs {len(ids)} prompt tokens; the {self.context_size}-token "
                "context leaves no room for an answer (raise model.contextSize)"
            )
        yielded = False

        def turn_ended(text: str) -> bool:
            nonlocal yielded
            if any(stop in text for stop in prompt.stop) or runaway(text):
                return True
            if should_yield is not None and should_yield():
                yielded = True
                return True
            return False

        generation = self.generate(
            ids,
            max_tokens=min(max_tokens, room),
            cancel=cancel,
            should_stop=turn_ended,
            speculation=speculation,
            temperature=temperature,
            seed=seed,
            own_context=True,
            pause=should_yield,
        )
        if yielded and generation.finish_reason == "stop":
            generation.finish_reason = "yielded"
        if answer_prefix:
            generation.text = self.detokenize(answer_prefix) + generation.text
        for stop in prompt.stop:
            generation.text = generation.text.split(stop, 1)[0]
        return generation

    @property
    def agent_context(self) -> str:
        """For `smallcode.status`: whether agent turns have their own KV cache."""
        if self._sibling is not None:
            return "own"
        return f"shared ({self._sibling_error})" if self._sibling_error else "not opened yet"

    def _agent_context(self) -> Any:
        """The agent's context, opened on first use; the shared one if a second cannot be made."""
        if self._sibling is None and self._sibling_error is None:
            try:
                self._sibling = open_sibling_context(self._llama, self._lib)
            except RuntimeError as exc:
                self._sibling_error = str(exc)
                _LOG.warning("agent turns share the completion context: %s", exc)
        return self._sibling if self._sibling is not None else self._llama

    def _drafter(
        self, mode: str, prompt: list[int], cancelled: Callable[[], bool]
    ) -> PromptLookup | DraftModel | None:
        """The drafter for `mode`; a draft model first catches up on the prompt (prompt time)."""
        if mode == "off" or self._verifier is None:
            return None
        if mode == "draftModel" and self._draft is not None:
            return self._draft if self._draft.prepare(prompt, cancelled) else None
        return PromptLookup(prompt)

    @property
    def saved_prompts(self) -> dict[str, int]:
        """What the saved KV caches did (prompt_states.py), for the status."""
        if self._states is None:
            return {"saves": 0, "restores": 0, "restoredTokens": 0, "bytes": 0}
        return self._states.describe()

    def close(self) -> None:
        """Frees the model; a generation in flight is cancelled first."""
        self._closed.set()
        with self._lock:
            if self._states is not None:
                self._states.clear()
            llama, self._llama = self._llama, None
            if self._sibling is not None:
                close_sibling_context(self._sibling)
                self._sibling = None
            if self._verifier is not None:
                self._verifier.close()
            if self._draft is not None:
                self._draft.close()
            if llama is not None:
                llama.close()


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
