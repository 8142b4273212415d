"""Signature skeletons keep what a caller needs (name, parameters, docstring head) and drop bodies."""

from __future__ import annotations

import pytest

from smallcode_lsp.context.skeleton import SMALL_CHUNK_LINES, flush_left, skeleton, snippet_text

PY_FUNCTION = '''def render(template: str, *, strict: bool = False) -> str:
    """Render a template.

    Longer explanation that the caller does not need.
    """
    parts = template.split("{")
    return "".join(parts)'''

PY_CLASS = '''@dataclass
class Point:
    """A point."""

    x: float
    y: float = 0.0

    def norm(self) -> float:
        return (self.x ** 2 + self.y ** 2) ** 0.5

    def moved(self, dx: float, dy: float) -> "Point":
        def helper():
            return 1
        return Point(self.x + dx, self.y + dy)'''

CASES = [
    (
        "python function keeps signature and first docstring paragraph",
        "a.py",
        PY_FUNCTION,
        'def render(template: str, *, strict: bool = False) -> str:\n    """Render a template."""\n    ...',
    ),
    (
        "python function without docstring",
        "a.py",
        "def add(a, b=1):\n    total = a + b\n    return total",
        "def add(a, b=1):\n    ...",
    ),
    (
        "one-line docstring kept whole",
        "a.py",
        'def f(x):\n    """Double x."""\n    return 2 * x',
        'def f(x):\n    """Double x."""\n    ...',
    ),
    (
        "python class keeps fields and method signatures, nested functions go with their body",
        "a.py",
        PY_CLASS,
        '@dataclass\nclass Point:\n    """A point."""\n\n    x: float\n    y: float = 0.0\n\n'
        "    def norm(self) -> float:\n        ...\n\n"
        '    def moved(self, dx: float, dy: float) -> "Point":\n        ...',
    ),
    (
        "class docstring cut to its head, method docstrings dropped",
        "a.py",
        'class Lexer:\n    """Tokenize.\n\n    Long story.\n    """\n\n'
        '    def wrap(self, stream):\n        """Wrap tokens."""\n        return stream',
        'class Lexer:\n    """Tokenize."""\n\n    def wrap(self, stream):\n        ...',
    ),
    (
        "javascript function",
        "a.js",
        "function area(w, h) {\n  const a = w * h;\n  return a;\n}",
        "function area(w, h) { ... }",
    ),
    (
        "typescript class methods",
        "a.ts",
        "class Box {\n  width: number = 0;\n  grow(by: number): void {\n    this.width += by;\n  }\n}",
        "class Box {\n  width: number = 0;\n  grow(by: number): void { ... }\n}",
    ),
    (
        "go function",
        "a.go",
        "func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n"
        "\t\ttotal += x\n\t}\n\treturn total\n}",
        "func Sum(xs []int) int { ... }",
    ),
    (
        "rust function",
        "a.rs",
        "pub fn parse(input: &str) -> Result<u32, String> {\n    input.parse().map_err(|e| e.to_string())\n}",
        "pub fn parse(input: &str) -> Result<u32, String> { ... }",
    ),
    (
        "java class",
        "A.java",
        "class Account {\n  private int balance;\n  public Account(int b) {\n    balance = b;\n  }\n"
        "  public int deposit(int amount) {\n    balance += amount;\n    return balance;\n  }\n}",
        "class Account {\n  private int balance;\n  public Account(int b) { ... }\n"
        "  public int deposit(int amount) { ... }\n}",
    ),
    (
        "c function",
        "a.c",
        "int max(int a, int b) {\n  return a > b ? a : b;\n}",
        "int max(int a, int b) { ... }",
    ),
    ("unknown language is unchanged", "a.unknown", "def f():\n    return 1", "def f():\n    return 1"),
]


@pytest.mark.parametrize(("title", "path", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_skeleton(title: str, path: str, text: str, expected: str) -> None:
    assert skeleton(text, path) == expected


def test_short_chunks_are_shown_whole() -> None:
    short = "def add(a, b):\n    return a + b"
    assert snippet_text(short, "a.py", 60) == short


def test_long_chunks_become_skeletons_and_are_capped() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(SMALL_CHUNK_LINES + 5))
    long = f"def build(a, b):\n{body}\n    return x0"
    assert snippet_text(long, "a.py", 60) == "def build(a, b):\n    ..."
    many_methods = "class K:\n" + "\n".join(f"    def m{i}(self):\n        return {i}" for i in range(30))
    capped = snippet_text(many_methods, "a.py", 5)
    assert capped.count("\n") == 4 and capped.startswith("class K:\n    def m0(self):\n        ...")


def test_broken_syntax_still_yields_text() -> None:
    broken = "def f(a:\n    return (a"
    assert "def f" in skeleton(broken, "a.py")


@pytest.mark.parametrize(
    ("text", "start_col", "expected"),
    [
        ("def m(self):\n        return 1", 4, "def m(self):\n    return 1"),
        ("@property\n\tdef name(self):\n\t\treturn 1", 1, "@property\ndef name(self):\n\treturn 1"),
        ("def f():\n    return 1", 0, "def f():\n    return 1"),
        ("x = 1", 8, "x = 1"),
    ],
)
def test_flush_left_restores_and_removes_block_indentation(text: str, start_col: int, expected: str) -> None:
    assert flush_left(text, start_col) == expected


def test_compact_form_keeps_only_signatures() -> None:
    cls = (
        'class Lexer:\n    """Tokenize.\n\n    Long.\n    """\n\n'
        '    def __init__(self, env):\n        """Doc."""\n        self.env = env'
    )
    expected = "class Lexer:\n    def __init__(self, env):\n        ..."
    assert snippet_text(cls, "a.py", 6, compact=True) == expected
    assert snippet_text(PY_FUNCTION, "a.py", 6, compact=True) == (
        "def render(template: str, *, strict: bool = False) -> str:\n    ..."
    )
    only_doc = 'class Oops(Exception):\n    """Raised when it breaks."""'
    assert snippet_text(only_doc, "a.py", 6, compact=True) == "class Oops(Exception):\n    ..."


def test_comment_lines_do_not_take_the_signatures_place() -> None:
    cls = (
        "class Cache:\n    # fast for small sizes\n    #: the capacity\n    size = 0\n\n"
        "    def __init__(self, n):\n        self.n = n"
    )
    assert skeleton(cls, "a.py") == "class Cache:\n    size = 0\n\n    def __init__(self, n):\n        ..."
    assert skeleton("int f(int a) {\n  // add\n  return a;\n}", "a.c") == "int f(int a) { ... }"
