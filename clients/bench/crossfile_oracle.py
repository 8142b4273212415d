"""What perfect retrieval could buy: the cross-file holes straight through llama-cpp-python, with the
server's prompt window and (a) no context, (b) the called function's real definition put above it.

If (b) barely beats (a), the model cannot use cross-file context on these holes, whatever retrieval
finds; if it clearly does, the gap to the server's "retrieval on" is retrieval's to close. The window
matches the server's (60-76 lines before the cursor on 16-line steps, 10 after); the definition goes
at the head of the FIM prefix under a path comment, the layout that did best in a trial (a repository
layout with `<|file_sep|>` did no better on this model).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from clients.bench.quality_tasks import CrossFileHole

WINDOW_BEFORE, WINDOW_STEP, WINDOW_AFTER = 60, 16, 10
DEFINITION_LINES = 25


def definition_source(root: Path, relative: str, name: str, max_lines: int = DEFINITION_LINES) -> str:
    """The top-level definition of `name` in `root/relative`, decorators included, capped."""
    text = (root / relative).read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if getattr(node, "name", None) == name:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            return "\n".join(text.split("\n")[first - 1 : node.end_lineno][:max_lines])
    return ""


def window(hole: CrossFileHole) -> tuple[str, str]:
    lines = hole.hole.text.split("\n")
    line = hole.hole.line
    first = max(0, (line - WINDOW_BEFORE) // WINDOW_STEP * WINDOW_STEP)
    before = "\n".join(lines[first:line] + [lines[line][: hole.hole.column]])
    after = "\n".join([lines[line][hole.hole.column :]] + lines[line + 1 : line + 1 + WINDOW_AFTER])
    return before, after


def oracle_records(
    holes: list[CrossFileHole], root: Path, ceiling: Any, score
) -> dict[str, list[dict[str, Any]]]:
    """{"bare": [...], "oracle": [...]} scored records, one per hole, from the `Ceiling` model."""
    out: dict[str, list[dict[str, Any]]] = {"bare": [], "oracle": []}
    for hole in holes:
        before, after = window(hole)
        definition = definition_source(root, hole.defined_in, hole.callee)
        prompts = {"bare": before, "oracle": f"# {hole.defined_in}\n{definition}\n\n\n{before}"}
        for name, prefix in prompts.items():
            ceiling.llm.reset()
            answer = ceiling.complete(prefix, after)
            out[name].append({"seconds": answer["seconds"], **score(hole, answer["text"])})
    return out
