"""Menu requests answered before their generation finished (`completion.menuWaitMs`).

A completion menu must not wait for a generation: Helix, for one, merges every server's items
before it shows any. A request that runs out of time is answered with an empty, incomplete list
while its generation goes on. Typing along that line must neither cancel the generation (didChange)
nor start a competing one (the next menu request): the finished suggestion lands in the cache, and
the type-through lookup serves the keystrokes that follow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.positions import client_encoding, locate, lsp_line_text


@dataclass
class DeferredMenu:
    line: int
    line_prefix: str  # the cursor line's text before the cursor when it was asked
    task: asyncio.Task

    def extended_by(self, line: int, line_prefix: str) -> bool:
        """Whether a cursor at `line` after `line_prefix` is this request's, typed on."""
        return line == self.line and line_prefix.startswith(self.line_prefix)


def running(ls: SmallCodeServer, uri: str) -> DeferredMenu | None:
    deferred: DeferredMenu | None = ls.deferred_menus.get(uri)
    return deferred if deferred is not None and not deferred.task.done() else None


def typing_along(ls: SmallCodeServer, uri: str) -> bool:
    """Whether the document's latest change left a running deferred request's line typed on."""
    deferred = running(ls, uri)
    document = ls.document(uri)
    if deferred is None or document is None:
        return False
    line_text = lsp_line_text(document.source, deferred.line)
    return line_text is not None and line_text.startswith(deferred.line_prefix)


def line_prefix_at(ls: SmallCodeServer, uri: str, position: types.Position) -> str | None:
    """The cursor line's text before `position` (None when the document or position is gone), found
    the way `suggest` finds the cursor."""
    document = ls.document(uri)
    if document is None:
        return None
    try:
        located = locate(document.source, position.line, position.character, client_encoding(ls))
    except JsonRpcInvalidParams:
        return None
    return document.source[located.line_start : located.offset]
