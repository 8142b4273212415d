"""Incremental parsing of open buffers: edits with LSP (UTF-16) positions equal a full reparse."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smallcode_lsp.index.chunker import chunk_source
from smallcode_lsp.index.documents import ParsedDocument
from smallcode_lsp.index.languages import language_for_id, language_for_path

FIXTURES = Path(__file__).parent / "index_fixtures"


def utf16_position(text: str, index: int) -> tuple[int, int]:
    """Reference LSP position of a string index (independent of the implementation)."""
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    return line, len(text[line_start:index].encode("utf-16-le")) // 2


def full_parse_chunks(doc: ParsedDocument):
    return chunk_source(doc.text.encode("utf-8"), doc.spec, doc.path)


def test_single_edit_updates_text_tree_and_chunks() -> None:
    spec = language_for_id("python")
    doc = ParsedDocument("/ws/a.py", "def alpha():\n    return 1\n", spec)
    assert [c.name for c in doc.chunks()] == ["alpha"]
    doc.apply_change(0, 4, 0, 9, "beta")
    assert doc.text == "def beta():\n    return 1\n"
    assert [c.name for c in doc.chunks()] == ["beta"]
    doc.apply_change(2, 0, 2, 0, "class Gamma:\n    def m(self): pass\n")
    assert [(c.name, c.kind, c.container) for c in doc.chunks()] == [
        ("beta", "function", None),
        ("Gamma", "class", None),
        ("m", "method", "Gamma"),
    ]
    assert not doc.tree.root_node.has_error
    doc.replace_all("X_Y = 2\n")
    assert [(c.name, c.kind) for c in doc.chunks()] == [("X_Y", "constant")]


def test_utf16_positions_with_astral_characters() -> None:
    spec = language_for_id("python")
    text = 's = "🌍🌍"; t = 1\ndef f():\n    return "é"\n'
    doc = ParsedDocument("/ws/u.py", text, spec)
    # "🌍" is 2 UTF-16 units: character 9 is just after the second globe... insert before `"`.
    doc.apply_change(0, 9, 0, 9, "x")
    assert doc.text.startswith('s = "🌍🌍x"')
    doc.apply_change(1, 4, 1, 5, "gg")
    assert "def gg():" in doc.text
    assert [c.name for c in doc.chunks()] == ["gg"]
    assert doc.chunks() == full_parse_chunks(doc)
    assert doc.position_of(doc.text.index("x")) == (0, 9)


@pytest.mark.parametrize(
    "rel", ["py_pkg/shapes.py", "web/app.js", "web/store.ts", "go/server.go", "native/geometry.cpp"]
)
def test_random_edits_match_full_parse(rel: str) -> None:
    path = FIXTURES / rel
    spec = language_for_path(path)
    text = path.read_text(encoding="utf-8")
    doc = ParsedDocument(str(path), text, spec)
    rng = random.Random(rel)
    snippets = [
        "x",
        "\n",
        "é",
        "🌍",
        "def z():\n  pass\n",
        "}",
        "{",
        "ü\n😀",
        "",
        "class Q:\n    pass\n",
        "  ",
    ]
    for _ in range(40):
        a, b = sorted(rng.randrange(len(doc.text) + 1) for _ in range(2))
        if rng.random() < 0.6:
            b = min(len(doc.text), a + rng.randrange(4))
        # Never split a surrogate pair: LSP positions always sit between characters.
        new = rng.choice(snippets)
        start, end = utf16_position(doc.text, a), utf16_position(doc.text, b)
        expected = doc.text[:a] + new + doc.text[b:]
        doc.apply_change(*start, *end, new)
        assert doc.text == expected
        assert doc.source == expected.encode("utf-8")
        assert doc.chunks() == full_parse_chunks(doc)
        assert str(doc.tree.root_node) == str(doc.spec.new_parser().parse(doc.source).root_node)


def test_out_of_range_positions_are_clamped() -> None:
    doc = ParsedDocument("/ws/c.py", "a = 1\n", language_for_id("python"))
    doc.apply_change(0, 100, 0, 100, "  # tail")
    assert doc.text == "a = 1  # tail\n"
    doc.apply_change(50, 0, 60, 0, "B = 2\n")
    assert doc.text == "a = 1  # tail\nB = 2\n"
    assert [c.name for c in doc.chunks()] == ["B"]
