"""Owns the loaded model and the one thread every model call runs on.

llama.cpp contexts are not thread-safe and a 2-core laptop gains nothing from parallel decoding, so
all model work is serialised on a single worker thread; the LSP event loop only awaits futures.
Loading happens in the background so the server answers symbol requests while the model loads, and a
load failure is kept as a message instead of an exception that would take the server down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from smallcode_lsp.config import ModelSettings
from smallcode_lsp.models import ModelNotAvailable, resolve_model_path

if TYPE_CHECKING:
    from smallcode_lsp.engine.local import LocalEngine

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelUnavailable(RuntimeError):
    """No model is loaded (still loading, or loading failed); the message says which and why."""


class ModelHost:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcode-model")
        self._lock = threading.Lock()
        self.engine: LocalEngine | None = None
        self.state = "unloaded"  # unloaded | loading | ready | error
        self.error: str | None = None
        self.notice: str | None = None  # a non-fatal load problem worth telling the user once

    def load(self, settings: ModelSettings) -> Future[None]:
        """Load (or reload, when model settings changed) on the model thread."""
        with self._lock:
            self.state = "loading"
            self.error = None
        return self._executor.submit(self._load, settings)

    def _load(self, settings: ModelSettings) -> None:
        from smallcode_lsp.engine.local import LocalEngine, ModelLoadError

        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.notice = None
        try:
            path = resolve_model_path(settings.path)
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
        except (ModelNotAvailable, ModelLoadError, ValueError, OSError) as exc:
            with self._lock:
                self.state, self.error = "error", str(exc)
            log.error("model not loaded: %s", exc)
            return
        with self._lock:
            self.engine, self.state = engine, "ready"

    def run(self, fn: Callable[[LocalEngine], T]) -> Future[T]:
        """Run `fn(engine)` on the model thread; the future fails with ModelUnavailable if none is loaded."""

        def call() -> T:
            if self.engine is None:
                if self.state == "error":
                    raise ModelUnavailable(f"the model failed to load: {self.error}")
                raise ModelUnavailable("the model is still loading")
            return fn(self.engine)

        return self._executor.submit(call)

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
        }

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.engine is not None:
            self.engine.close()
