"""Turn a tree-sitter tree into symbol chunks: the unit of search, navigation and retrieval.

The tag queries (grammars/<language>/tags.scm) only say *what* a symbol is; this module decides the
rest with one language-independent pass:

* several matches for one identifier (a function and its decorated wrapper, a declaration and its
  `export`) collapse into the outermost, so a chunk's text includes decorators and keywords;
* nesting gives the container: the nearest enclosing class/struct/interface/enum/impl/trait/module;
* anything declared inside a function body is local and dropped (it is part of that function's text);
* a function whose container is a type becomes a "method"; a method with no type becomes a "function".

Kinds (the documented set): function, method, class, struct, interface, enum, impl, trait, module,
type, constant, variable, macro.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tree_sitter

from smallcode_lsp.index.languages import LanguageSpec

KINDS: tuple[str, ...] = (
    "function",
    "method",
    "class",
    "struct",
    "interface",
    "enum",
    "impl",
    "trait",
    "module",
    "type",
    "constant",
    "variable",
    "macro",
)
# Kinds whose members are methods.
TYPE_KINDS = frozenset({"class", "struct", "interface", "enum", "impl", "trait"})
# Kinds that may contain other symbols (and so name their container).
CONTAINER_KINDS = TYPE_KINDS | {"module"}
FUNCTION_KINDS = frozenset({"function", "method"})


@dataclass(frozen=True, slots=True)
class Chunk:
    """A symbol and its source. Lines are 0-based; columns count code points of the line."""

    name: str
    kind: str
    container: str | None
    path: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    name_line: int
    name_col: int
    name_end_col: int
    text: str


_local = threading.local()


def _parser(spec: LanguageSpec) -> tree_sitter.Parser:
    """One parser per thread and language: creating one is cheap, but reuse is cheaper."""
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(spec.name)
    if parser is None:
        parser = parsers[spec.name] = spec.new_parser()
    return parser


def chunk_source(source: bytes, spec: LanguageSpec, path: str) -> list[Chunk]:
    """Parse `source` and chunk it. Broken syntax yields the symbols that still parse."""
    tree = _parser(spec).parse(source)
    return chunk_tree(tree, source, spec, path)


class _Def:
    __slots__ = ("node", "start", "end", "name_node", "kind", "explicit_container", "parent", "drop")

    def __init__(
        self, node: tree_sitter.Node, name_node: tree_sitter.Node, kind: str, container: str | None
    ) -> None:
        self.node = node
        self.start = node.start_byte
        self.end = node.end_byte
        self.name_node = name_node
        self.kind = kind
        self.explicit_container = container
        self.parent: _Def | None = None
        self.drop = False


def _collect(
    tree: tree_sitter.Tree, spec: LanguageSpec, source: bytes, byte_range: tuple[int, int] | None
) -> list[_Def]:
    """Run the tag query; keep one definition per identifier (the outermost)."""
    by_name: dict[int, _Def] = {}
    cursor = tree_sitter.QueryCursor(spec.query)
    lo, hi = byte_range if byte_range is not None else (0, len(source))
    if byte_range is not None:
        cursor.set_byte_range(lo, hi)
    for _pattern, captures in cursor.matches(tree.root_node):
        kind = node = None
        for key, nodes in captures.items():
            if key.startswith("definition."):
                kind, node = key[11:], nodes[0]
                break
        names = captures.get("name")
        if node is None or not names:
            continue
        name_node = names[0]
        if node.start_byte < lo or node.end_byte > hi:
            continue
        container_nodes = captures.get("container")
        container = None
        if container_nodes:
            container = _text(source, container_nodes[0])
        key = name_node.start_byte
        seen = by_name.get(key)
        if seen is None or node.end_byte - node.start_byte > seen.end - seen.start:
            by_name[key] = _Def(node, name_node, kind, container)
    return sorted(by_name.values(), key=lambda d: (d.start, -d.end))


def _nest(defs: list[_Def]) -> None:
    """Link each definition to its enclosing one; mark locals (inside functions) for dropping."""
    stack: list[_Def] = []
    for d in defs:
        while stack and not (stack[-1].start <= d.start and d.end <= stack[-1].end):
            stack.pop()
        top = stack[-1] if stack else None
        if top is not None and top.start == d.start and top.end == d.end:
            top = top.parent  # two names declared by one node (`const a = 1, b = 2`): siblings
        d.parent = top
        if top is not None and (top.drop or top.kind in FUNCTION_KINDS):
            d.drop = True
        stack.append(d)


def _text(source: bytes, node: tree_sitter.Node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _char_col(source: bytes, byte_offset: int, byte_col: int) -> int:
    """Convert a byte column to a code-point column (the line starts at byte_offset - byte_col)."""
    line_start = byte_offset - byte_col
    return len(source[line_start:byte_offset].decode("utf-8", "replace"))


def chunk_tree(tree: tree_sitter.Tree, source: bytes, spec: LanguageSpec, path: str) -> list[Chunk]:
    """Chunk an already-parsed tree (open documents reuse their incrementally edited tree)."""
    return [chunk for _start, _end, chunk in chunk_tree_spans(tree, source, spec, path)]


def chunk_tree_spans(
    tree: tree_sitter.Tree,
    source: bytes,
    spec: LanguageSpec,
    path: str,
    byte_range: tuple[int, int] | None = None,
) -> list[tuple[int, int, Chunk]]:
    """Chunks with their byte spans, optionally only those wholly inside `byte_range`.

    A range must cover whole top-level nodes: nesting (containers, locals) is resolved inside it.
    Incremental re-chunking of edited documents relies on both properties.
    """
    defs = _collect(tree, spec, source, byte_range)
    _nest(defs)
    ascii_only = source.isascii()
    chunks: list[tuple[int, int, Chunk]] = []
    for d in defs:
        if d.drop:
            continue
        kind = d.kind
        container = d.explicit_container
        parent = d.parent
        if container is None and parent is not None and parent.kind in CONTAINER_KINDS:
            container = _text(source, parent.name_node)
        if kind in FUNCTION_KINDS:
            is_member = d.explicit_container is not None or (parent is not None and parent.kind in TYPE_KINDS)
            kind = "method" if is_member else "function"
        node, name_node = d.node, d.name_node
        (start_line, start_col), (end_line, end_col) = node.start_point, node.end_point
        name_line, name_col = name_node.start_point
        name_end_col = name_node.end_point[1]
        if not ascii_only:
            start_col = _char_col(source, d.start, start_col)
            end_col = _char_col(source, d.end, end_col)
            name_col = _char_col(source, name_node.start_byte, name_col)
            if name_node.end_point[0] == name_line:
                name_end_col = _char_col(source, name_node.end_byte, name_end_col)
        name = _text(source, name_node)
        if name_node.end_point[0] != name_line:  # a name never spans lines; be safe anyway
            name = name.split("\n", 1)[0]
            name_end_col = name_col + len(name)
        chunk = Chunk(
            name,
            kind,
            container,
            path,
            start_line,
            start_col,
            end_line,
            end_col,
            name_line,
            name_col,
            name_end_col,
            _text(source, node),
        )
        chunks.append((d.start, d.end, chunk))
    return chunks
