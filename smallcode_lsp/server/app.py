"""The language server object: protocol plumbing plus references to the services it fronts."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path, urlparse, urlunparse
from pygls.workspace import TextDocument

from smallcode_lsp import __version__
from smallcode_lsp.agent.service import AgentService
from smallcode_lsp.completion.cache import TypeThroughCache
from smallcode_lsp.completion.pace import TypingPace
from smallcode_lsp.config import Settings
from smallcode_lsp.context.sources import ContextSources
from smallcode_lsp.engine.host import ModelHost
from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.watcher import IndexWatcher
from smallcode_lsp.index.workspace_index import WorkspaceIndex
from smallcode_lsp.server.cloud_dispatch import CloudDispatch
from smallcode_lsp.server.prefetch import Prefetcher
from smallcode_lsp.server.protocol import SmallCodeProtocol
from smallcode_lsp.server.stdio import serve

log = logging.getLogger(__name__)


class SmallCodeServer(LanguageServer):
    """Holds per-session state; handlers in `server/features/` stay thin and call services."""

    def __init__(self) -> None:
        super().__init__(
            "smallcode-lsp",
            __version__,
            protocol_cls=SmallCodeProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.settings = Settings()
        self.roots: list[Path] = []
        self.host = ModelHost()
        self.index: WorkspaceIndex | None = None
        self.sources: ContextSources | None = None
        self.index_state = "idle"  # idle | indexing | ready | error
        self.index_error: str | None = None
        self.last_index_stats: Any = None
        self.watcher: IndexWatcher | None = None
        self.parsed: dict[str, ParsedDocument] = {}
        self.cache = TypeThroughCache()
        self.pace = TypingPace()
        self.counters: Counter[str] = Counter()
        self.inflight: dict[str, threading.Event] = {}
        self.deferred_menus: dict[str, Any] = {}  # uri -> features.completion._DeferredMenu
        self.last_completion: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.prefetcher = Prefetcher()
        self.agent: AgentService | None = None  # built on first use (see features/agent_commands.py)
        self.agent_key: tuple[Any, ...] | None = None
        self.cloud: CloudDispatch | None = None  # built on first use (see cloud_dispatch.py)
        # uri -> (timer, edited line) of an index update waiting for a pause in typing.
        self.pending_publish: dict[str, tuple[asyncio.TimerHandle, int | None]] = {}

    # --- messages to the user -------------------------------------------------------------
    def tell(self, message: str, level: types.MessageType = types.MessageType.Info) -> None:
        """A `window/showMessage`, safe to call from any thread."""
        params = types.ShowMessageParams(type=level, message=f"SmallCode: {message}")
        self.call_soon(self.window_show_message, params)

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the event loop thread (protocol writes are not thread-safe)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve LSP over stdio with the resynchronising reader of `stdio.py` (pygls's loses every
        message after one malformed frame). Returns when the input ends or `exit` arrives; how the
        process then ends (exit code, children) is `server/lifecycle.py`'s business."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(serve(self.protocol, stdin or sys.stdin.buffer, self._stop_event))
        except (BrokenPipeError, KeyboardInterrupt):
            pass
        finally:
            self.shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Out-of-band errors are logged to the client's log, not popped up: one bad message from an
        # editor plugin should not nag the user.
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    # --- helpers for handlers ---------------------------------------------------------------
    def path_of(self, uri: str) -> str:
        return to_fs_path(uri) or uri

    def document(self, uri: str) -> TextDocument | None:
        """The open document `uri` names, or None (never a file read from disk)."""
        return self.protocol.open_document(uri)

    @staticmethod
    def doc_key(uri: str) -> str:
        """One spelling per document for the server's own tables: percent-encoding normalised, so
        "a_b.py" and "a%5Fb.py" meet; it names the same path as `uri` (unlike a plain unquote)."""
        try:
            return urlunparse(urlparse(uri))
        except (ValueError, TypeError):
            return uri
