import pytest

from smallcode_lsp.completion.shape import decide_block
from smallcode_lsp.engine.postprocess import CursorContext
from smallcode_lsp.index.languages import language_for_path


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("a.py", "def f(x):", True),
        ("a.py", "if ready:  # wait for it", True),
        ("a.py", "x = 1  # note:", False),
        ("a.py", 'label = "key:', False),
        ("a.py", "total = price * count", False),
        ("a.js", "function f(a) {", True),
        ("a.js", "const s = '{';", False),
        ("a.js", "if (ok) { // start", True),
        ("a.go", "func main() {", True),
        ("a.rs", 'let s = "{";', False),
        ("a.unknown", "def f():", True),  # no grammar: the text rule
    ],
)
def test_block_decision_uses_the_tree(path, source, expected):
    cursor = CursorContext(source, "")
    spec = language_for_path(path)
    assert decide_block(cursor, "auto", spec=spec, source=source + "\n", row=0) is expected


def test_settings_override_the_tree():
    spec = language_for_path("a.py")
    cursor = CursorContext("x = 1", "")
    assert decide_block(cursor, "always", spec=spec, source="x = 1\n", row=0) is True
    assert (
        decide_block(CursorContext("def f():", ""), "never", spec=spec, source="def f():\n", row=0) is False
    )
