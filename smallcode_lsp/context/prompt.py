"""Pack retrieved snippets under a token budget into the stable, cache-friendly part of a prompt.

Snippets come first in the prompt and the cursor window last, so consecutive keystrokes share a long
common prefix and the engine re-evaluates only the window (KV-cache reuse).
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
        merged: dict[str, list[str]] = {}
        for path, text in self.files:
            merged.setdefault(path, []).append(text)
        for path, texts in merged.items():
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
) -> PackedContext:
    """Choose snippets under the token budget, each costed with its path header.

    Snippets are *chosen* in the given (priority) order, then, with `stable_order`, *written* by
    path and line: the set of chosen snippets barely changes between keystrokes, but their priority
    order does (it follows the nearest identifiers), and a reordered prefix would defeat KV reuse.
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
    return PackedContext(files, comment_prefix, definition_files=len(needed_from))
