"""Signature skeletons: a definition as its caller needs to see it, at a fraction of the tokens.

A small model completing a call to a function in another file needs its name, parameters,
defaults, annotations and the first lines of its docstring, not its body; a body costs tokens the
budget could spend on more definitions, and its statements distract a 0.5B model into copying
them. `skeleton` keeps every line of a chunk except the bodies of functions and methods, which
become `...` (after the docstring in Python, inside `{ ... }` elsewhere). A class therefore keeps
its header, fields and the signatures of all its methods. Language-independent: any tree-sitter
node of a function-like type with a `body` field is elided.
"""

from __future__ import annotations

from functools import lru_cache

import tree_sitter

from smallcode_lsp.index.chunker import _parser
from smallcode_lsp.index.languages import LanguageSpec, language_for_path

# Node types whose `body` field is an implementation a caller does not need.
_FUNCTION_NODES = frozenset(
    {
        "function_definition",  # Python, C, C++
        "function_declaration",  # JS/TS, Go
        "generator_function_declaration",
        "method_definition",  # JS/TS
        "method_declaration",  # Go, Java
        "constructor_declaration",  # Java
        "function_item",  # Rust
        "function_expression",
        "generator_function",
        "arrow_function",
    }
)
_BLOCK_BODIES = frozenset({"statement_block", "block", "compound_statement", "constructor_body"})
# Chunks this short are shown whole: their body is as cheap as a skeleton and often more telling.
SMALL_CHUNK_LINES = 12
_DOC_LINES = 4


def _docstring(body: tree_sitter.Node, source: bytes) -> str | None:
    """The first paragraph (at most a few lines) of a Python body's docstring, quotes closed."""
    first = body.named_children[0] if body.named_children else None
    if first is None or first.type != "expression_statement" or not first.named_children:
        return None
    string = first.named_children[0]
    if string.type != "string":
        return None
    text = source[string.start_byte : string.end_byte].decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    quote = next((q for q in ('"""', "'''") if q in lines[0]), None)
    if quote is None:
        return None
    kept: list[str] = []
    for line in lines[:_DOC_LINES]:
        if not line.strip():
            break
        kept.append(line)
    if len(kept) == len(lines):
        return text
    if len(kept) == 1:
        return kept[0].rstrip() + quote  # the summary line alone: """Render a template."""
    return "\n".join(kept) + "\n" + " " * string.start_point[1] + quote


def _elisions(root: tree_sitter.Node, source: bytes, python: bool) -> list[tuple[int, int, bytes]]:
    """(start, end, replacement) byte edits, outermost function bodies only, in source order."""
    edits: list[tuple[int, int, bytes]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        body = node.child_by_field_name("body") if node.type in _FUNCTION_NODES else None
        if body is not None:
            if python:
                doc = _docstring(body, source)
                indent = b"\n" + b" " * body.start_point[1]
                keep = doc.encode("utf-8") + indent + b"..." if doc else b"..."
                edits.append((body.start_byte, body.end_byte, keep))
            elif body.type in _BLOCK_BODIES:
                edits.append((body.start_byte, body.end_byte, b"{ ... }"))
            continue  # anything nested in a body is elided with it
        stack.extend(reversed(node.children))
    edits.sort()
    return edits


@lru_cache(maxsize=4096)
def _skeleton_cached(text: str, spec: LanguageSpec) -> str:
    source = text.encode("utf-8")
    tree = _parser(spec).parse(source)
    edits = _elisions(tree.root_node, source, spec.name == "python")
    if not edits:
        return text
    out: list[bytes] = []
    at = 0
    for start, end, replacement in edits:
        out += [source[at:start], replacement]
        at = end
    out.append(source[at:])
    return b"".join(out).decode("utf-8", errors="replace")


def skeleton(text: str, path: str) -> str:
    """`text` (a chunk of `path`) with function bodies elided; unchanged for unknown languages."""
    spec = language_for_path(path)
    if spec is None:
        return text
    return _skeleton_cached(text, spec)


def snippet_text(text: str, path: str, max_lines: int) -> str:
    """What a definition looks like in a prompt: whole when short, else its skeleton, capped."""
    if text.count("\n") >= SMALL_CHUNK_LINES:
        text = skeleton(text, path)
    cut = -1
    for _ in range(max_lines):
        cut = text.find("\n", cut + 1)
        if cut < 0:
            return text
    return text[:cut]
