"""Pack retrieved snippets under a token budget into the stable, cache-friendly part of a prompt.

Snippets come first in the prompt and the cursor window last, so consecutive keystrokes share a long
common prefix and the engine re-evaluates only the window (KV-cache reuse).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

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


def pack_snippets(
    snippets: Iterable[Snippet],
    *,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    comment_prefix: str,
    roots: Iterable[str] = (),
) -> str:
    """Concatenate snippets, each headed by its path as a comment, until the budget is spent."""
    roots = list(roots)
    parts: list[str] = []
    used = 0
    for snippet in snippets:
        block = f"{comment_prefix} {display_path(snippet.path, roots)}\n{snippet.text.rstrip()}\n\n"
        cost = count_tokens(block)
        if used + cost > budget_tokens:
            continue  # a smaller snippet further down may still fit
        parts.append(block)
        used += cost
    return "".join(parts)
