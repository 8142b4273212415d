"""Open-document tracking: incremental tree-sitter reparse and live index updates on every edit."""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types

from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.files import is_secret_path
from smallcode_lsp.index.languages import language_for_id, language_for_path
from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)


def _parseable(ls: SmallCodeServer, path: str, text: str) -> bool:
    """Secrets, binary content and oversized buffers are kept out of the index."""
    return len(text) <= ls.settings.index.max_file_bytes and "\x00" not in text and not is_secret_path(path)


def _publish(ls: SmallCodeServer, document: ParsedDocument, edited_line: int | None = None) -> None:
    if ls.index is not None and ls.index.is_indexable(Path(document.path)):
        ls.index.update_document(document)
        if edited_line is not None and ls.sources is not None:
            ls.sources.buffer_edited(document.path, edited_line)


def register(server: SmallCodeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SmallCodeServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        path = ls.path_of(item.uri)
        spec = language_for_id(item.language_id) or language_for_path(path)
        ls.counters["documents.opened"] += 1
        if spec is None or not _parseable(ls, path, item.text):
            ls.parsed.pop(item.uri, None)
            return
        document = ParsedDocument(path, item.text, spec)
        ls.parsed[item.uri] = document
        _publish(ls, document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SmallCodeServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.pace.keystroke(uri)
        stale = ls.inflight.get(uri)
        if stale is not None:
            stale.set()  # the model must not keep working on an old version of this document
        document = ls.parsed.get(uri)
        if document is None:
            return
        try:
            for change in params.content_changes:
                if isinstance(change, types.TextDocumentContentChangePartial):
                    r = change.range
                    document.apply_change(
                        r.start.line, r.start.character, r.end.line, r.end.character, change.text
                    )
                else:
                    document.replace_all(change.text)
        except Exception:  # out-of-sync edit: fall back to the text pygls holds
            log.exception("incremental reparse failed; reparsing %s in full", uri)
            document.replace_all(ls.workspace.get_text_document(uri).source)
        if not _parseable(ls, document.path, document.text):
            ls.parsed.pop(uri, None)
            return
        last = params.content_changes[-1] if params.content_changes else None
        edited_line = (
            last.range.start.line if isinstance(last, types.TextDocumentContentChangePartial) else None
        )
        _publish(ls, document, edited_line)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SmallCodeServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.cache.invalidate(uri)
        ls.pace.forget(uri)
        if ls.parsed.pop(uri, None) is not None and ls.index is not None:
            ls.index.update_file(Path(ls.path_of(uri)))  # back to what is on disk
