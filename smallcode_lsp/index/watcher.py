"""Keep the index in step with changes made outside the editor (git checkout, codegen, other tools).

watchdog delivers events on its own thread; this module only records the touched paths there and
lets a debounce thread apply them ~100 ms after the burst settles, so a `git checkout` of 500 files
becomes one pass instead of 1,500 reparses, and nothing can raise back into watchdog.

A watcher can start `held`: it records events but applies none until `release()`. The server starts
it that way before the first build, so a file rewritten or deleted while the build reads the tree
is caught afterwards (applying it during the build would be overwritten by the build's older view).
Symlinked directories are not followed (watchdog's default), so links that loop cost nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from smallcode_lsp.index.ignore import SKIP_DIRS
from smallcode_lsp.index.workspace_index import WorkspaceIndex

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: IndexWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type in ("opened", "closed", "closed_no_write"):
                return
            paths = [os.fsdecode(event.src_path)]
            dest = getattr(event, "dest_path", "")
            if dest:
                paths.append(os.fsdecode(dest))
            self._watcher.enqueue(paths, event.is_directory)
        except Exception:  # never let an error escape into watchdog's thread
            log.exception("index watcher: cannot handle %r", event)


class IndexWatcher:
    """Watches every root of a `WorkspaceIndex` recursively and applies changes in debounced batches."""

    def __init__(
        self,
        index: WorkspaceIndex,
        on_change: Callable[[str], None] | None = None,
        held: bool = False,
    ) -> None:
        self.index = index
        self.on_change = on_change
        self._released = threading.Event()
        if not held:
            self._released.set()
        self._pending: dict[str, bool] = {}  # path -> is a directory
        self._last_event = 0.0
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._observer: Observer | None = None
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        if self._observer is not None:
            return
        self._stopped.clear()
        observer = Observer()
        handler = _Handler(self)
        for root in self.index.roots:
            if os.path.isdir(root):
                observer.schedule(handler, root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._worker = threading.Thread(target=self._run, name="smallcode-index-watcher", daemon=True)
        self._worker.start()

    def release(self) -> None:
        """Start applying changes, those recorded while held first."""
        self._released.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=2)
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(timeout=2)

    def enqueue(self, paths: list[str], is_directory: bool) -> None:
        """Record touched paths (cheap: runs on watchdog's thread)."""
        relevant = [p for p in paths if not self._in_skipped_dir(p)]
        if not relevant:
            return
        with self._cond:
            for path in relevant:
                self._pending[path] = self._pending.get(path, False) or is_directory
            self._last_event = time.monotonic()
            self._cond.notify_all()

    def _in_skipped_dir(self, path: str) -> bool:
        """Events under .git, node_modules, caches... (relative to the root) are noise."""
        for root in self.index.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep):
                parts = path[len(root) :].replace("\\", "/").strip("/").split("/")
                return any(part in SKIP_DIRS for part in parts[:-1])
        return True

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self._cond:
                while not (self._pending and self._released.is_set()) and not self._stopped.is_set():
                    self._cond.wait()
                # Debounce: wait until no event arrived for DEBOUNCE_SECONDS.
                while not self._stopped.is_set():
                    quiet = time.monotonic() - self._last_event
                    if quiet >= DEBOUNCE_SECONDS:
                        break
                    self._cond.wait(DEBOUNCE_SECONDS - quiet)
                batch, self._pending = self._pending, {}
            if self._stopped.is_set():
                return
            for path, is_directory in batch.items():
                try:
                    self._apply(path, is_directory)
                except Exception:
                    log.exception("index watcher: cannot update %s", path)

    def _apply(self, path: str, is_directory: bool) -> None:
        index = self.index
        if is_directory or os.path.isdir(path):
            if os.path.isdir(path):
                self._apply_tree(path)
            for known in index.files_under(path):
                if not os.path.exists(known):
                    index.remove_file(known)
                    self._notify(known)
            return
        if os.path.isfile(path) and index.is_indexable(path):
            if index.update_file(path):
                self._notify(path)
        elif index.has_file(path):
            index.remove_file(path)
            self._notify(path)

    def _apply_tree(self, directory: str) -> None:
        """A directory appeared (moved in, unpacked): index what is inside."""
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                full = os.path.join(dirpath, name)
                if self.index.is_indexable(full) and self.index.update_file(full):
                    self._notify(full)

    def _notify(self, path: str) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(path)
        except Exception:
            log.exception("index watcher: on_change failed for %s", path)
