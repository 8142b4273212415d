"""In-memory symbol tables: chunks by file, paths by exact name, exact names by lower-cased name.

Kept separate from the service so the lookups stay simple dict operations: replacing one file's
chunks touches only that file's names, `definitions` is one dict lookup plus a filter of the few files
that define the name, and search scans distinct lower-cased names (far fewer than chunks). A file's
chunks may be held still encoded (`StoredChunks`, from the cache or a parse) and are decoded on first
use, so a warm restart only fills the name tables. Not thread-safe by itself; the service holds the lock.
"""

from __future__ import annotations

from collections.abc import Iterator

from smallcode_lsp.index.chunker import Chunk
from smallcode_lsp.index.store import StoredChunks

FileChunks = list[Chunk] | StoredChunks


def _names(chunks: FileChunks) -> tuple[str, ...] | list[str]:
    return chunks.names if isinstance(chunks, StoredChunks) else [c.name for c in chunks]


class SymbolTable:
    def __init__(self) -> None:
        self._files: dict[str, FileChunks] = {}
        self._by_name: dict[str, dict[str, None]] = {}  # name -> paths defining it (ordered)
        self._by_lower: dict[str, set[str]] = {}  # lower-cased name -> exact names
        self.chunk_count = 0

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, path: str) -> bool:
        return path in self._files

    def paths(self) -> list[str]:
        return list(self._files)

    def raw(self, path: str) -> FileChunks | None:
        """A file's entry as held (possibly still encoded): for reuse without decoding."""
        return self._files.get(path)

    def chunks(self, path: str) -> list[Chunk] | None:
        """A file's chunks, decoding them on first use."""
        entry = self._files.get(path)
        if isinstance(entry, StoredChunks):
            entry = self._files[path] = entry.decode(path)
        return entry

    def set_file(self, path: str, chunks: FileChunks) -> None:
        self.remove_file(path)
        self._files[path] = chunks
        self.chunk_count += len(chunks)
        by_name = self._by_name
        for name in _names(chunks):
            paths = by_name.get(name)
            if paths is None:
                by_name[name] = {path: None}
                lower = name.lower()
                names = self._by_lower.get(lower)
                if names is None:
                    self._by_lower[lower] = {name}
                else:
                    names.add(name)
            else:
                paths[path] = None

    def remove_file(self, path: str) -> FileChunks | None:
        chunks = self._files.pop(path, None)
        if chunks is None:
            return None
        self.chunk_count -= len(chunks)
        for name in set(_names(chunks)):
            paths = self._by_name.get(name)
            if paths is None:
                continue
            paths.pop(path, None)
            if not paths:
                del self._by_name[name]
                lower = name.lower()
                names = self._by_lower.get(lower)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del self._by_lower[lower]
        return chunks

    def definitions(self, name: str) -> list[Chunk]:
        paths = self._by_name.get(name)
        if not paths:
            return []
        out: list[Chunk] = []
        for path in list(paths):
            out.extend(c for c in self.chunks(path) or () if c.name == name)
        return out

    def iter_chunks(self) -> Iterator[Chunk]:
        for path in self.paths():
            yield from self.chunks(path) or ()

    def search(self, query: str, limit: int) -> list[Chunk]:
        """Rank distinct names: exact, then prefix, then substring, then in-order subsequence.

        Within a tier, tighter matches (earlier, shorter span, same case, shorter name) come first.
        """
        if limit <= 0:
            return []
        needle = query.strip().lower()
        if not needle:
            out: list[Chunk] = []
            for path in self.paths():
                out.extend((self.chunks(path) or [])[: limit - len(out)])
                if len(out) >= limit:
                    break
            return out
        exact = query.strip()
        scored: list[tuple[int, float, bool, int, str]] = []
        for lower, names in self._by_lower.items():
            if lower == needle:
                key: tuple[int, float] = (0, 0.0)
            elif lower.startswith(needle):
                key = (1, 0.0)
            else:
                pos = lower.find(needle)
                if pos >= 0:
                    key = (2, pos)
                else:
                    span = _subsequence_span(needle, lower)
                    if span is None:
                        continue
                    key = (3, span)
            for name in names:
                scored.append((key[0], key[1], name != exact, len(name), name))
        scored.sort()
        results: list[Chunk] = []
        for *_, name in scored:
            results.extend(self.definitions(name))
            if len(results) >= limit:
                return results[:limit]
        return results


def _subsequence_span(needle: str, haystack: str) -> int | None:
    """Length of the shortest window of `haystack`, from the first place it can start, holding
    `needle` as an in-order subsequence (None: not a subsequence). Linear: the regex `n.*?e.*?e...`
    it replaces backtracked exponentially (a 9-letter query took 11 s on a 40-letter name)."""
    start = haystack.find(needle[0])
    if start < 0:
        return None
    pos = start + 1
    for char in needle[1:]:
        pos = haystack.find(char, pos)
        if pos < 0:
            return None
        pos += 1
    return pos - start
