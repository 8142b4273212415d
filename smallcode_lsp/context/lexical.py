"""BM25 over index chunks: find code that *looks like* what is being typed.

Definitions only help when the cursor names something defined elsewhere; code written by analogy
(another view, another test, a sibling serializer) is found by shared vocabulary instead.

Cost model, so that a query fits a ~20 ms completion budget on a 2-core laptop:

* building (`refresh`) tokenizes chunks and lays postings out as one CSR matrix (term -> doc ids and
  term frequencies, numpy arrays). It runs off the hot path (`refresh_async` / `schedule_refresh`) and
  is incremental: token arrays are cached by chunk text, so after an edit only changed chunks are
  re-tokenized and the rest is a numpy concatenate + argsort (~100 ms for Django);
* a query tokenizes the last lines before the cursor and does one vectorised update per query term;
  terms in more than half the documents are skipped (their IDF is ~0 and their posting lists the
  longest). Queries read an immutable snapshot, so a concurrent refresh never blocks them.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from smallcode_lsp.context.tokens import code_tokens
from smallcode_lsp.context.window import in_window
from smallcode_lsp.index.chunker import Chunk


class ChunkSource(Protocol):
    def all_chunks(self) -> Iterable[Chunk]: ...

    @property
    def chunk_count(self) -> int: ...


@dataclass(frozen=True)
class _Doc:
    term_ids: np.ndarray  # int32, unique terms of the chunk
    counts: np.ndarray  # float32, their frequencies
    length: int


@dataclass(frozen=True)
class _Snapshot:
    chunks: list[Chunk]
    texts: list[str]  # indexed (possibly truncated) text per chunk, also what a snippet shows
    vocab: dict[str, int]
    indptr: np.ndarray  # CSR over terms: postings of term t are [indptr[t], indptr[t+1])
    doc_ids: np.ndarray
    tf_weight: np.ndarray  # tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)), precomputed per posting
    idf: np.ndarray
    chunk_count: int  # the source's chunk count when built (cheap staleness check)


@dataclass(frozen=True)
class LexicalHit:
    chunk: Chunk
    text: str
    score: float


def head_lines(text: str, max_lines: int) -> str:
    """The first `max_lines` lines: a class's header and first members say what it is about."""
    cut = -1
    for _ in range(max_lines):
        cut = text.find("\n", cut + 1)
        if cut < 0:
            return text
    return text[:cut]


