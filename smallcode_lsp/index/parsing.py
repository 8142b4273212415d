"""Read, hash and chunk files, in this process or spread over worker processes.

tree-sitter's parse holds the GIL, so threads do not speed up a cold build; processes do. Workers
are *spawned* (never forked: the server has threads whose locks a fork could copy mid-use) and only
for big batches, where their start-up cost (~0.2 s) is repaid. Chunks cross the process boundary
already marshal-encoded (`StoredChunks`): bytes pickle far faster than dataclass instances, the
encoding runs in the workers, and the same blob goes into the cache and the in-memory table.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from smallcode_lsp.index.chunker import chunk_source
from smallcode_lsp.index.files import is_probably_binary
from smallcode_lsp.index.languages import language_for_path
from smallcode_lsp.index.store import StoredChunks, content_hash

# Below this many files a pool costs more than it saves.
PARALLEL_MIN_FILES = 150
_BATCH = 24

# (path, mtime_ns, size) in; (path, mtime_ns, size, hash, chunks) out; hash "" = unreadable.
FileJob = tuple[str, int, int]
FileResult = tuple[str, int, int, str, StoredChunks | None]


def read_source(path: str, max_bytes: int) -> bytes | None:
    """File bytes, or None when unreadable, too big, or binary."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or is_probably_binary(data):
        return None
    return data


def process_file(job: FileJob, max_bytes: int, known_hashes: dict[str, str]) -> FileResult:
    """Read and chunk one file; chunks are None when the content hash is already known (unchanged)."""
    path, mtime_ns, size = job
    data = read_source(path, max_bytes)
    if data is None:
        return path, mtime_ns, size, "", None
    digest = content_hash(data)
    if known_hashes.get(path) == digest:
        return path, mtime_ns, size, digest, None
    spec = language_for_path(path)
    chunks = chunk_source(data, spec, path) if spec is not None else []
    return path, mtime_ns, size, digest, StoredChunks.from_chunks(chunks)


def _process_batch(jobs: list[FileJob], max_bytes: int, known_hashes: dict[str, str]) -> list[FileResult]:
    return [process_file(job, max_bytes, known_hashes) for job in jobs]


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def process_files(
    jobs: Sequence[FileJob],
    max_bytes: int,
    known_hashes: dict[str, str],
    workers: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[FileResult]:
    """Yield one result per job (in any order); stops early once `should_stop()` is true."""
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(jobs) < PARALLEL_MIN_FILES:
        for job in jobs:
            if should_stop():
                return
            yield process_file(job, max_bytes, known_hashes)
        return
    batches = [list(jobs[i : i + _BATCH]) for i in range(0, len(jobs), _BATCH)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            pool.submit(
                _process_batch,
                batch,
                max_bytes,
                {job[0]: known_hashes[job[0]] for job in batch if job[0] in known_hashes},
            )
            for batch in batches
        ]
        try:
            for future in futures:
                if should_stop():
                    return
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()
