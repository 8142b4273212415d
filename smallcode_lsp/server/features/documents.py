"""Open-document tracking: incremental tree-sitter reparse on every edit, index updates in pauses.

The reparse is cheap and the completion that follows needs it, so it happens at once. Re-chunking
the file for the workspace index costs milliseconds on a big file, and the inline-completion request
that an editor sends right behind each didChange would wait for it; so the index update (and the
recent-edit note) waits until typing pauses for `PUBLISH_DELAY_S`. Readers that need the index
exact (`workspace/symbol`) flush what is pending first.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types

from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.files import is_secret_path
from smallcode_lsp.index.languages import language_for_id, language_for_path
from smallcode_lsp.server import deferred_menu
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.positions import client_encoding

log = logging.getLogger(__name__)

PUBLISH_DELAY_S = 0.15


def _parseable(ls: SmallCodeServer, path: str, text: str) -> bool:
    """Secrets, binary content and oversized buffers are kept out of the index."""
    return len(text) <= ls.settings.index.max_file_bytes and "\x00" not in text and not is_secret_path(path)


def _publish(ls: SmallCodeServer, document: ParsedDocument, edited_line: int | None = None) -> None:
    if ls.index is not None and ls.index.is_indexable(Path(document.path)):
        ls.index.update_document(document)
        if edited_line is not None and ls.sources is not None:
            ls.sources.buffer_edited(document.path, edited_line)


def _schedule_publish(ls: SmallCodeServer, uri: str, edited_line: int | None) -> None:
    pending_line = cancel_pending_publish(ls, uri)
    if edited_line is None:
        edited_line = pending_line
    if ls.loop is None or ls.loop.is_closed():
        _publish_now(ls, uri, edited_line)
        return
    timer = ls.loop.call_later(PUBLISH_DELAY_S, _publish_now, ls, uri, edited_line)
    ls.pending_publish[uri] = (timer, edited_line)


def _publish_now(ls: SmallCodeServer, uri: str, edited_line: int | None) -> None:
    ls.pending_publish.pop(uri, None)
    document = ls.parsed.get(uri)
    if document is not None:
        try:
            _publish(ls, document, edited_line)
        except Exception:  # a timer callback must never take the loop down
            log.exception("index update failed for %s", uri)


def flush_pending_publishes(ls: SmallCodeServer, except_uri: str | None = None) -> None:
    """Bring the index up to date with every open buffer (but `except_uri`) now."""
    for uri, (timer, edited_line) in list(ls.pending_publish.items()):
        if uri == except_uri:
            continue
        timer.cancel()
        _publish_now(ls, uri, edited_line)


def cancel_pending_publish(ls: SmallCodeServer, uri: str) -> int | None:
    """Drop the index update waiting for `uri`; returns the edited line it carried."""
    pending = ls.pending_publish.pop(uri, None)
    if pending is None:
        return None
    pending[0].cancel()
    return pending[1]


def _drop_parsed(ls: SmallCodeServer, key: str, uri: str) -> None:
    """The buffer can no longer be parsed (binary, too big): serve it without symbols and let the
    index fall back to what is on disk, not to an older version of the buffer."""
    cancel_pending_publish(ls, key)
    if ls.parsed.pop(key, None) is not None and ls.index is not None:
        try:
            ls.index.update_file(Path(ls.path_of(uri)))
        except Exception:
            log.exception("index update failed for %s", uri)


def register(server: SmallCodeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SmallCodeServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        key = ls.doc_key(item.uri)
        path = ls.path_of(item.uri)
        spec = language_for_id(item.language_id) or language_for_path(path)
        ls.counters["documents.opened"] += 1
        cancel_pending_publish(ls, key)
        if spec is None or not _parseable(ls, path, item.text):
            _drop_parsed(ls, key, item.uri)
            return
        document = ParsedDocument(path, item.text, spec)
        ls.parsed[key] = document
        _publish(ls, document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SmallCodeServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        key = ls.doc_key(uri)
        current = ls.document(uri)
        if current is None:  # never opened: the protocol layer ignored it too
            return
        ls.pace.keystroke(key)
        stale = ls.inflight.get(key)
        if stale is not None and not deferred_menu.typing_along(ls, key):
            stale.set()  # the model must not keep working on an old version of this document
        ls.prefetcher.document_changed(ls, key, current.source)
        document = ls.parsed.get(key)
        if document is None:
            return
        encoding = client_encoding(ls)
        try:
            for change in params.content_changes:
                if isinstance(change, types.TextDocumentContentChangePartial):
                    r = change.range
                    start = document.offset(r.start.line, r.start.character, encoding)
                    end = document.offset(r.end.line, r.end.character, encoding)
                    document.apply_edit(min(start, end), max(start, end), change.text)
                else:
                    document.replace_all(change.text)
        except Exception:
            log.exception("incremental reparse failed; reparsing %s in full", uri)
            document.replace_all(current.source)
        if document.text != current.source:  # never serve symbols of a text the client does not have
            log.error("the parsed copy of %s drifted from the document; reparsing it in full", uri)
            document.replace_all(current.source)
        if not _parseable(ls, document.path, document.text):
            _drop_parsed(ls, key, uri)
            return
        last = params.content_changes[-1] if params.content_changes else None
        edited_line = (
            last.range.start.line if isinstance(last, types.TextDocumentContentChangePartial) else None
        )
        _schedule_publish(ls, key, edited_line)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SmallCodeServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        key = ls.doc_key(uri)
        cancel_pending_publish(ls, key)
        ls.prefetcher.cancel(key)
        if ls.sources is not None:
            ls.sources.buffer_closed(ls.path_of(uri))
        ls.cache.invalidate(key)
        ls.pace.forget(key)
        if ls.parsed.pop(key, None) is not None and ls.index is not None:
            ls.index.update_file(Path(ls.path_of(uri)))  # back to what is on disk
