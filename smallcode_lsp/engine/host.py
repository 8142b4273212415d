"""Owns the loaded model and the one thread every model call runs on.

llama.cpp contexts are not thread-safe and a 2-core laptop gains nothing from parallel decoding, so
all model work is serialised on a single worker thread; the LSP event loop only awaits futures.
Interactive calls (ghost text) go first: a long agent turn (a fix, generated tests) gives the thread
up at the next token whenever one is waiting, and carries on right after it. Agent turns run in their
own llama context (sibling_context.py), so the switch costs neither side its KV cache.
Loading happens in the background so the server answers symbol requests while the model loads, and a
load failure is kept as a message instead of an exception that would take the server down. Before
llama.cpp sees a file, its header and the memory the context size needs are checked (model_file.py):
a truncated file or a context the machine cannot hold is refused with a message instead of a crash.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from smallcode_lsp.config import ModelSettings
from smallcode_lsp.engine.model_file import check_memory, explain_load_error, read_model_shape
from smallcode_lsp.models import ModelNotAvailable, resolve_model_path

if TYPE_CHECKING:
    from smallcode_lsp.engine.chat import ChatMessage
    from smallcode_lsp.engine.local import Generation, LocalEngine

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long `shutdown` waits for the model thread to finish its call before leaving the engine open.
_CLOSE_WAIT_S = 3.0


class ModelUnavailable(RuntimeError):
    """No model is loaded (still loading, or loading failed); the message says which and why."""


class ModelHost:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcode-model")
        self._lock = threading.Lock()
        # Held by the model thread for each call and load; `shutdown` takes it to close the engine.
        self._engine_lock = threading.Lock()
        self.engine: LocalEngine | None = None
        self.state = "unloaded"  # unloaded | loading | ready | error
        self.error: str | None = None
        self.notice: str | None = None  # a non-fatal load problem worth telling the user once
        self._interactive_queued = 0

    def load(self, settings: ModelSettings) -> Future[None]:
        """Load (or reload, when model settings changed) on the model thread."""
        with self._lock:
            self.state = "loading"
            self.error = None
        return self._executor.submit(self._load, settings)

    def _load(self, settings: ModelSettings) -> None:
        with self._engine_lock:
            self._load_locked(settings)

    def _load_locked(self, settings: ModelSettings) -> None:
        from smallcode_lsp.engine.local import LocalEngine, ModelLoadError

        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.notice = None
        path = Path(settings.path or "the default model")
        try:
            path = resolve_model_path(settings.path)
            if path.is_file():  # a missing file gets check_gguf_file's message in LocalEngine.load
                check_memory(read_model_shape(path), settings.context_size, settings.kv_cache_type)
            options = {
                "context_size": settings.context_size,
                "threads": settings.threads,
                "kv_cache_type": settings.kv_cache_type,
                "fim_template": settings.fim_template,
            }
            try:
                engine = LocalEngine.load(path, draft_path=settings.draft_path, **options)
            except ModelLoadError as exc:
                if not settings.draft_path:
                    raise
                # A bad draft model must not cost the user the main model.
                engine = LocalEngine.load(path, **options)
                self.notice = f"draft model not used: {exc}"
        except ModelLoadError as exc:
            self._failed(explain_load_error(path, str(exc), settings.context_size))
            return
        except (ModelNotAvailable, ValueError, OSError, MemoryError) as exc:
            self._failed(str(exc))
            return
        with self._lock:
            self.engine, self.state = engine, "ready"

    def _failed(self, message: str) -> None:
        with self._lock:
            self.state, self.error = "error", message
        log.error("model not loaded: %s", message)

    def run(self, fn: Callable[[LocalEngine], T], *, interactive: bool = False) -> Future[T]:
        """Run `fn(engine)` on the model thread; the future fails with ModelUnavailable if none is loaded.

        `interactive` marks a call a typist waits for: background turns yield to it (`chat_in_background`).
        """
        started = threading.Event()

        def call() -> T:
            if interactive:
                self._interactive_started(started)
            with self._engine_lock:
                engine = self.engine
                if engine is None:
                    if self.state == "error":
                        raise ModelUnavailable(f"the model failed to load: {self.error}")
                    raise ModelUnavailable("the model is still loading")
                return fn(engine)

        if interactive:
            with self._lock:
                self._interactive_queued += 1
        future = self._executor.submit(call)
        if interactive:  # a call cancelled before it ran still leaves the queue
            future.add_done_callback(lambda _: self._interactive_started(started))
        return future

    def _interactive_started(self, started: threading.Event) -> None:
        with self._lock:
            if not started.is_set():
                started.set()
                self._interactive_queued -= 1

    def interactive_waiting(self) -> bool:
        return self._interactive_queued > 0

    def chat_in_background(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Generation:
        """One assistant turn that gives the model thread up to interactive calls while it runs.

        Called from a worker thread (it blocks). Each slice ends when a keystroke's request is
        queued; the next slice is queued behind it and continues the same answer.
        """
        answer: list[int] = []
        logprobs: list[float] = []
        while True:
            so_far = list(answer)

            def turn(engine: LocalEngine, so_far: list[int] = so_far) -> Generation:
                return engine.chat(
                    messages,
                    max_tokens=max_tokens - len(so_far),
                    cancel=cancel,
                    temperature=temperature,
                    seed=seed + len(so_far),
                    answer_prefix=so_far,
                    should_yield=self.interactive_waiting,
                )

            generation = self.run(turn).result()
            answer.extend(generation.token_ids)
            logprobs.extend(generation.logprobs)
            whole = dataclasses.replace(generation, token_ids=list(answer), logprobs=list(logprobs))
            if generation.finish_reason != "yielded":
                return whole
            if len(answer) >= max_tokens:
                return dataclasses.replace(whole, finish_reason="length")
            if cancel is not None and cancel.is_set():
                return dataclasses.replace(whole, finish_reason="cancelled")

    def wait_loaded(self, timeout: float | None = None) -> None:
        """Block until queued loads finished (used by the CLI)."""
        self._executor.submit(lambda: None).result(timeout)

    def describe(self) -> dict[str, object]:
        engine = self.engine
        return {
            "state": self.state,
            "error": self.error,
            "path": str(engine.path) if engine else None,
            "family": engine.family if engine else None,
            "fimTemplate": engine.fim.name if engine and engine.fim else None,
            "contextSize": engine.context_size if engine else None,
            "draftPath": str(engine.draft_path) if engine and engine.draft_path else None,
            "agentContext": engine.agent_context if engine else None,
            "savedPrompts": engine.saved_prompts if engine else None,
        }

    def shutdown(self) -> None:
        """Drop queued calls, then close the engine once the call in progress has ended.

        Closing it while a generation runs would free llama.cpp memory under it (a crash at exit);
        if that call does not end within `_CLOSE_WAIT_S`, the engine is left to the OS.
        """
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not self._engine_lock.acquire(timeout=_CLOSE_WAIT_S):
            log.info("model engine left open at shutdown: a call is still running")
            return
        try:
            engine, self.engine = self.engine, None
        finally:
            self._engine_lock.release()
        if engine is not None:
            engine.close()
