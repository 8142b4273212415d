import pytest

from smallcode_lsp.engine import postprocess as pp


def cursor(prefix: str, suffix: str = "") -> pp.CursorContext:
    return pp.CursorContext(prefix, suffix)


@pytest.mark.parametrize(
    ("prefix", "suffix", "setting", "expected"),
    [
        ("    ", "", "auto", True),  # empty line in a body
        ("def f():", "", "auto", True),  # right after a block opener
        ("x = foo(", ")", "auto", False),  # mid-line
        ("    return a", "", "auto", False),  # finishing a statement
        ("x = ", "", "always", True),
        ("    ", "", "never", False),
    ],
)
def test_wants_block_basic(prefix, suffix, setting, expected):
    assert pp.wants_block(cursor(prefix, suffix), setting) is expected


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        ("return x\n    y = 2\nz = 3", "    ", "return x\n    y = 2"),  # dedent ends the block
        ("\n        return 1\n    def g():", "    def f():", "\n        return 1"),
        ("pass\n\n    more", "    ", "pass\n\n    more"),
    ],
)
def test_cut_at_dedent(text, prefix, expected):
    assert pp.cut_at_dedent(text, cursor(prefix)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a, b)\n", "a, b)\n"),  # closer on the first line stays
        ("x = [\n  1,\n]\n}", "x = [\n  1,\n]\n"),  # unmatched closer on a later line cuts
        ("foo()\n)", "foo()\n"),
    ],
)
def test_cut_unbalanced_closer(text, expected):
    assert pp.cut_unbalanced_closer(text, cursor("")) == expected


@pytest.mark.parametrize(
    ("text", "suffix", "useless"),
    [("", "", True), ("  \n ", "", True), (")", ")", True), ("a)", ")", False), ("x", "", False)],
)
def test_is_useless(text, suffix, useless):
    assert pp.is_useless(text, cursor("f(", suffix)) is useless


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [("a, b)", ")", 1), ("a, b", ")", 0), ("x\ny)", ")", 0), ("a, b))", "))", 2)],
)
def test_replaced_suffix_length(text, suffix, expected):
    assert pp.replaced_suffix_length(text, cursor("f(", suffix)) == expected


def test_single_line_stop_and_cut():
    stop = pp.stop_check(block=False)
    assert not stop("abc")
    assert stop("abc\n")
    assert pp.finalize("abc  \ndef", cursor("x = "), block=False) == "abc"
    assert pp.finalize("\nabc", cursor("x = "), block=False) == ""


@pytest.mark.parametrize(
    ("line", "comment", "expected"),
    [
        ('foo(a, "(", b', "#", 1),  # a bracket in a string does not count
        ("x)  # (", "#", -1),  # nor one in a comment
        ("total = a // (b", "#", 1),  # `//` is division in Python, not a comment
        ("call(a, // (", "//", 1),  # but a comment in JavaScript
        (r"f('\\', '\'(')", "#", 0),  # escaped quotes
        ("{[()]}", "#", 0),
    ],
)
def test_bracket_balance(line, comment, expected):
    assert pp.bracket_balance(line, comment) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc\n", 3),
        ("abc", None),  # not ended yet
        ("Err(\n    msg,\n)\nnext()", 15),  # the line that closes the call ends it
        ("Err(\n    msg,", None),
        ("a, b)\nnext()", 5),  # closing a bracket opened before the cursor ends it too
    ],
)
def test_statement_end(text, expected):
    assert pp.statement_end(text) == expected


def test_single_line_stop_waits_for_open_brackets_to_close():
    stop = pp.stop_check(block=False)
    assert not stop("Err(\n")
    assert not stop("Err(\n    msg,\n")
    assert stop("Err(\n    msg,\n)\n")
    assert stop("Err(\n" + "    a,\n" * pp.MAX_STATEMENT_LINES)  # a runaway call is cut


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Err(\n    msg, lineno\n) from e\nnext()", "Err(\n    msg, lineno\n) from e"),
        ("Err(\n    a,\n    b", "Err("),  # never closed: only the first line
        ("Err(msg)\nmore()", "Err(msg)"),
    ],
)
def test_single_line_keeps_the_first_statement(text, expected):
    assert pp.finalize(text, cursor("raise "), block=False) == expected


def test_block_stops_at_blank_run():
    assert pp.stop_check(block=True)("a\n\n\n")
    assert not pp.stop_check(block=True)("a\n\nb")


@pytest.mark.parametrize(
    ("text", "next_lines", "expected"),
    [
        ("x = 1\n    return x\n", ("    return x",), "x = 1"),
        ("x = 1\n    y = 2", ("", "    return x"), "x = 1\n    y = 2"),
        ("return a", ("",), "return a"),
    ],
)
def test_cut_suffix_overlap(text, next_lines, expected):
    assert pp.cut_suffix_overlap(text, pp.CursorContext("    ", "", next_lines)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1\nb = 2\nb = 2\nb = 2\nb = 2", "a = 1\nb = 2"),
        ("foo(bar, bar, bar, bar, bar, bar, bar)", "foo(bar, "),
        ("x = [1, 2, 3]", "x = [1, 2, 3]"),
        ("if a:\n    pass\nif b:\n    pass", "if a:\n    pass\nif b:\n    pass"),
    ],
)
def test_cut_repetition(text, expected):
    assert pp.cut_repetition(text) == expected


def test_finalize_applies_overlap_in_blocks():
    cursor = pp.CursorContext("    ", "", ("    return total",))
    assert pp.finalize("total = a + b\n    return total", cursor, block=True) == "total = a + b"


@pytest.mark.parametrize(
    ("prefix", "next_lines", "expected"),
    [
        ("    ", ("        balance += op",), False),  # inside an existing body: one line
        ("    ", ("", "    return x"), False),
        ("    ", ("def other():",), True),  # the end of a body: a block may follow
        ("", ("x = 1",), True),  # top level
        ("    ", ("", "", ""), True),
    ],
)
def test_block_inside_existing_code(prefix, next_lines, expected):
    assert pp.wants_block(pp.CursorContext(prefix, "", next_lines)) is expected


@pytest.mark.parametrize(
    ("text", "indent", "expected"),
    [
        ("    if x:\n        y", "    ", "if x:\n        y"),
        ("        deeper", "    ", "    deeper"),  # keeps the extra level the model chose
        ("return 1", "    ", "return 1"),
        ("\treturn 1", "\t", "return 1"),
    ],
)
def test_heal_indentation(text, indent, expected):
    assert pp.heal_indentation(text, indent) == expected
