"""`workspace/symbol` and `textDocument/documentSymbol`, served from the tree-sitter index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from smallcode_lsp.index.chunker import Chunk
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.features.documents import flush_pending_publishes
from smallcode_lsp.server.positions import ClientPositions, client_encoding

SYMBOL_KINDS: dict[str, types.SymbolKind] = {
    "function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "struct": types.SymbolKind.Struct,
    "interface": types.SymbolKind.Interface,
    "trait": types.SymbolKind.Interface,
    "enum": types.SymbolKind.Enum,
    "impl": types.SymbolKind.Namespace,
    "constant": types.SymbolKind.Constant,
    "variable": types.SymbolKind.Variable,
    "type": types.SymbolKind.TypeParameter,
    "module": types.SymbolKind.Module,
    "namespace": types.SymbolKind.Namespace,
}


Convert = Callable[[int, int], tuple[int, int]]


def _as_is(row: int, column: int) -> tuple[int, int]:
    return row, column


def _position(convert: Convert, row: int, column: int) -> types.Position:
    return types.Position(*convert(row, column))


def _range(chunk: Chunk, convert: Convert = _as_is) -> types.Range:
    return types.Range(
        _position(convert, chunk.start_line, chunk.start_col),
        _position(convert, chunk.end_line, chunk.end_col),
    )


def _selection(chunk: Chunk, convert: Convert = _as_is) -> types.Range:
    return types.Range(
        _position(convert, chunk.name_line, chunk.name_col),
        _position(convert, chunk.name_line, chunk.name_end_col),
    )


def _kind(chunk: Chunk) -> types.SymbolKind:
    return SYMBOL_KINDS.get(chunk.kind, types.SymbolKind.Object)


def nest(chunks: list[Chunk], convert: Convert = _as_is) -> list[types.DocumentSymbol]:
    """Turn flat chunks into a tree by range containment (methods under their class); `convert`
    maps chunk coordinates ("\\n" rows, code points) to the client's."""
    ordered = sorted(chunks, key=lambda c: (c.start_line, c.start_col, -c.end_line))
    roots: list[types.DocumentSymbol] = []
    stack: list[tuple[Chunk, types.DocumentSymbol]] = []
    for chunk in ordered:
        symbol = types.DocumentSymbol(
            name=chunk.name,
            kind=_kind(chunk),
            range=_range(chunk, convert),
            selection_range=_selection(chunk, convert),
            detail=chunk.kind,
            children=[],
        )
        while stack and (stack[-1][0].end_line, stack[-1][0].end_col) < (chunk.end_line, chunk.end_col):
            stack.pop()
        (stack[-1][1].children.append(symbol) if stack else roots.append(symbol))  # type: ignore[union-attr]
        stack.append((chunk, symbol))
    return roots


def _open_converters(ls: SmallCodeServer) -> dict[str, Convert]:
    """Coordinate maps for the open, parsed buffers, by path (lazily built per text)."""
    encoding = client_encoding(ls)
    return {doc.path: ClientPositions(doc.text, encoding).convert for doc in ls.parsed.values()}


def register(server: SmallCodeServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    def workspace_symbol(
        ls: SmallCodeServer, params: types.WorkspaceSymbolParams
    ) -> list[types.WorkspaceSymbol]:
        if ls.index is None:
            return []
        flush_pending_publishes(ls)
        converters = _open_converters(ls)
        return [
            types.WorkspaceSymbol(
                name=chunk.name,
                kind=_kind(chunk),
                location=types.Location(
                    from_fs_path(chunk.path) or chunk.path, _range(chunk, converters.get(chunk.path, _as_is))
                ),
                container_name=chunk.container,
            )
            for chunk in ls.index.search_symbols(params.query, limit=200)
        ]

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(
        ls: SmallCodeServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol]:
        uri = params.text_document.uri
        document = ls.parsed.get(ls.doc_key(uri))
        if document is not None:
            return nest(document.chunks(), ClientPositions(document.text, client_encoding(ls)).convert)
        if ls.document(uri) is not None:
            return []  # open but not parsed (binary, too big, unknown language): no symbols
        if ls.index is not None:
            return nest(ls.index.document_symbols(str(Path(ls.path_of(uri)))))
        return []
