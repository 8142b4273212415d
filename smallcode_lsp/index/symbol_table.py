"""In-memory symbol tables: chunks by file, by exact name and by lower-cased name.

Kept separate from the service so the lookups stay simple dict operations: replacing one file's
chunks touches only that file's names, `definitions` is one dict lookup, and search scans distinct
lower-cased names (far fewer than chunks). Not thread-safe by itself; the service holds the lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from smallcode_lsp.index.chunker import Chunk


class SymbolTable:
    def __init__(self) -> None:
        self.files: dict[str, list[Chunk]] = {}
        self._by_name: dict[str, dict[str, list[Chunk]]] = {}  # name -> path -> chunks
        self._by_lower: dict[str, set[str]] = {}  # lower-cased name -> exact names
        self.chunk_count = 0

    def set_file(self, path: str, chunks: list[Chunk]) -> None:
        self.remove_file(path)
        self.files[path] = chunks
        self.chunk_count += len(chunks)
        by_name = self._by_name
        for chunk in chunks:
            name = chunk.name
            per_path = by_name.get(name)
            if per_path is None:
                per_path = by_name[name] = {}
                self._by_lower.setdefault(name.lower(), set()).add(name)
            bucket = per_path.get(path)
            if bucket is None:
                per_path[path] = [chunk]
            else:
                bucket.append(chunk)

    def remove_file(self, path: str) -> list[Chunk] | None:
        chunks = self.files.pop(path, None)
        if chunks is None:
            return None
        self.chunk_count -= len(chunks)
        for name in {chunk.name for chunk in chunks}:
            per_path = self._by_name.get(name)
            if per_path is None:
                continue
            per_path.pop(path, None)
            if not per_path:
                del self._by_name[name]
                lower = name.lower()
                names = self._by_lower.get(lower)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del self._by_lower[lower]
        return chunks

    def definitions(self, name: str) -> list[Chunk]:
        per_path = self._by_name.get(name)
        if not per_path:
            return []
        return [chunk for chunks in per_path.values() for chunk in chunks]

    def iter_chunks(self) -> Iterator[Chunk]:
        for chunks in self.files.values():
            yield from chunks

    def search(self, query: str, limit: int) -> list[Chunk]:
        """Rank distinct names: exact, then prefix, then substring, then in-order subsequence.

        Within a tier, tighter matches (earlier, shorter span, same case, shorter name) come first.
        """
        if limit <= 0:
            return []
        needle = query.strip().lower()
        if not needle:
            out: list[Chunk] = []
            for chunks in self.files.values():
                out.extend(chunks[: limit - len(out)])
                if len(out) >= limit:
                    break
            return out
        fuzzy = re.compile(".*?".join(map(re.escape, needle)), re.DOTALL)
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
                    match = fuzzy.search(lower)
                    if match is None:
                        continue
                    key = (3, match.end() - match.start())
            for name in names:
                scored.append((key[0], key[1], name != exact, len(name), name))
        scored.sort()
        results: list[Chunk] = []
        for *_, name in scored:
            results.extend(self.definitions(name))
            if len(results) >= limit:
                return results[:limit]
        return results
