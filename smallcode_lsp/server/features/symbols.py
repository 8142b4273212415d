"""`workspace/symbol` and `textDocument/documentSymbol`, served from the tree-sitter index."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from smallcode_lsp.index.chunker import Chunk
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.features.documents import flush_pending_publishes

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


def _range(chunk: Chunk) -> types.Range:
    return types.Range(
        types.Position(chunk.start_line, chunk.start_col), types.Position(chunk.end_line, chunk.end_col)
    )


def _selection(chunk: Chunk) -> types.Range:
    return types.Range(
        types.Position(chunk.name_line, chunk.name_col), types.Position(chunk.name_line, chunk.name_end_col)
    )


def _kind(chunk: Chunk) -> types.SymbolKind:
    return SYMBOL_KINDS.get(chunk.kind, types.SymbolKind.Object)


def nest(chunks: list[Chunk]) -> list[types.DocumentSymbol]:
    """Turn flat chunks into a tree by range containment (methods under their class)."""
    ordered = sorted(chunks, key=lambda c: (c.start_line, c.start_col, -c.end_line))
    roots: list[types.DocumentSymbol] = []
    stack: list[tuple[Chunk, types.DocumentSymbol]] = []
    for chunk in ordered:
        symbol = types.DocumentSymbol(
            name=chunk.name,
            kind=_kind(chunk),
            range=_range(chunk),
            selection_range=_selection(chunk),
            detail=chunk.kind,
            children=[],
        )
        while stack and (stack[-1][0].end_line, stack[-1][0].end_col) < (chunk.end_line, chunk.end_col):
            stack.pop()
        (stack[-1][1].children.append(symbol) if stack else roots.append(symbol))  # type: ignore[union-attr]
        stack.append((chunk, symbol))
    return roots


def register(server: SmallCodeServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    def workspace_symbol(
        ls: SmallCodeServer, params: types.WorkspaceSymbolParams
    ) -> list[types.WorkspaceSymbol]:
        if ls.index is None:
            return []
        flush_pending_publishes(ls)
        return [
            types.WorkspaceSymbol(
                name=chunk.name,
                kind=_kind(chunk),
                location=types.Location(from_fs_path(chunk.path) or chunk.path, _range(chunk)),
                container_name=chunk.container,
            )
            for chunk in ls.index.search_symbols(params.query, limit=200)
        ]

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(
        ls: SmallCodeServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol]:
        uri = params.text_document.uri
        document = ls.parsed.get(uri)
        if document is not None:
            return nest(document.chunks())
        if ls.index is not None:
            return nest(ls.index.document_symbols(str(Path(ls.path_of(uri)))))
        return []
