"""The workspace symbol index service: walk, cache, parse, keep current, answer lookups.

Thread model: `build` runs on a worker thread and does its heavy work (walk, read, parse, SQLite)
without the lock, then swaps results in under an RLock; queries and single-file updates from the
event loop or the file watcher take the same lock briefly (a first build fills a fresh table off the
lock and swaps it in, so 100,000 files never hold the event loop up). SQLite writes happen outside
the lock too: a cache locked by another server must not stall queries. Chunks of open buffers
(`update_document`) take precedence over disk until the file is re-read (`update_file`, e.g. on save)
or removed. `build` can be cancelled (and `close` cancels it) between directories and files.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index.chunker import Chunk, chunk_source
from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.files import DirCache, is_minified_name, is_secret_path, walk_source_files
from smallcode_lsp.index.ignore import IgnoreRules
from smallcode_lsp.index.languages import language_for_path, query_fingerprint
from smallcode_lsp.index.parsing import process_files, read_source
from smallcode_lsp.index.store import FileRecord, IndexStore, StoredChunks, content_hash, db_path_for_root
from smallcode_lsp.index.symbol_table import FileChunks, SymbolTable

_PROGRESS_EVERY = 50
_WALK_PROGRESS_EVERY = 2000
_DECODE_BATCH = 256
_WRITE_BATCH = 2000


@dataclass
class IndexStats:
    files: int
    chunks: int
    reused_files: int
    parsed_files: int
    seconds: float


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def _load_cache(
    stores: dict[str, IndexStore], load_chunks: bool
) -> tuple[dict[str, dict[str, FileRecord]], dict[str, StoredChunks] | None]:
    """Stored file records per root, and (on a restart) every stored file's still-encoded chunks.

    Done after the walk, not beside it on a thread: both are GIL-bound now, and contending for the
    GIL made each slower than the two in a row.
    """
    records = {root: store.load_files() for root, store in stores.items()}
    if not load_chunks or not any(records.values()):
        return records, None
    chunks: dict[str, StoredChunks] = {}
    for store in stores.values():
        chunks.update(store.load_chunks())
    return records, chunks


class WorkspaceIndex:
    """Symbols of every indexable file under the workspace roots."""

    def __init__(
        self,
        roots: list[Path],
        settings: IndexSettings,
        cache_dir: Path | None,
        workers: int | None = None,
    ) -> None:
        """`workers`: parse processes for big builds (None = one per CPU, 1 = parse in this process)."""
        self.settings = settings
        self.workers = workers
        # Deepest root first, so a file in a nested root belongs to that root.
        self.roots: list[str] = sorted({_norm(r) for r in roots}, key=len, reverse=True)
        self._rules = {root: IgnoreRules(Path(root), settings.exclude) for root in self.roots}
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._closed = threading.Event()
        self._table = SymbolTable()
        self._records: dict[str, FileRecord] = {}
        self._overridden: set[str] = set()  # paths whose chunks come from an open buffer
        self._stores: dict[str, IndexStore] = {}
        if cache_dir is not None:
            fingerprint = query_fingerprint()
            for root in self.roots:
                self._stores[root] = IndexStore(db_path_for_root(cache_dir, Path(root)), fingerprint)

    # ----------------------------------------------------------------- membership

    def _root_for(self, path: str) -> str | None:
        for root in self.roots:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return root
        return None

    def is_indexable(self, path: Path | str) -> bool:
        """Inside a root, not ignored/excluded/secret, and in a supported language (size not checked)."""
        full = _norm(path)
        root = self._root_for(full)
        if root is None or full == root or language_for_path(full) is None:
            return False
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        if is_secret_path(rel) or is_minified_name(os.path.basename(full)):
            return False
        return not self._rules[root].is_ignored(rel)

    # ----------------------------------------------------------------- building

    def build(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexStats:
        """Walk all roots; reuse cached chunks of unchanged files, parse the rest, persist, swap in.

        `progress(done, total)` is called with total 0 while the walk is still counting files.
        """
        started = time.perf_counter()
        closed = self._closed

        def should_stop() -> bool:
            return closed.is_set() or (cancel is not None and cancel.is_set())

        with self._build_lock:
            with self._lock:
                stores = dict(self._stores)  # close() may empty the live dict mid-build
                memory_records = dict(self._records)
                table = self._table
                memory_files = {p: table.raw(p) for p in table.paths() if p not in self._overridden}
            dir_caches = {root: DirCache(store.load_dirs()) for root, store in stores.items()}
            found = self._walk(dir_caches, should_stop, progress)
            total = len(found)
            stored_by_root, stored_chunks = _load_cache(stores, load_chunks=not memory_records)
            stored_records: dict[str, FileRecord] = {}
            for records in stored_by_root.values():
                stored_records.update(records)

            result: dict[str, tuple[FileRecord, FileChunks]] = {}
            updates: dict[str, list[tuple[FileRecord, FileChunks | None]]] = {r: [] for r in stores}

            def save(root: str, record: FileRecord, chunks: FileChunks | None) -> None:
                """Queue a row; written in batches as parsing goes (bounded memory, and a cancelled
                build keeps what it saved)."""
                pending = updates.get(root)
                if pending is None:
                    return
                pending.append((record, chunks))
                if len(pending) >= _WRITE_BATCH:
                    stores[root].write(pending)
                    updates[root] = []

            to_parse: list[tuple[str, str, os.stat_result]] = []
            reused = 0
            for path, (root, stat) in found.items():
                known = memory_records.get(path)
                if known is not None and path in memory_files and self._same_stat(known, stat):
                    result[path] = (known, memory_files[path])
                    if path not in stored_records:
                        save(root, known, memory_files[path])
                    reused += 1
                    continue
                stored = stored_records.get(path)
                if stored is not None and self._same_stat(stored, stat):
                    if stored_chunks is None:
                        stored_chunks = self._load_stored_chunks()
                    result[path] = (stored, stored_chunks.get(path) or [])
                    reused += 1
                    continue
                to_parse.append((path, root, stat))
            found.clear()  # the stat results are no longer needed: free them before parsing
            if progress is not None:
                progress(reused, total)

            parsed = 0
            done = reused
            only_root = self.roots[0] if len(self.roots) == 1 else None
            root_of = self._root_for if only_root is None else (lambda _path: only_root)
            jobs = [(path, stat.st_mtime_ns, stat.st_size) for path, _root, stat in to_parse]
            known_hashes = {
                path: stored_records[path].hash for path, _r, _s in to_parse if path in stored_records
            }
            to_parse.clear()
            for path, mtime_ns, size, digest, parsed_chunks in process_files(
                jobs, self.settings.max_file_bytes, known_hashes, self.workers, should_stop
            ):
                done += 1
                if digest:
                    record = FileRecord(path, mtime_ns, size, digest)
                    if parsed_chunks is None:
                        # Touched but not changed: keep the chunks, refresh the stat.
                        if stored_chunks is None:
                            stored_chunks = self._load_stored_chunks()
                        result[path] = (record, stored_chunks.get(path) or [])
                        save(root_of(path) or "", record, None)
                        reused += 1
                    else:
                        result[path] = (record, parsed_chunks)
                        save(root_of(path) or "", record, parsed_chunks)
                        parsed += 1
                if progress is not None and done % _PROGRESS_EVERY == 0:
                    progress(done, total)
            cancelled = should_stop()
            if closed.is_set():
                return IndexStats(0, 0, reused, parsed, time.perf_counter() - started)

            for root, store in stores.items():
                # A cancelled walk saw only part of the tree: neither files nor listings are gone.
                deletes = [] if cancelled else [p for p in stored_by_root[root] if p not in result]
                dirs = dir_caches[root]
                forget = [] if cancelled else dirs.listings_to_forget()
                store.write(updates[root], deletes, dirs.listings_to_store(), forget)

            fresh = self._fresh_table(result) if not cancelled and not memory_files else None
            with self._lock:
                if fresh is not None:
                    self._swap_in(fresh, result)
                else:
                    self._merge_in(result, remove_missing=not cancelled)
                table = self._table
                stats = IndexStats(
                    files=len(table),
                    chunks=table.chunk_count,
                    reused_files=reused,
                    parsed_files=parsed,
                    seconds=time.perf_counter() - started,
                )
            if progress is not None:
                progress(total if not cancelled else done, total)
            return stats

    @staticmethod
    def _fresh_table(result: dict[str, tuple[FileRecord, FileChunks]]) -> SymbolTable:
        """A table of the whole result, filled off the lock (a first build or a restart)."""
        fresh = SymbolTable()
        for path, (_record, chunks) in result.items():
            fresh.set_file(path, chunks)
        return fresh

    def _swap_in(self, fresh: SymbolTable, result: dict[str, tuple[FileRecord, FileChunks]]) -> None:
        """Replace the table (under the lock): open buffers keep their symbols."""
        old = self._table
        for path in self._overridden:
            chunks = old.raw(path)
            if chunks is not None:
                fresh.set_file(path, chunks)
        self._table = fresh
        self._records = {path: record for path, (record, _chunks) in result.items()}

    def _merge_in(self, result: dict[str, tuple[FileRecord, FileChunks]], remove_missing: bool) -> None:
        """Apply a rebuild's changes to the live table (under the lock): touches only what changed."""
        table = self._table
        if remove_missing:
            for path in table.paths():
                if path not in result and path not in self._overridden:
                    table.remove_file(path)
                    self._records.pop(path, None)
        for path, (record, chunks) in result.items():
            self._records[path] = record
            if path not in self._overridden and table.raw(path) is not chunks:
                table.set_file(path, chunks)

    def _walk(
        self,
        dir_caches: dict[str, DirCache],
        should_stop: Callable[[], bool],
        progress: Callable[[int, int], None] | None,
    ) -> dict[str, tuple[str, os.stat_result]]:
        """Every indexable file: path -> (its root, its stat). Nested roots claim their own files."""
        found: dict[str, tuple[str, os.stat_result]] = {}
        for root in self.roots:
            walk = walk_source_files(Path(root), self.settings, dir_caches.get(root), should_stop)
            for path, stat in walk:
                if path not in found and self._root_for(path) == root:
                    found[path] = (root, stat)
                    if progress is not None and len(found) % _WALK_PROGRESS_EVERY == 0:
                        progress(len(found), 0)
        return found

    @staticmethod
    def _same_stat(record: FileRecord, stat: os.stat_result) -> bool:
        return record.mtime_ns == stat.st_mtime_ns and record.size == stat.st_size

    def _load_stored_chunks(self) -> dict[str, StoredChunks]:
        out: dict[str, StoredChunks] = {}
        for store in self._stores.values():
            out.update(store.load_chunks())
        return out

    # ----------------------------------------------------------------- single-file updates

    def update_file(self, path: Path | str) -> bool:
        """Re-read one file from disk; returns whether its chunks changed. Drops it when not indexable."""
        full = _norm(path)
        if not self.is_indexable(full):
            return self._remove(full)
        try:
            stat = os.stat(full)
        except OSError:
            return self._remove(full)
        if not S_ISREG(stat.st_mode) or stat.st_size > self.settings.max_file_bytes:
            return self._remove(full)  # a FIFO named x.py would block the read forever
        with self._lock:
            known = self._records.get(full)
            if known is not None and full not in self._overridden and self._same_stat(known, stat):
                return False
        data = read_source(full, self.settings.max_file_bytes)
        if data is None:
            return self._remove(full)
        record = FileRecord(full, stat.st_mtime_ns, stat.st_size, content_hash(data))
        root = self._root_for(full)
        store = self._stores.get(root) if root is not None else None
        with self._lock:
            known = self._records.get(full)
            unchanged = known is not None and known.hash == record.hash and full not in self._overridden
            if unchanged:
                self._records[full] = record
        if unchanged:
            if store is not None:
                store.write([(record, None)])
            return False
        spec = language_for_path(full)
        chunks = chunk_source(data, spec, full) if spec is not None else []
        with self._lock:
            changed = self._table.chunks(full) != chunks
            self._overridden.discard(full)
            self._records[full] = record
            if changed or full not in self._table:
                self._table.set_file(full, chunks)
        if store is not None:
            store.write([(record, chunks)])
        return changed

    def remove_file(self, path: Path | str) -> None:
        """Forget a file (deleted, or no longer indexable)."""
        self._remove(_norm(path))

    def _remove(self, full: str) -> bool:
        with self._lock:
            chunks = self._table.remove_file(full)
            had_record = self._records.pop(full, None) is not None
            self._overridden.discard(full)
            root = self._root_for(full)
            store = self._stores.get(root) if root is not None else None
        if store is not None and had_record:
            store.write((), [full])
        return bool(chunks)

    def has_file(self, path: Path | str) -> bool:
        full = _norm(path)
        with self._lock:
            return full in self._records or full in self._table

    def files_under(self, directory: Path | str) -> list[str]:
        """Indexed files inside a directory (a deleted or moved folder takes them along)."""
        prefix = _norm(directory).rstrip(os.sep) + os.sep
        with self._lock:
            return [path for path in self._records if path.startswith(prefix)] + [
                path for path in self._table.paths() if path.startswith(prefix) and path not in self._records
            ]

    def update_document(self, doc: ParsedDocument) -> None:
        """Let an open buffer's symbols replace the file's on-disk ones (in memory only)."""
        full = _norm(doc.path)
        if not self.is_indexable(full):
            return
        chunks = doc.chunks()
        with self._lock:
            self._overridden.add(full)
            if self._table.raw(full) is not chunks:
                self._table.set_file(full, chunks)

    # ----------------------------------------------------------------- queries

    def search_symbols(self, query: str, limit: int = 100) -> list[Chunk]:
        """Case-insensitive ranked search: exact > prefix > substring > subsequence."""
        with self._lock:
            return self._table.search(query, limit)

    def document_symbols(self, path: str) -> list[Chunk]:
        """Symbols of one file in source order (outer symbols before their members)."""
        return self.chunks_in_file(path)

    def definitions(self, name: str) -> list[Chunk]:
        with self._lock:
            return self._table.definitions(name)

    def chunks_in_file(self, path: str) -> list[Chunk]:
        with self._lock:
            return list(self._table.chunks(_norm(path)) or ())

    def all_chunks(self) -> Iterator[Chunk]:
        """Every chunk, safe to iterate while the index changes (files are read in small batches).

        Decoding 100,000 files' chunks in one go under the lock stalled every request for ~1 s
        (the BM25 warm-up after a build); a batch holds it for a few milliseconds.
        """
        with self._lock:
            paths = self._table.paths()
        for start in range(0, len(paths), _DECODE_BATCH):
            with self._lock:
                table = self._table
                batch = [table.chunks(path) or [] for path in paths[start : start + _DECODE_BATCH]]
            time.sleep(0)  # let a request waiting for the lock have it
            for chunks in batch:
                yield from chunks

    @property
    def file_count(self) -> int:
        with self._lock:
            return len(self._table)

    @property
    def chunk_count(self) -> int:
        with self._lock:
            return self._table.chunk_count

    def take_notices(self) -> list[str]:
        """Problems with the on-disk cache since the last call (corrupt, locked, unwritable)."""
        return [notice for store in list(self._stores.values()) for notice in store.take_notices()]

    @property
    def persistent(self) -> bool:
        """Whether every root's cache is being saved (False: some live in memory only)."""
        return all(store.persistent for store in list(self._stores.values()))

    def close(self) -> None:
        """Stop a build in progress (at its next file) and close the caches."""
        self._closed.set()
        with self._lock:
            stores, self._stores = dict(self._stores), {}
        for store in stores.values():
            store.close()
