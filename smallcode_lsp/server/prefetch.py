"""The suggestion after the one on screen, computed before the user accepts it.

Accepting ghost text and then waiting a second for the next line is the commonest stall in this
kind of tool. Once a suggestion is served and the model is idle, the server completes the document
as it will be after acceptance. If the user accepts (or types the suggestion along to its end), the
next request is answered from the cache, or joins the still-running generation instead of starting
over. Any other edit, or a real request for anything else, cancels the prefetch within one token:
real requests always come first.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smallcode_lsp.completion.accept import Acceptance, acceptance
from smallcode_lsp.completion.cache import CachedSuggestion, surroundings_key
from smallcode_lsp.completion.service import Completer, CompletionRequest, Suggestion

if TYPE_CHECKING:
    from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)


@dataclass
class Prefetch:
    uri: str
    accepted: Acceptance
    line: int  # cursor after acceptance
    column: int
    cancel: threading.Event
    request: CompletionRequest
    future: Future[Suggestion | None] | None = None  # None until launched
    timer: asyncio.TimerHandle | None = None


class Prefetcher:
    """At most one prefetch per document; all state is touched on the event loop only.

    A prefetch waits for `idle_s` without edits to its document before it takes the model: while
    the user types on, the two cores serve their keystrokes, not a guess. Typing along the
    suggestion restarts the wait; anything else cancels it.
    """

    def __init__(self, idle_s: float = 0.3) -> None:
        self.idle_s = idle_s
        self._by_uri: dict[str, Prefetch] = {}

    def start(
        self,
        ls: SmallCodeServer,
        uri: str,
        text: str,
        line: int,
        column: int,
        insert: str,
        replace_chars: int,
    ) -> None:
        """Complete `text` as it will be after `insert` is accepted at (`line`, `column`)."""
        self.cancel(uri)
        try:
            accepted = acceptance(text, line, column, insert, replace_chars)
        except ValueError:
            return
        new_line, new_column = accepted.cursor
        request = CompletionRequest(ls.path_of(uri), accepted.text, new_line, new_column, None)
        prefetch = Prefetch(uri, accepted, new_line, new_column, threading.Event(), request)
        self._by_uri[uri] = prefetch
        self._arm(ls, prefetch)

    def _arm(self, ls: SmallCodeServer, prefetch: Prefetch) -> None:
        if prefetch.timer is not None:
            prefetch.timer.cancel()
        if self.idle_s <= 0 or ls.loop is None or ls.loop.is_closed():
            self._launch(ls, prefetch)
        else:
            prefetch.timer = ls.loop.call_later(self.idle_s, self._launch, ls, prefetch)

    def _launch(self, ls: SmallCodeServer, prefetch: Prefetch) -> None:
        if prefetch.future is not None or prefetch.cancel.is_set():
            return
        prefetch.timer = None
        settings, sources, request, cancel = ls.settings, ls.sources, prefetch.request, prefetch.cancel
        future = ls.host.run(lambda engine: Completer(engine, sources).complete(request, settings, cancel))
        prefetch.future = future
        ls.counters["completion.prefetchStarted"] += 1
        future.add_done_callback(lambda _f: ls.call_soon(self._finished, ls, prefetch))

    def _finished(self, ls: SmallCodeServer, prefetch: Prefetch) -> None:
        if self._by_uri.get(prefetch.uri) is prefetch:
            del self._by_uri[prefetch.uri]
        future = prefetch.future
        if future is None or prefetch.cancel.is_set() or future.cancelled() or future.exception() is not None:
            return
        suggestion = future.result()
        if suggestion is None or not suggestion.text:
            return
        lines = prefetch.accepted.text.split("\n")
        line_text = lines[prefetch.line]
        ls.cache.store(
            CachedSuggestion(
                prefetch.uri,
                prefetch.line,
                line_text[: prefetch.column],
                line_text[prefetch.column :],
                suggestion.text,
                suggestion.replace_chars,
                surroundings_key(lines, prefetch.line),
            ),
            as_latest=False,  # the suggestion on screen stays the one typed through
        )
        ls.counters["completion.prefetchReady"] += 1

    def claim(self, ls: SmallCodeServer, uri: str, text: str, line: int, column: int) -> Prefetch | None:
        """The prefetch (waiting, running or just finished) for exactly this document and cursor,
        handed over to a request; a waiting one is launched at once."""
        prefetch = self._by_uri.get(uri)
        if prefetch is None or prefetch.cancel.is_set():
            return None
        if (prefetch.line, prefetch.column) != (line, column) or prefetch.accepted.text != text:
            return None
        del self._by_uri[uri]
        self._launch(ls, prefetch)
        return prefetch

    def document_changed(self, ls: SmallCodeServer, uri: str, text: str) -> None:
        """Keep the prefetch only while the buffer is still heading for the accepted text."""
        prefetch = self._by_uri.get(uri)
        if prefetch is None:
            return
        if not prefetch.accepted.reachable_from(text):
            self.cancel(uri)
        elif prefetch.future is None:
            self._arm(ls, prefetch)  # still typing: wait for the next pause

    def cancel(self, uri: str) -> None:
        prefetch = self._by_uri.pop(uri, None)
        if prefetch is not None:
            prefetch.cancel.set()
            if prefetch.timer is not None:
                prefetch.timer.cancel()
            if prefetch.future is not None:
                prefetch.future.cancel()  # not started yet: never runs

    def cancel_all(self) -> None:
        for uri in list(self._by_uri):
            self.cancel(uri)
