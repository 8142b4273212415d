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
    Chosen snippets that `keep_first` (the file's previous choice) showed come first, in its order.
    """
    roots = list(roots)
    chosen: list[tuple[str, int, str]] = []
    needed_from: set[str] = set()
    used = 0
    for snippet in snippets:
        shown = display_path(snippet.path, roots)
        text = snippet.text.rstrip()
        cost = count_tokens(f"{comment_prefix} {shown}\n{text}\n\n")
        if used + cost > budget_tokens:
            continue  # a smaller snippet further down may still fit
        chosen.append((shown, snippet.start_line, text))
        if snippet.reason.startswith(("definition", "imported")):
            needed_from.add(shown)
        used += cost
    if stable_order:
        chosen.sort(key=lambda c: (c[0], c[1]))
    files = tuple((shown, text) for shown, _line, text in chosen)
    if stable_order and keep_first is not None:
        files = _previous_first(files, keep_first.files)
    return PackedContext(files, comment_prefix, definition_files=len(needed_from))


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
