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

import textwrap
from functools import lru_cache

import tree_sitter

from smallcode_lsp.context.lexical import head_lines
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
# Source lines parsed per skeleton line shown (bodies are elided, so many source lines make one).
_PARSED_LINES_PER_SHOWN = 8
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


def _elisions(
    root: tree_sitter.Node, source: bytes, python: bool, docstrings: bool
) -> list[tuple[int, int, bytes]]:
    """(start, end, replacement) byte edits, outermost function bodies only, in source order.

    A function chunk keeps the head of its docstring; the methods of a class chunk keep only their
    signatures (a class's method list is its interface; their docstrings would crowd out the rest of
    the context), and the class's own docstring is cut to its head.
    """
    edits: list[tuple[int, int, bytes]] = []
    top = root.named_children[0] if root.named_children else None
    while top is not None and top.type == "decorated_definition":
        top = top.child_by_field_name("definition")
    stack = [root]
    while stack:
        node = stack.pop()
        body = node.child_by_field_name("body") if node.type in _FUNCTION_NODES else None
        if body is not None:
            if python:
                doc = _docstring(body, source) if docstrings and node == top else None
                indent = b"\n" + b" " * body.start_point[1]
                keep = doc.encode("utf-8") + indent + b"..." if doc else b"..."
                edits.append((body.start_byte, body.end_byte, keep))
            elif body.type in _BLOCK_BODIES:
                edits.append((body.start_byte, body.end_byte, b"{ ... }"))
            continue  # anything nested in a body is elided with it
        if python and node.type == "class_definition":
            class_body = node.child_by_field_name("body")
            first = class_body.named_children[0] if class_body and class_body.named_children else None
            doc = _docstring(class_body, source) if class_body else None
            if first is not None and doc is not None:
                if docstrings:
                    edits.append((first.start_byte, first.end_byte, doc.encode("utf-8")))
                else:  # drop the docstring line and the blank lines after it
                    end = first.end_byte
                    while end < len(source) and source[end : end + 1] in (b"\n", b" ", b"\t", b"\r"):
                        end += 1
                    indent = first.start_point[1]  # delete whole lines: from the docstring's line start
                    if end >= len(source):  # the docstring was the whole body
                        edits.append((first.start_byte, first.end_byte, b"..."))
                    else:
                        edits.append((first.start_byte - indent, end - indent, b""))
        stack.extend(reversed(node.children))
    edits.sort()
    return edits


@lru_cache(maxsize=4096)
def _skeleton_cached(text: str, spec: LanguageSpec, docstrings: bool) -> str:
    source = text.encode("utf-8")
    tree = _parser(spec).parse(source)
    edits = _elisions(tree.root_node, source, spec.name == "python", docstrings)
    out: list[bytes] = []
    at = 0
    for start, end, replacement in edits:
        out += [source[at:start], replacement]
        at = end
    out.append(source[at:])
    return _without_comment_lines(b"".join(out).decode("utf-8", errors="replace"), spec.comment_prefix)


def _without_comment_lines(text: str, prefix: str) -> str:
    """Drops lines that hold only a comment: in a skeleton they cost lines that the signatures need
    (a class's `#:` attribute notes can push its constructor past the line cap)."""
    lines = text.split("\n")
    kept = [line for line in lines if not line.lstrip().startswith(prefix)]
    return text if len(kept) == len(lines) else "\n".join(kept)


def skeleton(text: str, path: str, *, docstrings: bool = True) -> str:
    """`text` (a chunk of `path`) with function bodies elided; unchanged for unknown languages.

    Without `docstrings`, Python docstrings go too: just the signatures (the compact form used for
    names that are merely imported, where many must fit the budget).
    """
    spec = language_for_path(path)
    if spec is None:
        return text
    return _skeleton_cached(text, spec, docstrings)


def flush_left(text: str, start_col: int) -> str:
    """A chunk's text with its block indentation removed.

    A chunk starts at its symbol's column, so a method's first line has lost the indentation that
    its other lines still carry; shown as is, the body looks over-indented. The lost indentation is
    put back (tabs when the file indents with tabs) and the common indentation then removed.
    """
    if start_col <= 0:
        return text
    rest = text.split("\n", 1)
    if len(rest) == 1:
        return text
    later = next((line for line in rest[1].split("\n") if line.strip()), "")
    unit = "\t" if later.startswith("\t") else " "
    return textwrap.dedent(unit * start_col + text)


def snippet_text(text: str, path: str, max_lines: int, *, compact: bool = False) -> str:
    """What a definition looks like in a prompt: whole when short, else its skeleton, capped.

    `compact`: always the bare signatures (no bodies, no docstrings), whatever the length.
    """
    if compact or text.count("\n") >= SMALL_CHUNK_LINES:
        # Only the head can reach the prompt, so only the head is parsed: a 1,000-line class costs
        # what its first screenful does (a cut-off last member stays as text and is capped below).
        head = head_lines(text, max(max_lines * _PARSED_LINES_PER_SHOWN, 40))
        text = skeleton(head, path, docstrings=not compact)
    return head_lines(text, max_lines)
