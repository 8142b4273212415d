"""Chunking of every language fixture with real tree-sitter grammars."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallcode_lsp.index.chunker import KINDS, chunk_source
from smallcode_lsp.index.languages import (
    SUPPORTED_LANGUAGES,
    language_for_id,
    language_for_path,
)

FIXTURES = Path(__file__).parent / "index_fixtures"


def chunks_of(rel: str):
    path = FIXTURES / rel
    spec = language_for_path(path)
    assert spec is not None
    return chunk_source(path.read_bytes(), spec, str(path))


def summary(rel: str) -> set[tuple[str, str, str | None]]:
    return {(c.name, c.kind, c.container) for c in chunks_of(rel)}


def by_name(rel: str, name: str, container: str | None = None):
    found = [c for c in chunks_of(rel) if c.name == name and (container is None or c.container == container)]
    assert len(found) == 1, found
    return found[0]


def test_language_lookup() -> None:
    assert set(SUPPORTED_LANGUAGES) == {
        "python",
        "javascript",
        "typescript",
        "tsx",
        "go",
        "rust",
        "java",
        "c",
        "cpp",
    }
    assert language_for_path("a/b.PY").name == "python"
    assert language_for_path("x.tsx").name == "tsx"
    assert language_for_path("x.h").name == "cpp"
    assert language_for_path("README.md") is None
    assert language_for_path("Makefile") is None
    assert language_for_id("typescriptreact").name == "tsx"
    assert language_for_id("javascriptreact").name == "javascript"
    assert language_for_id("cobol") is None
    for name in SUPPORTED_LANGUAGES:
        spec = language_for_id(name)
        assert spec is not None and spec.query is not None
        assert spec.comment_prefix in ("#", "//")
        assert spec.new_parser().parse(b"").root_node is not None


def test_python() -> None:
    assert summary("py_pkg/shapes.py") == {
        ("MAX_SIDES", "constant", None),
        ("_PRIVATE_LIMIT", "constant", None),
        ("area_of", "function", None),
        ("Shape", "class", None),
        ("area", "method", "Shape"),
        ("name", "method", "Shape"),
        ("Meta", "class", "Shape"),
        ("describe", "method", "Meta"),
        ("Circle", "class", None),
        ("__init__", "method", "Circle"),
        ("area", "method", "Circle"),
    }
    area_of = by_name("py_pkg/shapes.py", "area_of")
    assert (area_of.start_line, area_of.start_col, area_of.end_line) == (9, 0, 13)
    assert (area_of.name_line, area_of.name_col, area_of.name_end_col) == (9, 4, 11)
    assert area_of.text.startswith("def area_of(shape):") and "helper" in area_of.text
    # Decorators are part of the symbol; the name is still the identifier.
    circle = by_name("py_pkg/shapes.py", "Circle")
    assert circle.text.startswith("@dataclass_like\nclass Circle")
    assert (circle.start_line, circle.name_line, circle.name_col) == (31, 32, 6)
    prop = by_name("py_pkg/shapes.py", "name")
    assert prop.text.startswith("@property") and prop.start_line == 22


def test_python_columns_are_code_points() -> None:
    chunks = {c.name: c for c in chunks_of("py_pkg/unicode_names.py")}
    assert set(chunks) == {"GRÜSSE", "größe", "Café", "naïve"}
    grusse = chunks["GRÜSSE"]
    assert grusse.kind == "constant"
    assert grusse.end_col == len('GRÜSSE = "héllo 🌍"')
    assert (chunks["größe"].name_col, chunks["größe"].name_end_col) == (4, 9)
    naive = chunks["naïve"]
    assert (naive.kind, naive.container, naive.name_col, naive.name_end_col) == ("method", "Café", 8, 13)


def test_javascript() -> None:
    assert summary("web/app.js") == {
        ("API_URL", "constant", None),
        ("fetchUser", "function", None),
        ("render", "function", None),
        ("Widget", "class", None),
        ("onClick", "method", "Widget"),
        ("constructor", "method", "Widget"),
        ("mount", "method", "Widget"),
        ("main", "function", None),
    }
    fetch_user = by_name("web/app.js", "fetchUser")
    assert fetch_user.text.startswith("export const fetchUser = async")
    assert (fetch_user.start_line, fetch_user.end_line) == (6, 8)


def test_typescript() -> None:
    assert summary("web/store.ts") == {
        ("User", "interface", None),
        ("greet", "method", "User"),
        ("UserId", "type", None),
        ("Role", "enum", None),
        ("DEFAULT_ROLE", "constant", None),
        ("Internal", "module", None),
        ("secretHelper", "function", "Internal"),
        ("Repository", "class", None),
        ("find", "method", "Repository"),
        ("count", "method", "Repository"),
        ("UserStore", "class", None),
        ("find", "method", "UserStore"),
        ("createStore", "function", None),
    }


def test_tsx() -> None:
    assert summary("web/view.tsx") == {
        ("Props", "interface", None),
        ("Header", "function", None),
        ("Page", "function", None),
        ("Counter", "class", None),
        ("render", "method", "Counter"),
    }


def test_go() -> None:
    assert summary("go/server.go") == {
        ("DefaultPort", "constant", None),
        ("ModeDev", "constant", None),
        ("ModeProd", "constant", None),
        ("registry", "variable", None),
        ("Handler", "interface", None),
        ("Server", "struct", None),
        ("Port", "type", None),
        ("Alias", "type", None),
        ("Options", "struct", None),
        ("NewServer", "function", None),
        ("Start", "method", "Server"),
        ("Port", "method", "Server"),
    }
    start = by_name("go/server.go", "Start")
    assert (start.start_line, start.end_line, start.name_col) == (33, 36, 17)
    assert by_name("go/server.go", "DefaultPort").text == "const DefaultPort = 8080"


def test_rust() -> None:
    assert summary("rust/lib.rs") == {
        ("MAX_ITEMS", "constant", None),
        ("GREETING", "constant", None),
        ("Stack", "struct", None),
        ("Op", "enum", None),
        ("Summary", "trait", None),
        ("summarize", "method", "Summary"),
        ("title", "method", "Summary"),
        ("Stack", "impl", None),
        ("new", "method", "Stack"),
        ("push", "method", "Stack"),
        ("Op", "impl", None),
        ("summarize", "method", "Op"),
        ("util", "module", None),
        ("clamp", "function", "util"),
        ("Result2", "type", None),
        ("square", "macro", None),
        ("run", "function", None),
    }


def test_java() -> None:
    assert summary("java/Library.java") == {
        ("Library", "class", None),
        ("MAX_BOOKS", "constant", "Library"),
        ("Library", "method", "Library"),
        ("addBook", "method", "Library"),
        ("Catalog", "interface", "Library"),
        ("titles", "method", "Catalog"),
        ("Genre", "enum", "Library"),
        ("label", "method", "Genre"),
        ("Book", "class", None),
    }
    # The anonymous class's `run` is local to addBook: part of its text, not a symbol.
    assert "public void run()" in by_name("java/Library.java", "addBook").text


def test_c() -> None:
    assert summary("native/vector.c") == {
        ("VECTOR_INITIAL", "constant", None),
        ("MAX", "macro", None),
        ("vector", "struct", None),
        ("point", "type", None),
        ("color", "enum", None),
        ("grow", "function", None),
        ("vector_new", "function", None),
        ("main", "function", None),
    }


def test_cpp() -> None:
    assert summary("native/geometry.hpp") == {
        ("geo", "module", None),
        ("Shape", "class", "geo"),
        ("~Shape", "method", "Shape"),
        ("area", "method", "Shape"),
        ("name", "method", "Shape"),
        ("Point", "struct", "geo"),
        ("Box", "class", "geo"),
        ("get", "method", "Box"),
    }
    assert summary("native/geometry.cpp") == {
        ("geo", "module", None),
        ("Circle", "class", "geo"),
        ("Circle", "method", "Circle"),
        ("area", "method", "Circle"),
        ("distance", "function", "geo"),
        ("Real", "type", None),
    }
    box = by_name("native/geometry.hpp", "Box")
    assert box.text.startswith("template <typename T>")


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.*")))
def test_every_fixture_is_well_formed(rel: str) -> None:
    if language_for_path(rel) is None:
        pytest.skip("not source")
    chunks = chunks_of(rel)
    assert chunks, rel
    lines = (FIXTURES / rel).read_text(encoding="utf-8").split("\n")
    for c in chunks:
        assert c.kind in KINDS
        assert c.path == str(FIXTURES / rel)
        assert (c.start_line, c.start_col) <= (c.name_line, c.name_col)
        assert (c.name_line, c.name_end_col) <= (c.end_line, c.end_col)
        assert lines[c.name_line][c.name_col : c.name_end_col] == c.name
        assert c.text.split("\n", 1)[0] == lines[c.start_line][c.start_col :][: len(c.text.split("\n", 1)[0])]
    starts = [(c.start_line, c.start_col) for c in chunks]
    assert starts == sorted(starts)


BROKEN = {
    "python": b"def ok():\n    return 1\n\nclass Broken(:\n    def inner(self\n\ndef after():\n    pass\n",
    "javascript": b"function ok() { return 1 }\nclass X { m( { }\nfunction after() {}\n",
    "typescript": b"interface I { a: }\nfunction ok(): number { return 1 }\nclass {\n",
    "tsx": b"function ok() { return <b/> }\nconst A = () => <div>;\nclass {\n",
    "go": b"package p\nfunc ok() {}\nfunc broken( {\ntype T struct {\n",
    "rust": b"fn ok() {}\nimpl X { fn m(&self { }\nstruct S {\n",
    "java": b"class A { void ok() {} void broken( { }\n",
    "c": b"int ok(void) { return 0; }\nstruct s { int a\nint after(void) {}\n",
    "cpp": b"namespace n { class C { void m() {} \nint ok() { return 0; }\n",
}


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_broken_syntax_does_not_raise(language: str) -> None:
    spec = language_for_id(language)
    chunks = chunk_source(BROKEN[language], spec, f"/tmp/broken.{language}")
    assert any(c.name == "ok" for c in chunks), chunks
    # Garbage and empty input: no symbols, no exception.
    assert chunk_source(b"", spec, "/tmp/empty") == []
    chunk_source(bytes(range(256)) * 4, spec, "/tmp/garbage")
    chunk_source("ünï 🌍 (((".encode(), spec, "/tmp/unicode")
