"""Where an agent request applies: the code around a line that a fix may rewrite, and syntax errors.

The rewrite unit is the innermost function or method around the line: big enough for the model to see
the whole mistake, small enough to regenerate on a laptop. Outside any function it is the top-level
statement; when that is huge (a long dict literal, a class body), a few lines around the problem.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

import tree_sitter

from smallcode_lsp.index.chunker import chunk_source
from smallcode_lsp.index.languages import LanguageSpec

MAX_TARGET_LINES = 150
FALLBACK_RADIUS = 6
_FUNCTION_KINDS = ("function", "method")
# A line that opens a function in the common languages, for code too broken for tree-sitter's chunks.
_DEFINITION_START = re.compile(r"^\s*(?:async\s+def|def|function|func|fn|pub\s+fn)\s+(\w+)")


@dataclass(frozen=True)
class Target:
    """Lines [start, end] (0-based, inclusive) of the document that a rewrite replaces."""

    start: int
    end: int
    name: str | None  # the function's name, when the target is one
    text: str

    def replace_in(self, document: str, replacement: str) -> str:
        lines = document.split("\n")
        new = replacement.rstrip("\n").split("\n")
        return "\n".join(lines[: self.start] + new + lines[self.end + 1 :])


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 0-based
    column: int
    end_line: int
    end_column: int
    message: str


def _lines_of(document: str, start: int, end: int) -> str:
    return "\n".join(document.split("\n")[start : end + 1])


def find_target(document: str, spec: LanguageSpec | None, path: str, line: int) -> Target:
    """The rewrite unit around 0-based `line` of `document`."""
    total = document.count("\n") + 1
    line = max(0, min(line, total - 1))
    if spec is not None:
        data = document.encode("utf-8")
        chunks = [
            c
            for c in chunk_source(data, spec, path)
            if c.kind in _FUNCTION_KINDS and c.start_line <= line <= c.end_line
        ]
        if chunks:
            inner = min(chunks, key=lambda c: c.end_line - c.start_line)
            if inner.end_line - inner.start_line < MAX_TARGET_LINES:
                start, end = inner.start_line, inner.end_line
                return Target(start, end, inner.name, _lines_of(document, start, end))
        broken = _indented_definition(document.split("\n"), line)
        if broken is not None:
            start, end, name = broken
            return Target(start, end, name, _lines_of(document, start, end))
        tree = spec.new_parser().parse(data)
        for node in tree.root_node.children:
            if node.start_point.row <= line <= node.end_point.row:
                if node.end_point.row - node.start_point.row < MAX_TARGET_LINES:
                    start, end = node.start_point.row, node.end_point.row
                    return Target(start, end, None, _lines_of(document, start, end))
                break
    start, end = max(0, line - FALLBACK_RADIUS), min(total - 1, line + FALLBACK_RADIUS)
    return Target(start, end, None, _lines_of(document, start, end))


def _indented_definition(lines: list[str], line: int) -> tuple[int, int, str] | None:
    """The function around `line` by indentation: what a syntax error can hide from the parser."""
    for start in range(line, max(-1, line - MAX_TARGET_LINES), -1):
        match = _DEFINITION_START.match(lines[start])
        if match is None:
            continue
        depth = _indent(lines[start])
        if start < line and lines[line].strip() and _indent(lines[line]) <= depth:
            return None  # the line is not inside this definition's body
        end = start
        for later in range(start + 1, min(len(lines), start + MAX_TARGET_LINES)):
            if lines[later].strip():
                if _indent(lines[later]) <= depth and not lines[later].lstrip().startswith((")", "]", "}")):
                    break
                end = later
        return (start, end, match.group(1)) if end >= line else None
    return None


def _indent(text: str) -> int:
    return len(text.expandtabs(4)) - len(text.lstrip().expandtabs(4))


def syntax_problems(
    document: str, spec: LanguageSpec, limit: int = 20, tree: tree_sitter.Tree | None = None
) -> list[SyntaxProblem]:
    """tree-sitter's error and missing nodes: the server's own diagnostics, for any indexed language.

    `tree`: the document's tree when the caller keeps one current (an open buffer), to skip a parse.
    """
    if tree is None:
        tree = spec.new_parser().parse(document.encode("utf-8"))
    problems: list[SyntaxProblem] = []
    if not tree.root_node.has_error:
        return problems
    lines = document.split("\n")
    stack: list[tree_sitter.Node] = [tree.root_node]
    while stack and len(problems) < limit:
        node = stack.pop()
        if node.is_missing:
            problems.append(_problem(lines, node, f"syntax error: missing {node.type!r}"))
            continue
        if node.type == "ERROR":
            snippet = node.text.decode("utf-8", "replace").strip().split("\n")[0][:40] if node.text else ""
            message = f"syntax error near {snippet!r}" if snippet else "syntax error"
            problems.append(_problem(lines, node, message))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(problems, key=lambda p: (p.line, p.column))


def _problem(lines: list[str], node: tree_sitter.Node, message: str) -> SyntaxProblem:
    start, end = node.start_point, node.end_point
    return SyntaxProblem(
        start.row,
        _code_points(lines, start.row, start.column),
        end.row,
        _code_points(lines, end.row, end.column),
        message,
    )


def _code_points(lines: list[str], row: int, byte_column: int) -> int:
    """tree-sitter columns count UTF-8 bytes; positions elsewhere count code points."""
    if row >= len(lines):
        return 0
    return len(lines[row].encode("utf-8")[:byte_column].decode("utf-8", "ignore"))


def python_function(code: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The (possibly nested) Python function `name` in `code` (dedented first); None when the code
    does not parse or has no such function. Line numbers refer to the dedented code."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None
    return next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name
        ),
        None,
    )
