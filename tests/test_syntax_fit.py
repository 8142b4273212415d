"""syntax_fit: which suggestions leave the code at the cursor broken (the router's syntax signal)."""

from __future__ import annotations

from smallcode_lsp.completion.syntax_fit import MAX_SOURCE_CHARS, breaks_syntax, insert
from smallcode_lsp.index.languages import language_for_path

PY = language_for_path("a.py")
JS = language_for_path("a.js")
GO = language_for_path("a.go")

# HumanEval/6's hole: the line below is indented one level deeper, so only a block opener fits.
NESTED = (
    "def parse(s):\n"
    "    depth = 0\n"
    "    \n"
    "        if c == '(':\n"
    "            depth += 1\n"
    "    return depth\n"
    "\n"
    "\n"
    "def broken_elsewhere(:\n"
)


def test_insert_places_text_at_the_cursor_and_replaces_what_it_covers() -> None:
    assert insert(["ab", "cd"], 0, 1, "X\nY", 1) == ["aX", "Y", "cd"]


def test_python_wants_a_block_opener_where_the_next_lines_are_indented_deeper() -> None:
    lines = NESTED.split("\n")
    assert breaks_syntax(lines, 2, 4, "return depth", 0, PY) is True
    # The error further down (another top-level statement) is not this suggestion's.
    assert breaks_syntax(lines, 2, 4, "for c in s:", 0, PY) is False


def test_python_cut_off_and_duplicated_statements_break_and_comments_never_do() -> None:
    lines = ["def f(x):", "    y = ", "    if x:", "        return y", "    else:", "        return 0", ""]
    assert breaks_syntax(lines, 1, 8, "x + (1", 0, PY) is True  # stopped mid-expression
    assert breaks_syntax(lines, 1, 8, "x + 1", 0, PY) is False
    assert breaks_syntax(lines, 3, 16, "\n    else:\n        pass", 0, PY) is None  # line 1 hides it
    lines[1] = "    y = 1"
    assert breaks_syntax(lines, 3, 16, "\n    else:\n        pass", 0, PY) is True  # a second else
    assert breaks_syntax(["def f():", "    # note: ", "    pass"], 1, 12, ")(]", 0, PY) is False


def test_python_errors_more_than_two_lines_below_the_answer_are_not_counted() -> None:
    lines = ["def f():", "    x = ", "    a = 1", "    b = 2", "    c = 3", "    d = (", ""]
    assert breaks_syntax(lines, 1, 8, "1", 0, PY) is False


def test_tree_sitter_languages_count_only_errors_the_answer_introduced() -> None:
    js = ["function total(items) {", "  let sum = ", "  return sum;", "}", ""]
    assert breaks_syntax(js, 1, 12, "0;", 0, JS) is False
    assert breaks_syntax(js, 1, 12, "items.reduce((a, b) => a + b, 0;", 0, JS) is True
    # Half-typed code (no closing brace yet) is not the answer's fault.
    open_block = ["function total(items) {", "  let sum = ", ""]
    assert breaks_syntax(open_block, 1, 12, "0;", 0, JS) is False
    go = ["package main", "", "func f() int {", "\treturn ", "}", ""]
    assert breaks_syntax(go, 3, 8, "1", 0, GO) is False
    assert breaks_syntax(go, 3, 8, "1 +* {", 0, GO) is True


def test_unknown_languages_and_huge_documents_are_not_checked() -> None:
    assert breaks_syntax(["x = "], 0, 4, ")(", 0, None) is None
    huge = ["x = 1"] * (MAX_SOURCE_CHARS // 5 + 1)
    assert breaks_syntax(huge, 0, 5, ")(", 0, PY) is None


def test_bad_bytes_in_the_document_do_not_raise() -> None:
    assert breaks_syntax(["x = '\x00'", "y = "], 1, 4, "1", 0, PY) in (True, False)
    assert breaks_syntax(["let s = '\ud800';", "let t = "], 1, 8, "1;", 0, JS) in (True, False)
