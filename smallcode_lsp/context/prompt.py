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
    text: str
    snippets: int


def pack_snippets(
    snippets: Iterable[Snippet],
    *,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    comment_prefix: str,
    roots: Iterable[str] = (),
    stable_order: bool = True,
) -> PackedContext:
    """Concatenate snippets, each headed by its path as a comment, until the budget is spent.

    Snippets are *chosen* in the given (priority) order, then, with `stable_order`, *written* by
    path and line: the set of chosen snippets barely changes between keystrokes, but their priority
    order does (it follows the nearest identifiers), and a reordered prefix would defeat KV reuse.
    """
    roots = list(roots)
    chosen: list[tuple[str, int, str]] = []
    used = 0
    for snippet in snippets:
        shown = display_path(snippet.path, roots)
        block = f"{comment_prefix} {shown}\n{snippet.text.rstrip()}\n\n"
        cost = count_tokens(block)
        if used + cost > budget_tokens:
            continue  # a smaller snippet further down may still fit
        chosen.append((shown, snippet.start_line, block))
        used += cost
    if stable_order:
        chosen.sort(key=lambda c: (c[0], c[1]))
    return PackedContext("".join(block for _shown, _line, block in chosen), len(chosen))
