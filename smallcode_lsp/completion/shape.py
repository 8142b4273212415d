"""Single line or block? Decided from the syntax tree where we have a grammar.

Text rules alone are fooled by a `:` or `{` inside a string and by a comment after a block opener
(`if ready:  # wait`). The tree tells us what the last thing before the cursor really is; languages
without a grammar use the text rule in `engine.postprocess.wants_block` alone.
"""

from __future__ import annotations

import tree_sitter

from smallcode_lsp.engine.postprocess import CursorContext, wants_block
from smallcode_lsp.index.languages import LanguageSpec

_STRING_KINDS = ("string", "char_literal", "template", "raw_string")


def _enclosing(node: tree_sitter.Node | None, kinds: tuple[str, ...]) -> tree_sitter.Node | None:
    while node is not None:
        if any(kind in node.type for kind in kinds):
            return node
        node = node.parent
    return None


def _open_quote(code: str) -> bool:
    """An unterminated string on the line (the tree shows only an ERROR node there)."""
    return any((code.count(quote) - code.count("\\" + quote)) % 2 for quote in ("'", '"', "`"))


def decide_block(
    cursor: CursorContext,
    setting: str,
    *,
    spec: LanguageSpec | None,
    source: str,
    row: int,
    tree: tree_sitter.Tree | None = None,
) -> bool:
    """True when the suggestion may span several lines; `tree` (of `source`) saves a parse."""
    if setting != "auto" or spec is None or cursor.line_suffix.strip() or not cursor.line_prefix.strip():
        return wants_block(cursor, setting)
    code = cursor.line_prefix.rstrip()
    try:
        tree = tree or spec.new_parser().parse(source.encode("utf-8"))
    except Exception:  # a grammar failure must never cost the completion
        return wants_block(cursor, setting)
    last = len(code.encode("utf-8")) - 1
    leaf = tree.root_node.descendant_for_point_range((row, last), (row, last))
    comment = _enclosing(leaf, ("comment",))
    if comment is not None and comment.start_point[0] == row:
        # Judge the code before a trailing comment: `if ready:  # wait` opens a block.
        before = code.encode("utf-8")[: comment.start_point[1]].decode("utf-8", errors="ignore")
        return bool(before.strip()) and wants_block(CursorContext(before.rstrip(), ""), setting)
    if _enclosing(leaf, _STRING_KINDS) is not None or _open_quote(code):
        return False  # an opener inside a string literal opens nothing
    return wants_block(CursorContext(code, ""), setting)
