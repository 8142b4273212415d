"""One call that gathers cross-file context for a completion, within a deadline.

Sources, in priority order (earlier ones are more precise, later ones fill the remaining budget):

1. definitions of identifiers near the cursor: the current file's own (outside the prompt window)
   first, else other files' ranked by the current file's imports; namesakes without evidence
   (a method matched by name, another package's symbol, `t.List` of an outside module) are skipped;
2. chunks the developer recently edited or viewed;
3. the other workspace names the current file imports, most used first: the callee of the line
   being typed is often among them even when nothing near the cursor mentions it yet;
4. lexically similar chunks (BM25 over the workspace).

Definitions (sources 1 and 3) are shown as signature skeletons unless short (see `skeleton`); the
packing order interleaves the best similar code with the imported signatures (`_interleave`).

Each source gets a share of the deadline and stops when its share is spent, so the total stays
within `deadline_s` even on a huge workspace. Results are de-duplicated by position (same chunk, or
one containing the other) and by near-identical text, and never repeat what the prompt window
already shows. `pack_snippets` then fits them to the token budget in a stable order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Protocol

from smallcode_lsp.context.imports import FileImports, ImportCache, evidence_tier, rank_definitions
from smallcode_lsp.context.lexical import LexicalIndex, head_lines
from smallcode_lsp.context.recent import RecentChunks
from smallcode_lsp.context.retrieve import Snippet, attribute_owners, identifiers_near_cursor
from smallcode_lsp.context.skeleton import flush_left, snippet_text
from smallcode_lsp.context.tokens import jaccard, token_set
from smallcode_lsp.context.window import LineRange, in_window
from smallcode_lsp.index.chunker import Chunk
from smallcode_lsp.index.languages import language_for_path

# Cumulative fractions of the deadline after which a source is no longer started / continued.
_DEFINITIONS_SHARE = 0.45
_RECENT_SHARE = 0.55
_IMPORTED_SHARE = 0.7
# A name with more unrelated definitions than this, and no import evidence, is too ambiguous to help.
_AMBIGUOUS = 2
# How many of the nearest names' definitions are shown as full skeletons (the rest as signatures).
_FULL_DEFINITIONS = 2
_COMPACT_LINES = 6  # a signature-only snippet: header, constructor, a field or two
# Packing order: this many imported signatures, then this many similar chunks, then the rest.
_IMPORTED_FIRST = 6
_SIMILAR_FIRST = 2
_OWNER_WINDOW = 2000  # the same span `identifiers_near_cursor` reads
_WINDOW_BEFORE = 60
_WINDOW_AFTER = 10

_import_caches: dict[tuple[str, ...], ImportCache] = {}
# Languages whose code can call each other's definitions; anything else is a namesake, not a match.
_FAMILY = {"typescript": "js", "tsx": "js", "javascript": "js", "c": "c", "cpp": "c"}


def language_family(path: str) -> str | None:
    spec = language_for_path(path)
    return None if spec is None else _FAMILY.get(spec.name, spec.name)


class SnippetIndex(Protocol):
    roots: list[str]

    def definitions(self, name: str) -> list[Chunk]: ...

    def chunks_in_file(self, path: str) -> list[Chunk]: ...


def default_import_cache(roots: Sequence[str]) -> ImportCache:
    key = tuple(roots)
    cache = _import_caches.get(key)
    if cache is None:
        cache = _import_caches[key] = ImportCache(roots)
    return cache


def _top_directory(path: str, roots: Sequence[str]) -> str:
    """The first directory under the workspace root that holds `path` (its top-level package)."""
    for root in roots:
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            head = rel.split(os.sep, 1)
            return os.path.join(root, head[0]) if len(head) > 1 else root
    return os.path.dirname(path)


class _Picker:
    """Collects snippets in priority order, refusing repeats and near-repeats."""

    def __init__(self, path: str, window: LineRange, similarity: float) -> None:
        self.path = path
        self.family = language_family(path)
        self.window = window
        self.similarity = similarity
        self.out: list[Snippet] = []
        self._ranges: dict[str, list[tuple[int, int]]] = {}
        self._tokens: list[frozenset[str]] = []

    def add(self, chunk: Chunk, text: str, reason: str) -> bool:
        text = flush_left(text, chunk.start_col)
        if in_window(chunk, self.path, self.window) or language_family(chunk.path) != self.family:
            return False
        ranges = self._ranges.setdefault(chunk.path, [])
        for start, end in ranges:
            # Same chunk, or one inside the other (a method and its class): the first one wins.
            if (start <= chunk.start_line and chunk.end_line <= end) or (
                chunk.start_line <= start and end <= chunk.end_line
            ):
                return False
        tokens = token_set(text)
        if any(jaccard(tokens, other) > self.similarity for other in self._tokens):
            return False
        ranges.append((chunk.start_line, chunk.end_line))
        self._tokens.append(tokens)
        self.out.append(Snippet(chunk.path, text, reason, chunk.start_line, chunk.end_line))
        return True


def _definitions(
    index: SnippetIndex,
    path: str,
    names: list[str],
    owners: dict[str, set[str | None]],
    imports: FileImports,
    picker: _Picker,
    max_lines: int,
    limit: int,
    stop_at: float,
) -> None:
    local: dict[str, list[Chunk]] = {}
    for chunk in index.chunks_in_file(path):
        if chunk.kind != "method":
            local.setdefault(chunk.name, []).append(chunk)
    added = 0
    for name in names:
        if added >= limit or time.perf_counter() > stop_at:
            return
        if _only_external_attribute(name, owners, imports):
            continue  # `t.List` is typing's List, whatever the workspace calls List
        if name in local and name not in imports.bindings:
            # Defined in this file, outside the prompt window (the picker drops what the window
            # shows): that definition, never another file's namesake.
            chunk = local[name][0]
            if picker.add(chunk, _definition_text(chunk, added, max_lines), f"definition of {name}"):
                added += 1
            continue
        candidates = [c for c in index.definitions(imports.real_name(name)) if c.path != path]
        if not candidates:
            continue
        ranked = rank_definitions(name, candidates, path, imports)
        tier = evidence_tier(name, ranked[0], imports)
        if tier >= 2:
            # Nothing imports this very name. A method found by its name alone (`x.items`) is a guess
            # among namesakes, and so is a definition in another top-level package: both mislead a
            # small model more than they help. Keep unambiguous functions and types of this package.
            home = _top_directory(path, index.roots)
            ranked = [c for c in ranked if c.kind != "method" and _top_directory(c.path, index.roots) == home]
            if not ranked or len(ranked) > _AMBIGUOUS:
                continue
        for chunk in ranked[: 1 if tier <= 1 else 2]:
            if picker.add(chunk, _definition_text(chunk, added, max_lines), f"definition of {name}"):
                added += 1


def _definition_text(chunk: Chunk, shown: int, max_lines: int) -> str:
    """The nearest names' definitions get a full skeleton; later ones just their signature, so that
    one big class cannot take the whole budget."""
    if shown < _FULL_DEFINITIONS:
        return snippet_text(chunk.text, chunk.path, max_lines)
    return snippet_text(chunk.text, chunk.path, _COMPACT_LINES, compact=True)


def _only_external_attribute(name: str, owners: dict[str, set[str | None]], imports: FileImports) -> bool:
    """Whether every use of `name` near the cursor is an attribute of an imported module that lives
    outside the workspace (`t.List` with `import typing as t`)."""
    seen = owners.get(name)
    if not seen or None in seen:
        return False
    return all(
        owner in imports.bindings and not imports.source_files(owner) for owner in seen if owner is not None
    )


def _imported_definitions(
    index: SnippetIndex,
    imports: FileImports,
    file_text: str,
    picker: _Picker,
    max_lines: int,
    limit: int,
    stop_at: float,
) -> None:
    """Signatures of workspace names the file imports (not whole modules), most used in the file first.

    Compact (no bodies, no docstrings, a few lines) so that many fit: the name the user is about to
    call is often one the file imports but the prompt window does not show yet.
    """
    names = [
        local
        for local, binding in imports.bindings.items()
        if binding.name not in (None, "*") and imports.source_files(local)
    ]
    # Substring counts (a few microseconds a name) rank well enough; stable sort keeps import order.
    counts = {local: file_text.count(local) for local in names}
    names.sort(key=lambda local: -counts[local])
    added = 0
    for local in names:
        if added >= limit or time.perf_counter() > stop_at:
            return
        candidates = [
            c
            for c in index.definitions(imports.real_name(local))
            if c.path != picker.path and evidence_tier(local, c, imports) <= 1
        ]
        if not candidates:
            continue
        chunk = rank_definitions(local, candidates, picker.path, imports)[0]
        text = snippet_text(chunk.text, chunk.path, max_lines, compact=True)
        if picker.add(chunk, text, f"imported {local}"):
            added += 1


def gather_snippets(
    index: SnippetIndex,
    path: str,
    text_before: str,
    text_after: str,
    cursor_line: int,
    *,
    recent: RecentChunks | None = None,
    lexical: LexicalIndex | None = None,
    imports: ImportCache | None = None,
    deadline_s: float = 0.02,
    window: LineRange | None = None,
    max_definitions: int = 8,
    max_recent: int = 3,
    max_imported: int = 16,
    max_imported_lines: int = _COMPACT_LINES,
    max_lexical: int = 4,
    max_snippet_lines: int = 14,
    similarity: float = 0.9,
) -> list[Snippet]:
    """Cross-file snippets for a completion at `cursor_line` of `path`, best first.

    `text_before` / `text_after`: document text before / after the cursor. Passing the whole
    document prefix lets the import statements at the top be seen; only its tail is used for
    identifiers and similarity. `window`: lines of `path` the prompt already shows (inclusive);
    defaults to 60 lines before to 10 after the cursor.
    """
    started = time.perf_counter()
    path = os.path.abspath(path)
    if window is None:
        window = (max(0, cursor_line - _WINDOW_BEFORE), cursor_line + _WINDOW_AFTER)
    picker = _Picker(path, window, similarity)
    if imports is None:
        imports = default_import_cache(getattr(index, "roots", ()))
    file_text = text_before + text_after  # the whole document when the caller passes it all
    file_imports = imports.get(path, file_text)

    names = identifiers_near_cursor(text_before, text_after)
    owners = attribute_owners(text_before[-_OWNER_WINDOW:] + text_after[: _OWNER_WINDOW // 4])
    _definitions(
        index,
        path,
        names,
        owners,
        file_imports,
        picker,
        max_snippet_lines,
        max_definitions,
        started + deadline_s * _DEFINITIONS_SHARE,
    )

    if recent is not None and time.perf_counter() < started + deadline_s * _RECENT_SHARE:
        for chunk in recent.chunks(exclude_path=path, exclude_lines=window, limit=max_recent + 2):
            if picker.add(chunk, head_lines(chunk.text, max_snippet_lines), "recently edited"):
                max_recent -= 1
                if max_recent <= 0:
                    break

    if max_imported > 0:
        _imported_definitions(
            index,
            file_imports,
            file_text,
            picker,
            max_imported_lines,
            max_imported,
            started + deadline_s * _IMPORTED_SHARE,
        )

    if lexical is not None and lexical.ready:
        left = started + deadline_s - time.perf_counter()
        # Skip rather than overrun: a query costs about what the last one did.
        if left > max(0.002, 1.5 * lexical.last_query_s):
            hits = lexical.query(text_before, path=path, exclude_lines=window, limit=max_lexical + 4)
            added = 0
            for hit in hits:
                if added >= max_lexical:
                    break
                if picker.add(hit.chunk, hit.text, "similar code"):
                    added += 1
    return _interleave(picker.out)


def _interleave(snippets: list[Snippet]) -> list[Snippet]:
    """Priority order for packing: definitions and recent edits, then the first few imported
    signatures, then the best similar code, then the rest. Similar code (a sibling function written
    the same way) often shows the pattern being typed better than the tenth imported signature."""
    first: list[Snippet] = []
    imported: list[Snippet] = []
    similar: list[Snippet] = []
    for snippet in snippets:
        if snippet.reason.startswith("imported"):
            imported.append(snippet)
        elif snippet.reason == "similar code":
            similar.append(snippet)
        else:
            first.append(snippet)
    return (
        first
        + imported[:_IMPORTED_FIRST]
        + similar[:_SIMILAR_FIRST]
        + imported[_IMPORTED_FIRST:]
        + similar[_SIMILAR_FIRST:]
    )
