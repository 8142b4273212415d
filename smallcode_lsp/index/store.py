"""SQLite cache of the index: one database per workspace root, so a restart re-parses only what changed.

Files are keyed by absolute path with the (mtime_ns, size, content hash) they were chunked from.
Each file's chunks are one `marshal`-encoded blob of plain tuples plus a small blob of just their
names: a warm restart reads one row per file, fills the name tables from the names and leaves the
chunk blob encoded until a query needs that file (`StoredChunks`). Nothing queries chunks by column,
so nothing is lost. The last walk's directory listings are kept too (`dirs`), so a restart re-lists
only directories whose mtime changed. The schema version, the Python version (marshal's format) and
the tag-query fingerprint are stored as well: when any differs, the cache was made by other rules and
is wiped rather than trusted. All writes of a build go through one transaction.
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from smallcode_lsp.index.chunker import Chunk

SCHEMA_VERSION = 4

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


@dataclass(frozen=True)
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


class IndexStore:
    """Persistence for one root. Thread-safe: one connection guarded by a lock."""

    def __init__(self, db_path: Path | str, fingerprint: str = "") -> None:
        self.path = str(db_path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._open(fingerprint)

    def _open(self, fingerprint: str) -> sqlite3.Connection:
        try:
            conn = self._connect(fingerprint)
        except sqlite3.DatabaseError:
            # A corrupt cache is only a cache: start over.
            if self.path != ":memory:":
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.remove(self.path + suffix)
            conn = self._connect(fingerprint)
        return conn

    def _connect(self, fingerprint: str) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            stamp = f"{SCHEMA_VERSION}:{sys.version_info[0]}.{sys.version_info[1]}:{fingerprint}"
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None or row[0] != stamp:
                # Wipe, then stamp last: a crash in between leaves a mismatch, so it is redone.
                conn.execute("DELETE FROM meta WHERE key = 'version'")
                for (table,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'meta'"
                ).fetchall():
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                conn.executescript(_SCHEMA)
                conn.execute("INSERT INTO meta (key, value) VALUES ('version', ?)", (stamp,))
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def load_files(self) -> dict[str, FileRecord]:
        with self._lock:
            rows = self._conn.execute("SELECT path, mtime_ns, size, hash FROM files").fetchall()
        return {row[0]: FileRecord(*row) for row in rows}

    def load_chunks(self) -> dict[str, StoredChunks]:
        """Every stored file's chunks, still encoded (see `StoredChunks.decode`)."""
        with self._lock:
            rows = self._conn.execute("SELECT path, names, chunks FROM files").fetchall()
        loads = marshal.loads
        return {path: StoredChunks(loads(names), blob) for path, names, blob in rows}

    def load_dirs(self) -> dict[str, bytes]:
        """The last walk's directory listings, keyed by '/'-separated path relative to the root."""
        with self._lock:
            return dict(self._conn.execute("SELECT path, listing FROM dirs").fetchall())

    def write(
        self,
        updates: Iterable[tuple[FileRecord, list[Chunk] | StoredChunks | None]] = (),
        deletes: Iterable[str] = (),
        dirs: Iterable[tuple[str, bytes]] = (),
        dir_deletes: Iterable[str] = (),
    ) -> None:
        """Apply a batch in one transaction. `None` chunks = content unchanged, refresh the stat only."""
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
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
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
                conn.executemany("DELETE FROM dirs WHERE path = ?", [(path,) for path in dir_deletes])
                conn.executemany("INSERT OR REPLACE INTO dirs (path, listing) VALUES (?, ?)", dirs)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
