"""The router's examples run: real sandbox runs of a function's `>>>` examples with an answer in place."""

from __future__ import annotations

import threading
import time

import pytest

from smallcode_lsp.agent.example_check import function_with_examples, run_examples
from smallcode_lsp.agent.sandbox import Sandbox

ADD = '''import helpers


def add(a, b):
    """The sum.

    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
    def twice(x):
        return x + x
    return a {op} b


if __name__ == "__main__":
    raise SystemExit("never run")
'''


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "helpers.py").write_text("VALUE = 1\n")
    return tmp_path


def test_examples_pass_or_fail_with_the_code_as_written(sandbox, workspace) -> None:
    path = str(workspace / "calc.py")
    good = run_examples(sandbox, path, ADD.format(op="+"), 13, [str(workspace)], 5.0)
    assert (good.passed, good.qualname) == (True, "add")
    bad = run_examples(sandbox, path, ADD.format(op="-"), 13, [str(workspace)], 5.0)
    assert bad.passed is False
    # A nested function is checked through the examples of the function around it.
    assert run_examples(sandbox, path, ADD.format(op="+"), 11, [str(workspace)], 5.0).passed is True


def test_what_cannot_run_is_not_checked_rather_than_failed(sandbox, workspace, tmp_path) -> None:
    path = str(workspace / "calc.py")
    code = ADD.format(op="+")
    assert run_examples(sandbox, path, code, 0, [str(workspace)], 5.0).passed is None  # no function
    # The sibling module cannot be found without the workspace on the path: an import error.
    elsewhere = str(tmp_path / "other" / "calc.py")
    assert run_examples(sandbox, elsewhere, code, 13, [], 5.0).passed is None
    assert run_examples(sandbox, path, code.replace("a + b", "a +"), 13, [str(workspace)], 5.0).passed is None
    started = time.perf_counter()
    endless = code.replace("return a + b", "while True:\n        pass")
    assert run_examples(sandbox, path, endless, 13, [str(workspace)], 0.5).passed is None
    assert time.perf_counter() - started < 5
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.perf_counter()
    assert run_examples(sandbox, path, endless, 13, [str(workspace)], 30.0, stop).passed is None
    assert time.perf_counter() - started < 5


def test_only_examples_with_an_expected_value_and_reachable_functions_count() -> None:
    no_want = 'def f():\n    """\n    >>> f()\n    """\n    return None\n'
    assert function_with_examples(no_want, 4) is None
    method = "class K:\n    def f(self):\n        '''\n        >>> K().f()\n        1\n"
    method += "        '''\n        return 1\n"
    assert function_with_examples(method, 6) == "K.f"
    inner = (
        "def outer():\n    def f():\n        '''\n        >>> 1\n        1\n        '''\n        return 1\n"
    )
    assert function_with_examples(inner, 6) is None  # not reachable by name, and outer has none
    assert function_with_examples("def f(:\n", 0) is None
