"""Build the workspace index in the background, report `$/progress`, then watch the disk."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from lsprotocol import types

from smallcode_lsp.context.sources import ContextSources
from smallcode_lsp.index.watcher import IndexWatcher
from smallcode_lsp.index.workspace_index import WorkspaceIndex
from smallcode_lsp.models import cache_dir
from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)


def _client_shows_progress(ls: SmallCodeServer) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


async def _begin_progress(ls: SmallCodeServer, title: str) -> str | None:
    if not _client_shows_progress(ls):
        return None
    token = f"smallcode-index-{uuid.uuid4()}"
    try:
        await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
    except Exception as exc:  # the client refused or never answered: index silently
        log.info("no progress token: %s", exc)
        return None
    ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))
    return token


async def build_index(ls: SmallCodeServer) -> None:
    """(Re)build the index of all workspace folders; safe to call again for `smallcode.reindex`."""
    if ls.watcher is not None:
        ls.watcher.stop()
        ls.watcher = None
    if ls.index is not None:
        ls.index.close()
    ls.index_state = "indexing"
    ls.index = index = WorkspaceIndex(ls.roots, ls.settings.index, cache_dir() / "index")
    ls.sources = sources = ContextSources.for_index(index, [str(root) for root in ls.roots])
    token = await _begin_progress(ls, "SmallCode: indexing workspace")
    last_report = [0.0]

    def on_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if token is None or now - last_report[0] < 0.2:
            return
        last_report[0] = now
        pct = int(100 * done / total) if total else 100
        report = types.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=pct)
        ls.call_soon(ls.work_done_progress.report, token, report)

    loop = asyncio.get_running_loop()
    try:
        stats = await loop.run_in_executor(None, index.build, on_progress)
    except Exception as exc:  # keep serving open documents even if the walk failed
        log.exception("indexing failed")
        ls.index_state, ls.index_error = "error", str(exc)
        if token:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"failed: {exc}"))
        return
    for document in ls.parsed.values():  # open buffers are newer than the disk
        index.update_document(document)
    ls.index_state, ls.index_error = "ready", None
    ls.last_index_stats = stats
    if token:
        message = f"{stats.files} files, {stats.chunks} symbols in {stats.seconds:.1f}s"
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
    await loop.run_in_executor(None, sources.lexical.warm)  # BM25 corpus, off the event loop

    def on_disk_change(path: str) -> None:
        ls.counters["index.watchEvents"] += 1
        sources.file_changed_on_disk(path)

    ls.watcher = IndexWatcher(index, on_change=on_disk_change)
    try:  # thousands of directory watches take a while: not on the event loop
        await loop.run_in_executor(None, ls.watcher.start)
    except Exception as exc:  # e.g. inotify watch limit reached: the index still works, just not live
        log.warning("file watching unavailable: %s", exc)
        ls.watcher = None
