"""Test generation: real pytest runs in the real sandbox; the model's turns are scripted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from smallcode_lsp.agent.service import AgentService
from smallcode_lsp.agent.tests import (
    GeneratedTest,
    conventional_test_path,
    merge_into,
    module_name,
    read_report,
    split_tests,
    subjects_at,
)
from smallcode_lsp.config import AgentSettings

CALC = textwrap.dedent(
    '''\
    """Arithmetic."""


    def add(a, b):
        return a + b


    def _hidden():
        return 0


    class Counter:
        def __init__(self):
            self.value = 0

        def bump(self, by=1):
            self.value += by
            return self.value

        def _reset(self):
            self.value = 0
    '''
)


class Script:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.seen: list = []

    def __call__(self, messages, cancel, attempt) -> str:
        self.seen.append(list(messages))
        return self.answers.pop(0)


def block(code: str) -> str:
    return "```python\n" + textwrap.dedent(code) + "```"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    return root


def test_subjects_are_the_function_at_the_cursor_or_the_public_ones() -> None:
    assert [s.name for s in subjects_at(CALC, "pkg/calc.py", 4)] == ["add"]
    assert [s.name for s in subjects_at(CALC, "pkg/calc.py", 16)] == ["Counter.bump"]
    assert [s.name for s in subjects_at(CALC, "pkg/calc.py", 12)] == [
        "Counter.bump"
    ]  # the class: public methods
    assert [s.name for s in subjects_at(CALC, "pkg/calc.py", 0)] == ["add"]  # module level: public functions
    assert [s.name for s in subjects_at(CALC, "pkg/calc.py", None, "Counter.bump")] == ["Counter.bump"]
    assert subjects_at(CALC, "pkg/calc.py", 4)[0].import_line == "from pkg.calc import add"
    with pytest.raises(ValueError, match="no function or class named"):
        subjects_at(CALC, "pkg/calc.py", None, "missing")
    with pytest.raises(ValueError, match="does not parse"):
        subjects_at("def f(:\n", "x.py", 0)


def test_paths_and_module_names() -> None:
    assert module_name("src/pkg/calc.py") == "pkg.calc"
    assert module_name("pkg/__init__.py") == "pkg"
    assert conventional_test_path("pkg/calc.py") == "tests/test_calc.py"


def test_split_keeps_imports_and_tests_only() -> None:
    imports, tests = split_tests(
        "import os\nfrom a import b\nX = 1\n\ndef helper():\n    pass\n\ndef test_a():\n    assert 1\n"
    )
    assert imports == ["import os", "from a import b"]
    assert [t.name for t in tests] == ["test_a"]
    assert split_tests("def test_(:\n") == ([], [])


def test_an_answer_cut_short_keeps_its_complete_statements() -> None:
    from smallcode_lsp.engine.chat import runaway

    looping = "from m import f\n\ndef test_f():\n" + "".join(
        f"    assert f([1.0, 2.0], 0.{n:02d})\n" for n in range(1, 14)
    )
    assert runaway(looping)  # generation stops here instead of running out of tokens
    assert not runaway(looping.replace("0.05)", "0.05, strict=True)"))
    assert not runaway("x = 1\n" * 3)
    imports, tests = split_tests(looping + "    assert f([1.0, 2.0, ")
    assert imports == ["from m import f"]
    assert [t.name for t in tests] == ["test_f"]
    assert tests[0].code.count("assert") == 13


def test_merge_adds_missing_imports_and_renames_clashing_tests() -> None:
    existing = "import pytest\nfrom pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 1) == 2\n"
    merged = merge_into(
        existing,
        ["from pkg.calc import add", "import math"],
        [GeneratedTest("test_add", "def test_add():\n    assert add(0, 0) == 0")],
    )
    assert merged.count("from pkg.calc import add") == 1
    assert merged.index("import math") < merged.index("def test_add():")
    assert "def test_add_2():" in merged
    compile(merged, "t.py", "exec")


def test_read_report_sorts_failures_from_errors() -> None:
    cases = [
        '<testcase name="test_ok"/>',
        '<testcase name="test_wrong"><failure>E   AssertionError: assert 3 == 4</failure></testcase>',
        '<testcase name="test_broken"><failure>E   NameError: name x is not defined</failure></testcase>',
        '<testcase name="test_setup"><error message="no fixture">fixture db not found</error></testcase>',
    ]
    xml = "<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>"
    report = read_report(xml)
    assert report["test_ok"] == ("passed", "")
    assert report["test_wrong"][0] == "failed"
    assert report["test_broken"][0] == "error"
    assert report["test_setup"][0] == "error"
    assert read_report("not xml") == {}


def test_generate_keeps_passing_tests_repairs_wrong_ones_and_drops_broken(project: Path) -> None:
    first = block(
        """\
        from pkg.calc import add

        def test_adds():
            assert add(2, 3) == 5

        def test_wrong_expectation():
            assert add(2, 2) == 5

        def test_broken():
            assert add(undefined_name, 1) == 2
        """
    )
    repair = block(
        """\
        from pkg.calc import add

        def test_wrong_expectation():
            assert add(2, 2) == 4

        def test_broken():
            assert add(undefined_name, 1) == 2
        """
    )
    script = Script(first, repair)
    service = AgentService([project], None, AgentSettings(max_attempts=2, timeout_seconds=60))
    path = project / "pkg" / "calc.py"
    result = service.generate_tests(str(path), CALC, script, line=4)
    [subject] = result.subjects
    assert [t.name for t in subject.kept] == ["test_adds", "test_wrong_expectation"]
    assert [t.name for t in subject.dropped] == ["test_broken"]
    assert result.possible_bugs == []
    assert "test_wrong_expectation" in script.seen[1][-1].content  # the failure went back to the model
    assert result.test_path == "tests/test_calc.py" and not result.existed
    assert "assert add(2, 2) == 4" in result.test_text and "undefined_name" not in result.test_text
    assert not (project / "tests").exists()  # the service proposes; the editor writes


def test_a_test_that_keeps_failing_on_an_assertion_is_reported_as_a_possible_bug(project: Path) -> None:
    buggy = CALC.replace("return a + b", "return a - b")
    claim = block("from pkg.calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    service = AgentService([project], None, AgentSettings(max_attempts=2, timeout_seconds=60))
    result = service.generate_tests(str(project / "pkg" / "calc.py"), buggy, Script(claim, claim), line=4)
    assert result.kept == 0 and result.test_text is None
    assert [(f, t) for f, t, _ in result.possible_bugs] == [("add", "test_add")]
    assert "possible bug" in result.summary


def test_an_answer_without_tests_is_retried(project: Path) -> None:
    script = Script(
        "Sure! Tests are useful.",
        block("from pkg.calc import Counter\n\ndef test_bump():\n    assert Counter().bump(2) == 2\n"),
    )
    service = AgentService([project], None, AgentSettings(max_attempts=2, timeout_seconds=60))
    result = service.generate_tests(str(project / "pkg" / "calc.py"), CALC, script, name="Counter.bump")
    assert result.kept == 1
    assert "no test functions" in script.seen[1][-1].content


def _tests_beside_existing(project: Path, existing: str):
    """One passing generated test for `add`, with `tests/test_calc.py` already holding `existing`."""
    (project / "tests").mkdir()
    (project / "tests" / "test_calc.py").write_text(existing)
    answer = block("from pkg.calc import add\n\ndef test_adds():\n    assert add(2, 3) == 5\n")
    service = AgentService([project], None, AgentSettings(max_attempts=1, timeout_seconds=60))
    return service.generate_tests(str(project / "pkg" / "calc.py"), CALC, Script(answer), line=4)


def test_kept_tests_are_merged_into_the_existing_file_when_it_still_passes(project: Path) -> None:
    existing = "from pkg.calc import add\n\n\ndef test_existing():\n    assert add(1, 1) == 2\n"
    result = _tests_beside_existing(project, existing)
    assert result.existed and result.test_path == "tests/test_calc.py"
    assert result.test_text.count("from pkg.calc import add") == 1
    assert "def test_existing" in result.test_text and "def test_adds" in result.test_text


def test_an_existing_file_that_does_not_run_gets_a_sibling_instead(project: Path) -> None:
    result = _tests_beside_existing(project, "import not_installed_anywhere\n\n\ndef test_x():\n    pass\n")
    assert result.test_path == "tests/test_calc_smallcode.py" and not result.existed
    assert "not_installed_anywhere" not in result.test_text and "def test_adds" in result.test_text


DOCUMENTED = textwrap.dedent(
    '''\
    def mean(xs):
        """The average.

        >>> mean([1, 2, 3])
        2.0
        >>> data = [4]
        >>> mean(data) == 4
        True
        >>> print(mean([2]))
        2.0
        """
        return sum(xs) / len(xs)
    '''
)


def test_docstring_examples_become_one_assertion_test() -> None:
    from smallcode_lsp.agent.doc_examples import example_test

    found = example_test(DOCUMENTED, "mean")
    assert found is not None
    name, text, imports = found
    assert name == "test_mean_docstring_examples"
    assert "assert (mean([1, 2, 3])) == pytest.approx(2.0)" in text
    assert "data = [4]" in text and "assert (mean(data) == 4) is True" in text
    assert "print" not in text  # printed output is not a value
    assert imports == ["import pytest"]
    namespace: dict = {}
    exec(DOCUMENTED + "\nimport pytest\n" + text, namespace)
    namespace[name]()  # the test passes on the documented code
    assert example_test("def f():\n    '''No examples.'''\n", "f") is None


def test_docstring_examples_are_kept_or_reported_never_repaired(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "stats.py").write_text(DOCUMENTED)
    model = block("from stats import mean\n\ndef test_one():\n    assert mean([5]) == 5\n")
    service = AgentService([root], None, AgentSettings(max_attempts=2, timeout_seconds=60))
    result = service.generate_tests(str(root / "stats.py"), DOCUMENTED, Script(model), name="mean")
    assert result.kept == 2 and not result.possible_bugs
    assert "def test_mean_docstring_examples" in (result.test_text or "")

    buggy = DOCUMENTED.replace("sum(xs) / len(xs)", "sum(xs) / (len(xs) + 1)")
    (root / "stats.py").write_text(buggy)
    model = block("from stats import mean\n\ndef test_empty_like():\n    assert mean([0]) == 0\n")
    script = Script(model)
    result = service.generate_tests(str(root / "stats.py"), buggy, script, name="mean")
    assert [(f, t) for f, t, _ in result.possible_bugs] == [("mean", "test_mean_docstring_examples")]
    assert "docstring's own example" in result.possible_bugs[0][2]
    assert len(script.seen) == 1  # the failing example was not sent back for repair
