"""Pack retrieved snippets under a token budget into the stable, cache-friendly part of a prompt.

Snippets come first in the prompt and the cursor window last, so consecutive keystrokes share a long
common prefix and the engine re-evaluates only the window (KV-cache reuse). When the snippets are
chosen again (the cursor moved to another window, or the user came back to a file), the ones the
file's previous prompt already showed keep their places at the front: the model re-reads only what
follows the first change, and a saved cache of that prompt (engine/prompt_states.py) still matches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smallcode_lsp.context.retrieve import Snippet


def display_path(path: str, roots: Iterable[str]) -> str:
    """Workspace-relative path when the file is inside a root, for a shorter, portable header."""
    for root in roots:
        try:
            rel = os.path.relpath(path, root)
        except ValueError:
            continue
        if not rel.startswith(".."):
            return rel
    return path


@dataclass(frozen=True)
class PackedContext:
    """Chosen snippets, in their stable order, ready for either prompt layout."""

    files: tuple[tuple[str, str], ...]  # (display path, snippet text)
    comment_prefix: str
    # Other files that definitions or imports the cursor needs came from: the request's scope,
    # which the router reads as a sign of a cross-file (hard) completion.
    definition_files: int = 0

    @property
    def snippets(self) -> int:
        return len(self.files)

    @property
    def text(self) -> str:
        """Comment layout: each snippet headed by its path as a comment in the current language."""
        return "".join(f"{self.comment_prefix} {path}\n{text}\n\n" for path, text in self.files)

    def repo_layout(
        self,
        *,
        repo_name: str,
        current_path: str,
        tokenize: Callable[[str], list[int]],
        repo_token: int,
        file_sep_token: int,
    ) -> list[int]:
        """Repository layout for models trained on it (Qwen2.5-Coder, StarCoder2):
        `<repo_name>name <file_sep>path\ncode ... <file_sep>current_path\n`, then the FIM part."""
        ids = [repo_token] + tokenize(f"{repo_name}\n")
        for path, texts in _runs_by_path(self.files):
            ids += [file_sep_token] + tokenize(f"{path}\n" + "\n\n".join(texts) + "\n")
        return ids + [file_sep_token] + tokenize(f"{current_path}\n")


def pack_snippets(
    snippets: Iterable[Snippet],
    *,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    comment_prefix: str,
    roots: Iterable[str] = (),
    stable_order: bool = True,
    keep_first: PackedContext | None = None,
) -> PackedContext:
    """Choose snippets under the token budget, each costed with its path header.

    Snippets are *chosen* in the given (priority) order, then, with `stable_order`, *written* by
    path and line: the set of chosen snippets barely changes between keystrokes, but their priority
    order does (it follows the nearest identifiers), and a reordered prefix would defeat KV reuse.

    `keep_first` is the file's previous choice. Among the candidates, the definitions of names near
    the cursor still come first; then the previously shown snippets that are still candidates, which
    are written first and in their old order; then the rest by priority, written after them. Coming
    back to a file after editing others would otherwise let the other files' recent edits push the
    old snippets out, and the prompt, changed from its first snippet on, would be read from scratch.
    """
    roots = list(roots)
    shown_before = keep_first.files if stable_order and keep_first is not None else ()
    previous = set(shown_before)
    candidates = [_Candidate.of(snippet, roots, comment_prefix, count_tokens) for snippet in snippets]
    if previous:
        candidates = _reprioritised(candidates, previous)
    chosen: list[_Candidate] = []
    used = 0
    for candidate in candidates:
        if used + candidate.cost > budget_tokens:
            continue  # a smaller snippet further down may still fit
        chosen.append(candidate)
        used += candidate.cost
    needed_from = {c.shown for c in chosen if c.reason.startswith(("definition", "imported"))}
    if stable_order:
        chosen.sort(key=lambda c: (c.shown, c.line))
    files = tuple((c.shown, c.text) for c in chosen)
    if previous:
        files = _previous_first(files, shown_before)
    return PackedContext(files, comment_prefix, definition_files=len(needed_from))


@dataclass(frozen=True)
class _Candidate:
    shown: str
    line: int
    text: str
    reason: str
    cost: int

    @classmethod
    def of(
        cls, snippet: Snippet, roots: list[str], comment_prefix: str, count_tokens: Callable[[str], int]
    ) -> _Candidate:
        shown = display_path(snippet.path, roots)
        text = snippet.text.rstrip()
        cost = count_tokens(f"{comment_prefix} {shown}\n{text}\n\n")
        return cls(shown, snippet.start_line, text, snippet.reason, cost)


def _reprioritised(candidates: list[_Candidate], previous: set[tuple[str, str]]) -> list[_Candidate]:
    """Definitions near the cursor, then what was shown before, then the rest, each in priority order."""

    def rank(candidate: _Candidate) -> int:
        if candidate.reason.startswith("definition"):
            return 0
        return 1 if (candidate.shown, candidate.text) in previous else 2

    return sorted(candidates, key=rank)  # stable: priority order within each rank


def _previous_first(
    files: tuple[tuple[str, str], ...], previous: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """`files` with those also in `previous` first, in `previous`'s order, then the new ones."""
    now = set(files)
    kept = tuple(item for item in previous if item in now)
    seen = set(kept)
    return kept + tuple(item for item in files if item not in seen)


def _runs_by_path(files: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Consecutive snippets of one file under one header. Only consecutive ones: a new snippet of a
    file shown earlier is added after the kept ones, never into the middle of the prompt."""
    runs: list[tuple[str, list[str]]] = []
    for path, text in files:
        if runs and runs[-1][0] == path:
            runs[-1][1].append(text)
        else:
            runs.append((path, [text]))
    return runs