class LexicalIndex:
    """A BM25 corpus over a chunk source (a `WorkspaceIndex`), refreshed in the background."""

    def __init__(
        self,
        source: ChunkSource,
        *,
        max_chunk_lines: int = 60,
        min_tokens: int = 4,
        k1: float = 1.2,
        b: float = 0.75,
        common_df_ratio: float = 0.5,
    ) -> None:
        self.source = source
        self.max_chunk_lines = max_chunk_lines
        self.min_tokens = min_tokens
        self.k1 = k1
        self.b = b
        self.common_df_ratio = common_df_ratio
        self._snapshot: _Snapshot | None = None
        self._docs: dict[str, _Doc | None] = {}  # chunk text -> tokens (None: too few tokens)
        self._vocab: dict[str, int] = {}
        self._refresh_lock = threading.Lock()
        self._wake = threading.Event()
        self._due = 0.0
        self._worker: threading.Thread | None = None
        self.last_refresh_s = 0.0
        self.last_query_s = 0.0

    # ------------------------------------------------------------------ building (off the hot path)

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def is_stale(self) -> bool:
        snap = self._snapshot
        return snap is None or snap.chunk_count != self.source.chunk_count

    def warm(self) -> None:
        """Build the corpus now (blocking): call from a background thread after indexing."""
        self.refresh()

    def refresh(self) -> bool:
        """Bring the corpus up to date with the source; re-tokenizes only chunks whose text changed."""
        with self._refresh_lock:
            started = time.perf_counter()
            count = self.source.chunk_count
            chunks: list[Chunk] = []
            texts: list[str] = []
            docs: list[_Doc] = []
            old = self._docs
            fresh: dict[str, _Doc | None] = {}
            for chunk in self.source.all_chunks():
                text = head_lines(chunk.text, self.max_chunk_lines)
                if text in fresh:
                    doc = fresh[text]
                elif text in old:
                    doc = fresh[text] = old[text]
                else:
                    doc = fresh[text] = self._tokenize(text)
                if doc is not None:
                    chunks.append(chunk)
                    texts.append(text)
                    docs.append(doc)
            self._docs = fresh
            self._snapshot = self._lay_out(chunks, texts, docs, count)
            self.last_refresh_s = time.perf_counter() - started
            return True

    def _tokenize(self, text: str) -> _Doc | None:
        tokens = code_tokens(text)
        if len(tokens) < self.min_tokens:
            return None
        counts = Counter(tokens)
        vocab = self._vocab
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in counts), np.int32, len(counts))
        return _Doc(ids, np.fromiter(counts.values(), np.float32, len(counts)), len(tokens))

    def _lay_out(self, chunks: list[Chunk], texts: list[str], docs: list[_Doc], count: int) -> _Snapshot:
        n_terms = len(self._vocab)
        if not docs:
            empty = np.zeros(0, np.int32)
            return _Snapshot(
                chunks, texts, self._vocab, np.zeros(n_terms + 1, np.int64), empty, empty, empty, count
            )
        term_ids = np.concatenate([d.term_ids for d in docs])
        counts = np.concatenate([d.counts for d in docs])
        sizes = np.fromiter((len(d.term_ids) for d in docs), np.int64, len(docs))
        lengths = np.fromiter((d.length for d in docs), np.float32, len(docs))
        doc_of_posting = np.repeat(np.arange(len(docs), dtype=np.int32), sizes)
        order = np.argsort(term_ids, kind="stable")
        doc_ids = doc_of_posting[order]
        tf = counts[order]
        df = np.bincount(term_ids, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        n = len(docs)
        avgdl = float(lengths.mean())
        norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
        tf_weight = (tf * (self.k1 + 1.0) / (tf + norm[doc_ids])).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        return _Snapshot(chunks, texts, self._vocab, indptr, doc_ids, tf_weight, idf, count)

    def refresh_async(self) -> None:
        """Refresh soon on the background worker (coalesces with pending requests)."""
        self.schedule_refresh(0.0)

    def schedule_refresh(self, delay_s: float = 1.0) -> None:
        """Debounced refresh: call on every index change; one rebuild runs `delay_s` after the last."""
        self._due = time.monotonic() + delay_s
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="smallcode-lexical", daemon=True)
            self._worker.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=30.0)
            if not self._wake.is_set():
                return  # idle: let the thread end; the next schedule starts another
            self._wake.clear()
            while (wait := self._due - time.monotonic()) > 0:
                time.sleep(min(wait, 0.25))
            with contextlib.suppress(Exception):  # a failed refresh is retried on the next change
                self.refresh()

    # ------------------------------------------------------------------ queries (hot path)

    def query(
        self,
        text: str,
        *,
        path: str | None = None,
        exclude_lines: tuple[int, int] | None = None,
        limit: int = 4,
        max_query_lines: int = 25,
    ) -> list[LexicalHit]:
        """Chunks most similar to the last `max_query_lines` of `text`, best first.

        Chunks of `path` that overlap `exclude_lines` (inclusive, 0-based: the cursor's own chunk
        and whatever the prompt window already shows) are never returned. Returns [] until the
        corpus has been built: a query never builds it.
        """
        started = time.perf_counter()
        snap = self._snapshot
        if snap is None or not len(snap.doc_ids):
            return []
        lines = text.split("\n")[-max_query_lines:]
        counts = Counter(code_tokens("\n".join(lines)))
        n_docs = len(snap.chunks)
        max_df = self.common_df_ratio * n_docs
        scores = np.zeros(n_docs, np.float32)
        indptr, doc_ids, tf_weight, idf = snap.indptr, snap.doc_ids, snap.tf_weight, snap.idf
        hit_any = False
        for token, qtf in counts.items():
            t = snap.vocab.get(token)
            if t is None or t >= len(idf):
                continue
            lo, hi = indptr[t], indptr[t + 1]
            if hi == lo or hi - lo > max_df:
                continue
            # Saturate repeated query terms too: a name typed five times is not five times the evidence.
            weight = idf[t] * (1.0 + math.log(qtf))
            scores[doc_ids[lo:hi]] += weight * tf_weight[lo:hi]
            hit_any = True
        if not hit_any:
            self.last_query_s = time.perf_counter() - started
            return []
        want = min(n_docs, limit * 4 + 8)
        top = np.argpartition(-scores, want - 1)[:want] if want < n_docs else np.arange(n_docs)
        top = top[np.argsort(-scores[top], kind="stable")]
        hits: list[LexicalHit] = []
        for i in top:
            score = float(scores[i])
            if score <= 0.0:
                break
            chunk = snap.chunks[i]
            if in_window(chunk, path, exclude_lines):
                continue
            hits.append(LexicalHit(chunk, snap.texts[i], score))
            if len(hits) >= limit:
                break
        self.last_query_s = time.perf_counter() - started
        return hits
