"""SQLite cache of the index: one database per workspace root, so a restart re-parses only what changed.

Files are keyed by absolute path with the (mtime_ns, size, content hash) they were chunked from.
Each file's chunks are one `marshal`-encoded blob of plain tuples plus a small blob of just their
names: a warm restart reads one row per file, fills the name tables from the names and leaves the
chunk blob encoded until a query needs that file (`StoredChunks`). Nothing queries chunks by column,
so nothing is lost. The last walk's directory listings are kept too (`dirs`), so a restart re-lists
only directories whose mtime changed. The schema version, the Python version (marshal's format) and
the tag-query fingerprint are stored as well: when any differs, the cache was made by other rules and
is wiped rather than trusted. All writes of a build go through one transaction.

The cache must never cost the user the index: a corrupt or truncated file is deleted and rebuilt; a
database another server holds locked past the busy timeout skips that write (both index the same
files); a directory that cannot be written (read-only disk, not a directory, full) turns the store
off for the session and the index lives in memory. Each case leaves one line in `notices`, for the
server to show. WAL mode plus a busy timeout lets two servers share one workspace's file.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from smallcode_lsp.index.chunker import Chunk

SCHEMA_VERSION = 4
# How long a statement waits for another connection's write lock before giving up on that write.
BUSY_TIMEOUT_S = 3.0
WAL_SIZE_LIMIT = 1 << 20  # bytes the write-ahead log file is truncated to after a checkpoint
# sqlite3 primary result codes (sqlite_errorcode & 0xff) by what they mean for a cache.
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SHORT_READ = 522  # SQLITE_IOERR_SHORT_READ: the file is shorter than its pages say (truncated)
_UNWRITABLE = {3, 8, 10, 13, 14, 23}  # PERM, READONLY, IOERR, FULL, CANTOPEN, AUTH

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hash TEXT NOT NULL,
    names BLOB NOT NULL,
    chunks BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, listing BLOB NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What a file looked like when its chunks were made."""

    path: str
    mtime_ns: int
    size: int
    hash: str


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def db_path_for_root(cache_dir: Path, root: Path) -> Path:
    """A stable, readable file name per root: `<folder>-<hash of the absolute path>.sqlite3`."""
    absolute = os.path.abspath(root)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(absolute) or "root")[:40]
    digest = hashlib.sha1(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return Path(cache_dir) / f"{slug}-{digest}.sqlite3"


def _row(c: Chunk) -> tuple:
    return (
        c.name,
        c.kind,
        c.container,
        c.start_line,
        c.start_col,
        c.end_line,
        c.end_col,
        c.name_line,
        c.name_col,
        c.name_end_col,
        c.text,
    )


def encode_chunks(chunks: list[Chunk]) -> bytes:
    return marshal.dumps([_row(c) for c in chunks])


def decode_chunks(path: str, blob: bytes) -> list[Chunk]:
    return [Chunk(r[0], r[1], r[2], path, *r[3:]) for r in marshal.loads(blob)]


class StoredChunks:
    """A file's chunks still encoded: their names (for the name tables) and the marshal blob.

    Building ~12k Chunk objects was most of a warm restart, yet most files are never queried, so a
    file's chunks are decoded on first use instead (`decode`).
    """

    __slots__ = ("names", "blob")

    def __init__(self, names: tuple[str, ...], blob: bytes) -> None:
        self.names = names
        self.blob = blob

    @classmethod
    def from_chunks(cls, chunks: list[Chunk]) -> StoredChunks:
        return cls(tuple(c.name for c in chunks), encode_chunks(chunks))

    def __len__(self) -> int:
        return len(self.names)

    def decode(self, path: str) -> list[Chunk]:
        return decode_chunks(path, self.blob)


class _Corrupt(Exception):
    pass


def _kind(exc: sqlite3.Error) -> str:
    """'corrupt', 'busy', 'unwritable' or 'other' for an sqlite3 error."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).lower()
    if code == _SHORT_READ or (code is not None and code & 0xFF in _CORRUPT):
        return "corrupt"
    if "malformed" in text or "not a database" in text:
        return "corrupt"
    if (code is not None and code & 0xFF in _BUSY) or "locked" in text:
        return "busy"
    if code is not None and code & 0xFF in _UNWRITABLE:
        return "unwritable"
    if "readonly" in text or "unable to open" in text or "disk i/o" in text:
        return "unwritable"
    return "other"


class IndexStore:
    """Persistence for one root. Thread-safe: one connection guarded by a lock.

    `persistent` turns False when the cache cannot be used at all; every method then does nothing
    (reads return empty), so callers never need to care.
    """

    def __init__(self, db_path: Path | str, fingerprint: str = "") -> None:
        self.path = str(db_path)
        self._fingerprint = fingerprint
        self._lock = threading.Lock()
        self.notices: list[str] = []
        self._told: set[str] = set()
        self._conn: sqlite3.Connection | None = None
        self._open()

    @property
    def persistent(self) -> bool:
        return self._conn is not None

    # ------------------------------------------------------------------ opening and recovery

    def _notice(self, kind: str, message: str) -> None:
        """Record a problem for the user, once per kind."""
        if kind not in self._told:
            self._told.add(kind)
            self.notices.append(message)

    def take_notices(self) -> list[str]:
        with self._lock:
            notices, self.notices = self.notices, []
        return notices

    def _open(self) -> None:
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self._memory_only(f"cannot create the index cache folder {Path(self.path).parent}: {exc}")
                return
        try:
            self._conn = self._connect()
        except sqlite3.Error as exc:
            kind = _kind(exc)
            if kind == "corrupt":
                self._rebuild(exc)
            elif kind == "busy":
                self._memory_only(
                    f"the index cache {self.path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s"
                )
            else:
                self._memory_only(f"cannot use the index cache {self.path}: {exc}")

    def _memory_only(self, why: str) -> None:
        self._close_connection()
        self._notice("memory", f"{why}; the index is kept in memory for this session.")

    def _rebuild(self, exc: Exception) -> None:
        """A corrupt cache is only a cache: delete it and start an empty one."""
        self._close_connection()
        if self.path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.remove(self.path + suffix)
        self._notice("corrupt", f"the index cache {self.path} was damaged ({exc}); rebuilding it.")
        try:
            self._conn = self._connect()
        except sqlite3.Error as again:
            self._memory_only(f"cannot recreate the index cache {self.path}: {again}")

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # SQLite checkpoints the WAL every 1000 pages and keeps the file at its largest: 4 MB for
            # a project whose index is 40 KB, and after a big build as large as its biggest batch.
            # Checkpoint every 256 pages (1 MB) and cut the file back to 1 MB after each.
            conn.execute("PRAGMA wal_autocheckpoint=256")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            stamp = f"{SCHEMA_VERSION}:{sys.version_info[0]}.{sys.version_info[1]}:{self._fingerprint}"
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None or row[0] != stamp:
                self._restamp(conn, stamp)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    @staticmethod
    def _restamp(conn: sqlite3.Connection, stamp: str) -> None:
        """Wipe a cache made by other rules. IMMEDIATE: a second server doing the same waits for us."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None or row[0] != stamp:  # not already done by another server meanwhile
                conn.execute("DELETE FROM meta WHERE key = 'version'")
                for (table,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'meta'"
                ).fetchall():
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO meta (key, value) VALUES ('version', ?)", (stamp,))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _run(self, operation: Callable[[sqlite3.Connection], object], default: object, write: bool) -> object:
        """Run one operation under the lock; on failure recover as the module docstring says.

        A write on a cache found corrupt is retried once on the rebuilt, empty one.
        """
        with self._lock:
            for attempt in (1, 2):
                conn = self._conn
                if conn is None:
                    return default
                try:
                    return operation(conn)
                except sqlite3.ProgrammingError:  # closed meanwhile (shutdown)
                    return default
                except sqlite3.Error as exc:
                    kind = _kind(exc)
                    if kind == "corrupt":
                        self._rebuild(exc)
                        if write and attempt == 1:
                            continue
                    elif kind == "busy":
                        self._notice(
                            "busy",
                            f"the index cache {self.path} is locked by another process; changes that "
                            "could not be saved stay in memory this session.",
                        )
                    elif kind == "unwritable":
                        self._memory_only(f"cannot write the index cache {self.path}: {exc}")
                    else:
                        self._notice("other", f"index cache error ({exc}); continuing in memory.")
                    return default
            return default

    # ------------------------------------------------------------------ reads and writes

    def _select(self, sql: str) -> list[tuple]:
        rows = self._run(lambda conn: conn.execute(sql).fetchall(), [], write=False)
        return rows if isinstance(rows, list) else []

    def load_files(self) -> dict[str, FileRecord]:
        return {
            row[0]: FileRecord(*row) for row in self._select("SELECT path, mtime_ns, size, hash FROM files")
        }

    def load_chunks(self) -> dict[str, StoredChunks]:
        """Every stored file's chunks, still encoded (see `StoredChunks.decode`)."""
        out: dict[str, StoredChunks] = {}
        loads = marshal.loads
        for path, names, blob in self._select("SELECT path, names, chunks FROM files"):
            try:
                out[path] = StoredChunks(loads(names), blob)
            except (ValueError, EOFError, TypeError):
                continue  # a damaged row: the file is simply parsed again
        return out

    def load_dirs(self) -> dict[str, bytes]:
        """The last walk's directory listings, keyed by '/'-separated path relative to the root."""
        return dict(self._select("SELECT path, listing FROM dirs"))

    def write(
        self,
        updates: Iterable[tuple[FileRecord, list[Chunk] | StoredChunks | None]] = (),
        deletes: Iterable[str] = (),
        dirs: Iterable[tuple[str, bytes]] = (),
        dir_deletes: Iterable[str] = (),
    ) -> bool:
        """Apply a batch in one transaction. `None` chunks = content unchanged, refresh the stat only.

        Returns whether it was saved (False: locked, unwritable, or memory-only).
        """
        stat_only: list[tuple[int, int, str, str]] = []
        full: list[tuple[str, int, int, str, bytes, bytes]] = []
        for record, chunks in updates:
            if chunks is None:
                stat_only.append((record.mtime_ns, record.size, record.hash, record.path))
                continue
            stored = chunks if isinstance(chunks, StoredChunks) else StoredChunks.from_chunks(chunks)
            key = (record.path, record.mtime_ns, record.size, record.hash)
            full.append((*key, marshal.dumps(stored.names), stored.blob))
        removed = [(path,) for path in deletes]
        dirs = list(dirs)
        forgotten = [(path,) for path in dir_deletes]

        def transaction(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now (waits out another server)
            try:
                conn.executemany("DELETE FROM files WHERE path = ?", removed)
                conn.executemany(
                    "UPDATE files SET mtime_ns = ?, size = ?, hash = ? WHERE path = ?", stat_only
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO files (path, mtime_ns, size, hash, names, chunks)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    full,
                )
                conn.executemany("DELETE FROM dirs WHERE path = ?", forgotten)
                conn.executemany("INSERT OR REPLACE INTO dirs (path, listing) VALUES (?, ?)", dirs)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return True

        return bool(self._run(transaction, False, write=True))

    def close(self) -> None:
        with self._lock:
            self._close_connection()
