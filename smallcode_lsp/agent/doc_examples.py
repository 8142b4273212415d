"""The `>>>` examples of a function's docstring, as one pytest test.

An author's own examples are the most trustworthy expected values a test can have; a small model's
are the least. So "Generate tests" starts from them: the examples become a test that runs with the
model's, and when one fails on the current code, the code disagrees with its own documentation,
which is a possible bug worth reporting (see tests.py).
"""

from __future__ import annotations

import ast
import doctest
import re
import textwrap

from smallcode_lsp.agent.target import python_function

_SINGLETONS = ("True", "False", "None")


def example_test(code: str, function: str) -> tuple[str, str, list[str]] | None:
    """(test name, test source, extra imports) checking the docstring examples of `function` in
    `code`, or None when it has no example that an assertion can express."""
    name = function.rsplit(".", 1)[-1]
    node = python_function(code, name)
    examples = docstring_examples(node) if node is not None else None
    if not examples:
        return None
    body: list[str] = []
    imports: list[str] = []
    checks = 0
    for example in examples:
        source = example.source.strip()
        want = example.want.strip()
        if not want:
            if not _compiles(source, "exec"):
                return None  # later examples may depend on this statement
            body.append(source)
            continue
        assertion = _assertion(source, want)
        if assertion is None:
            continue
        if "pytest.approx" in assertion:
            imports.append("import pytest")
        body.append(assertion)
        checks += 1
    if not checks:
        return None
    test_name = "test_" + re.sub(r"\W", "_", function.replace(".", "_")) + "_docstring_examples"
    text = f"def {test_name}():\n" + textwrap.indent("\n".join(body), "    ")
    return test_name, text, imports


def docstring_examples(node: ast.AST) -> list[doctest.Example] | None:
    """The `>>>` examples of a function node's docstring; None when it has none or they do not parse."""
    docstring = ast.get_docstring(node)  # type: ignore[arg-type]
    if not docstring or ">>>" not in docstring:
        return None
    try:
        return doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return None


def _assertion(source: str, want: str) -> str | None:
    """`assert <source> == <want>`, or None for output that is not a value (print, tracebacks)."""
    if "\n" in want or want.startswith("Traceback") or not _compiles(source, "eval"):
        return None
    if not _compiles(want, "eval"):
        return None
    call = ast.parse(source, mode="eval").body
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
        return None
    if want in _SINGLETONS:
        return f"assert ({source}) is {want}"
    if _is_float(want):
        return f"assert ({source}) == pytest.approx({want})"
    return f"assert ({source}) == {want}"


def _compiles(text: str, mode: str) -> bool:
    try:
        compile(text, "<example>", mode)
    except (SyntaxError, ValueError):
        return False
    return True


def _is_float(want: str) -> bool:
    try:
        value = ast.literal_eval(want)
    except (ValueError, SyntaxError):
        return False
    return isinstance(value, float)
