"""Build the workspace index in the background, report `$/progress`, then watch the disk.

One build runs at a time: a new one (`smallcode.reindex`, an `index.*` settings change) cancels the
one in progress and waits for it to stop. A build stops early when the client cancels its progress
(`window/workDoneProgress/cancel`) or the reindex request (`$/cancelRequest`); the index keeps what
it had read, `smallcode.status` says `cancelled`, and the next reindex re-reads only what is missing.
Problems with the on-disk cache (corrupt, locked by another server, unwritable) are shown once as
warnings; the index then lives in memory. The file watcher starts before the walk, held, so a file
changed while the build reads the tree is applied right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from lsprotocol import types

from smallcode_lsp.context.sources import ContextSources
from smallcode_lsp.index.watcher import IndexWatcher
from smallcode_lsp.index.workspace_index import IndexStats, WorkspaceIndex
from smallcode_lsp.models import cache_dir
from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)

_REPORT_EVERY_S = 0.2


@dataclass
class _Build:
    cancel: threading.Event = field(default_factory=threading.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    token: str | None = None  # its progress token, once one was asked for


_builds: weakref.WeakKeyDictionary[SmallCodeServer, _Build] = weakref.WeakKeyDictionary()


def cancel_indexing(ls: SmallCodeServer) -> None:
    """Ask the build in progress (if any) to stop at its next file; safe from any thread."""
    build = _builds.get(ls)
    if build is not None:
        build.cancel.set()


def register(server: SmallCodeServer) -> None:
    """`window/workDoneProgress/cancel` on a build's token stops it. Matched here by token, not via
    pygls's per-token future: a client may cancel before it has answered the token's `create`."""

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def on_progress_cancel(ls: SmallCodeServer, params: types.WorkDoneProgressCancelParams) -> None:
        build = _builds.get(ls)
        if build is not None and build.token is not None and build.token == params.token:
            build.cancel.set()


def _client_shows_progress(ls: SmallCodeServer) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


async def _begin_progress(ls: SmallCodeServer, title: str, build: _Build) -> str | None:
    if not _client_shows_progress(ls):
        return None
    token = build.token = f"smallcode-index-{uuid.uuid4()}"
    try:
        await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
    except Exception as exc:  # the client refused or never answered: index silently
        log.info("no progress token: %s", exc)
        return None
    begin = types.WorkDoneProgressBegin(title=title, cancellable=True, message="scanning", percentage=0)
    ls.work_done_progress.begin(token, begin)
    return token


def _end_progress(ls: SmallCodeServer, token: str | None, message: str) -> None:
    if token:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        ls.work_done_progress.tokens.pop(token, None)


def _tell_notices(ls: SmallCodeServer, index: WorkspaceIndex) -> None:
    for notice in index.take_notices():
        ls.tell(notice, types.MessageType.Warning)


async def build_index(ls: SmallCodeServer) -> None:
    """(Re)build the index of all workspace folders; safe to call again for `smallcode.reindex`."""
    build = _Build()
    previous = _builds.get(ls)
    _builds[ls] = build
    if previous is not None and not previous.done.is_set():
        previous.cancel.set()
        await previous.done.wait()
    try:
        await _build(ls, build)
    finally:
        build.done.set()


async def _build(ls: SmallCodeServer, build: _Build) -> None:
    if build.cancel.is_set():
        return  # superseded while waiting for the previous build
    if ls.watcher is not None:
        ls.watcher.stop()
        ls.watcher = None
    if ls.index is not None:
        ls.index.close()
    ls.index_state, ls.index_error = "indexing", None
    loop = asyncio.get_running_loop()
    try:
        index = await loop.run_in_executor(
            None, lambda: WorkspaceIndex(ls.roots, ls.settings.index, cache_dir() / "index")
        )
    except Exception as exc:  # never expected (the cache degrades to memory), but never fatal either
        log.exception("cannot create the index")
        ls.index_state, ls.index_error = "error", str(exc)
        return
    ls.index = index
    ls.sources = sources = ContextSources.for_index(index, [str(root) for root in ls.roots])
    _tell_notices(ls, index)
    token = await _begin_progress(ls, "SmallCode: indexing workspace", build)
    last_report = [0.0]

    def on_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if token is None or now - last_report[0] < _REPORT_EVERY_S:
            return
        last_report[0] = now
        message = f"{done}/{total} files" if total else f"scanning: {done} files found"
        percentage = int(100 * done / total) if total else 0
        report = types.WorkDoneProgressReport(message=message, percentage=percentage)
        ls.call_soon(ls.work_done_progress.report, token, report)

    def on_disk_change(path: str) -> None:
        ls.counters["index.watchEvents"] += 1
        sources.file_changed_on_disk(path)

    # Watch from before the walk (held: changes are applied after the build). The watches must be
    # in place before the build reads a file, or a change made right after the read is lost.
    watcher = IndexWatcher(index, on_change=on_disk_change, held=True)
    watching = loop.run_in_executor(None, watcher.start)
    with contextlib.suppress(Exception):  # a failure is reported below, where `watching` is awaited
        await asyncio.shield(watching)
    try:
        stats = await _run_build(loop, index, on_progress, build.cancel)
    except asyncio.CancelledError:
        ls.index_state = "cancelled"
        _end_progress(ls, token, "cancelled")
        await _stop_watcher(watcher, watching)
        raise
    except Exception as exc:  # keep serving open documents even if the walk failed
        log.exception("indexing failed")
        ls.index_state, ls.index_error = "error", str(exc)
        _end_progress(ls, token, f"failed: {exc}")
        await _stop_watcher(watcher, watching)
        return
    finally:
        _tell_notices(ls, index)
    for document in ls.parsed.values():  # open buffers are newer than the disk
        index.update_document(document)
    ls.last_index_stats = stats
    if build.cancel.is_set():
        ls.index_state = "cancelled"
        _end_progress(ls, token, f"cancelled: {stats.files} files indexed")
        await _stop_watcher(watcher, watching)
        return
    ls.index_state = "ready"
    _end_progress(ls, token, f"{stats.files} files, {stats.chunks} symbols in {stats.seconds:.1f}s")
    try:
        await watching
    except Exception as exc:  # e.g. inotify watch limit reached: the index still works, just not live
        log.warning("file watching unavailable: %s", exc)
        watcher.stop()
    else:
        ls.watcher = watcher
        watcher.release()
    await loop.run_in_executor(None, sources.lexical.warm)  # BM25 corpus, off the event loop


async def _stop_watcher(watcher: IndexWatcher, watching: asyncio.Future[None]) -> None:
    with contextlib.suppress(Exception):
        await watching
    watcher.stop()


async def _run_build(
    loop: asyncio.AbstractEventLoop,
    index: WorkspaceIndex,
    on_progress: Callable[[int, int], None],
    cancel: threading.Event,
) -> IndexStats:
    """`index.build` on a worker thread; if this task is cancelled, the build is told to stop too."""
    future = loop.run_in_executor(None, index.build, on_progress, cancel)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:  # $/cancelRequest of smallcode.reindex
        cancel.set()
        with contextlib.suppress(Exception):
            await future  # stops at the next file; the index must not be rebuilt under it
        raise
