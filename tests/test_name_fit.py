"""name_fit: which names a suggestion reads that nothing defines (the router's unknown-name signal)."""

from __future__ import annotations

from smallcode_lsp.completion.name_fit import unknown_names
from smallcode_lsp.index.languages import language_for_path

PY = language_for_path("a.py")
DOC = "import math\n\n\ndef area(r):\n    total = 0\n    \n    return total\n"
LINES = DOC.split("\n")


def names(text: str, known=None) -> tuple[str, ...] | None:
    return unknown_names(LINES, 5, 4, text, 0, PY, known)


def test_an_invented_variable_or_helper_is_unknown() -> None:
    assert names("return reslt") == ("reslt",)
    assert names("total += pi * r * r") == ("pi",)  # math.pi was meant
    assert names("total = helper(r) + other(r)") == ("helper", "other")


def test_names_the_document_builtins_or_the_answer_itself_define_are_known() -> None:
    assert names("total += math.pi * r * r") == ()
    assert names("total = len(str(r))") == ()
    assert names("squares = [i * i for i in range(r)]") == ()  # binds squares and i
    assert names("for k in range(r): total += k") == ()
    assert names("if (n := r): total = n") == ()
    assert names("total = lambda x: x") == ()


def test_strings_comments_and_attributes_are_not_judged() -> None:
    assert names("label = 'hello world'  # some note") == ()
    assert names("total = r.magnitude.value") == ()


def test_a_workspace_symbol_is_known() -> None:
    assert names("total = helper(r)", known=lambda name: name == "helper") == ()


def test_not_checked_where_it_cannot_tell() -> None:
    assert names("return (reslt") is None  # does not compile: syntax_fit's case
    star = ["from shapes import *", "", "def f():", "    "]
    assert unknown_names(star, 3, 4, "return circle(1)", 0, PY) is None
    js = ["function f() {", "  ", "}"]
    assert unknown_names(js, 1, 2, "return reslt;", 0, language_for_path("a.js")) is None
    assert unknown_names(["x = 1"], 0, 5, "y", 0, None) is None


def test_a_replaced_suffix_is_not_counted_as_the_document() -> None:
    lines = ["def f(value):", "    return valu"]
    # The answer replaces `valu` with `value`: `valu` must not make the answer look known or unknown.
    assert unknown_names(lines, 1, 11, "value", 4, PY) == ()
    assert unknown_names(["def f(value):", "    return "], 1, 11, "valu", 0, PY) == ("valu",)
