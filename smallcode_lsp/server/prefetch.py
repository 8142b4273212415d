"""The suggestion after the one on screen, computed before the user accepts it.

Accepting ghost text and then waiting a second for the next line is the commonest stall in this
kind of tool. Once a suggestion is served and the model is idle, the server completes the document
as it will be after acceptance. If the user accepts (or types the suggestion along to its end), the
next request is answered from the cache, or joins the still-running generation instead of starting
over. Any other edit, or a real request for anything else, cancels the prefetch within one token:
real requests always come first.
"""

from __future__ import annotations

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
    future: Future[Suggestion | None]


class Prefetcher:
    """At most one prefetch per document; all state is touched on the event loop only."""

    def __init__(self) -> None:
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
        settings, sources = ls.settings, ls.sources
        cancel = threading.Event()
        future = ls.host.run(lambda engine: Completer(engine, sources).complete(request, settings, cancel))
        prefetch = Prefetch(uri, accepted, new_line, new_column, cancel, future)
        self._by_uri[uri] = prefetch
        ls.counters["completion.prefetchStarted"] += 1
        future.add_done_callback(lambda _f: ls.call_soon(self._finished, ls, prefetch))

    def _finished(self, ls: SmallCodeServer, prefetch: Prefetch) -> None:
        if self._by_uri.get(prefetch.uri) is prefetch:
            del self._by_uri[prefetch.uri]
        future = prefetch.future
        if prefetch.cancel.is_set() or future.cancelled() or future.exception() is not None:
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

    def claim(self, uri: str, text: str, line: int, column: int) -> Prefetch | None:
        """The prefetch (running or just finished) for exactly this document and cursor, handed over
        to a request."""
        prefetch = self._by_uri.get(uri)
        if prefetch is None or prefetch.cancel.is_set() or prefetch.future.cancelled():
            return None
        if (prefetch.line, prefetch.column) != (line, column) or prefetch.accepted.text != text:
            return None
        del self._by_uri[uri]
        return prefetch

    def document_changed(self, uri: str, text: str) -> None:
        """Keep the prefetch only while the buffer is still heading for the accepted text."""
        prefetch = self._by_uri.get(uri)
        if prefetch is not None and not prefetch.accepted.reachable_from(text):
            self.cancel(uri)

    def cancel(self, uri: str) -> None:
        prefetch = self._by_uri.pop(uri, None)
        if prefetch is not None:
            prefetch.cancel.set()
            prefetch.future.cancel()  # not started yet: never runs

    def cancel_all(self) -> None:
        for uri in list(self._by_uri):
            self.cancel(uri)
