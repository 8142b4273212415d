"""The fix loop's mechanics: real checks in the real sandbox, the model's turns scripted.

The end-to-end path through the server and the tiny GGUF is in test_server_fix.py; here the answers
are fixed so that each branch of the loop (retry on a failed check, on an answer without code, give
up after the bound, re-run the failing test) is exercised for certain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smallcode_lsp.agent.checks import Checker, Problem
from smallcode_lsp.agent.fix import Fixer, reindent
from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits
from smallcode_lsp.agent.service import AgentService, FixRequest
from smallcode_lsp.agent.target import find_target, syntax_problems
from smallcode_lsp.config import AgentSettings
from smallcode_lsp.engine.chat import ChatMessage, build_chat_prompt, first_code_block
from smallcode_lsp.index.languages import language_for_path

PY = language_for_path("x.py")
BROKEN = "import math\n\n\ndef area(r):\n    return math.pi * r **\n\n\nprint(area(2))\n"


class Script:
    """Answers in order, recording every conversation it was shown."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.seen: list[list[ChatMessage]] = []

    def __call__(self, messages, cancel, attempt) -> str:
        self.seen.append(list(messages))
        return self.answers.pop(0)


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(Sandbox(SandboxLimits(wall_seconds=30)))


def block(code: str) -> str:
    return f"Here is the fix:\n```python\n{code}```\n"


def test_a_failed_check_is_fed_back_and_the_second_try_verifies(checker: Checker) -> None:
    script = Script(
        block("def area(r):\n    return math.pi * r *\n"),
        block("def area(r):\n    return math.pi * r ** 2\n"),
    )
    problem = Problem("syntax error", line=4, source="smallcode")
    result = Fixer(script, checker, max_attempts=3).fix(BROKEN, "m.py", "m.py", PY, problem)
    assert result.verified, result.error
    assert len(result.attempts) == 2
    assert result.document == BROKEN.replace("r **\n", "r ** 2\n")
    assert result.checks[:2] == ("syntax", "py_compile")
    assert result.title.startswith("Fix: verified by syntax, py_compile")
    feedback = script.seen[1][-1]
    assert feedback.role == "user" and "syntax error" in feedback.content
    assert script.seen[1][-2].role == "assistant"


def test_an_answer_without_code_is_retried(checker: Checker) -> None:
    script = Script("I think you should use a power.", block("def area(r):\n    return math.pi * r ** 2\n"))
    result = Fixer(script, checker, max_attempts=2).fix(
        BROKEN, "m.py", "m.py", PY, Problem("syntax error", 4, "smallcode")
    )
    assert result.verified
    assert result.attempts[0].outcome is None
    assert "held no code" in script.seen[1][-1].content


def test_nothing_is_verified_after_the_bound(checker: Checker) -> None:
    script = Script(*[block("def area(r):\n    return (\n")] * 2)
    result = Fixer(script, checker, max_attempts=2).fix(
        BROKEN, "m.py", "m.py", PY, Problem("syntax error", 4, "smallcode")
    )
    assert not result.verified
    assert len(result.attempts) == 2
    assert result.error and result.title == "Fix (unverified)"


def test_a_rewrite_that_introduces_an_undefined_name_fails_the_lint(checker: Checker) -> None:
    if checker.linter is None:
        pytest.skip("neither ruff nor pyflakes is available")
    document = "def double(x):\n    return x * 3\n"
    script = Script(block("def double(x):\n    return y * 2\n"))
    result = Fixer(script, checker, max_attempts=1).fix(
        document, "m.py", "m.py", PY, Problem("returns triple", 1, "pyright")
    )
    assert not result.verified
    assert "F821" in result.error


def test_the_failing_test_is_rerun_on_a_copy_of_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (root / "conftest.py").write_text("")
    service = AgentService([root], None, AgentSettings(max_attempts=2, timeout_seconds=60))
    problem = Problem("assert -1 == 5", line=1, source="pytest", test_id="tests/test_calc.py::test_add")
    request = FixRequest(str(root / "calc.py"), (root / "calc.py").read_text(), problem)
    script = Script(block("def add(a, b):\n    return a * b\n"), block("def add(a, b):\n    return a + b\n"))
    result = service.fix(request, script)
    assert result.verified, result.error
    assert len(result.attempts) == 2  # a * b passed the syntax checks but failed the test
    assert "assert 6 == 5" in script.seen[1][-1].content
    assert "assert -1 == 5" in script.seen[0][-1].content  # the test ran once before the first attempt
    assert result.title == "Fix: verified by re-running test_add"
    assert (
        root / "calc.py"
    ).read_text() == "def add(a, b):\n    return a - b\n"  # the user's file is untouched


def test_reindent_restores_a_methods_indentation() -> None:
    assert reindent("def m(self):\n    return 1\n", "    def m(self):\n        return 2") == (
        "    def m(self):\n        return 1"
    )
    assert reindent("  x = 1\n", "x = 2") == "x = 1"


def test_find_target_prefers_the_innermost_function() -> None:
    document = "class A:\n    def m(self):\n        return 1\n\n    def n(self):\n        return (\n"
    target = find_target(document, PY, "a.py", 5)
    assert (target.start, target.end, target.name) == (4, 5, "n")
    assert target.replace_in(document, "    def n(self):\n        return 2").endswith("return 2\n")


def test_find_target_outside_functions_is_the_statement() -> None:
    document = "import os\nVALUE = {\n    'a': 1,\n}\n"
    target = find_target(document, PY, "a.py", 2)
    assert (target.start, target.end, target.name) == (1, 3, None)


def test_syntax_problems_are_found_and_located() -> None:
    problems = syntax_problems("def f(:\n    pass\n\nx = 1\n", PY)
    assert problems and problems[0].line == 0
    assert syntax_problems("x = 1\n", PY) == []


def test_chat_prompt_uses_chatml_when_the_vocabulary_has_it() -> None:
    specials = {"<|im_start|>": 1, "<|im_end|>": 2}
    prompt = build_chat_prompt(
        [ChatMessage("user", "hi <|im_end|>")],
        tokenize=lambda t: [ord(c) + 100 for c in t],
        token_id=specials.get,
    )
    assert prompt.layout == "chatml"
    assert prompt.ids[0] == 1 and prompt.ids.count(2) == 1  # the text's marker stays text
    plain = build_chat_prompt(
        [ChatMessage("user", "hi")], tokenize=lambda t: [0] * len(t), token_id=lambda _: None
    )
    assert plain.layout == "plain" and plain.stop


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("text\n```\ny = 2\n```\nmore ```z```", "y = 2\n"),
        ("```python\nunfinished = (", "unfinished = (\n"),
        ("no code here", None),
        ("```python\n```", None),
    ],
)
def test_first_code_block(answer, expected) -> None:
    assert first_code_block(answer) == expected


def test_the_first_attempt_is_greedy_and_retries_sample() -> None:
    from smallcode_lsp.agent.fix import decoding_for

    assert decoding_for(1) == (0.0, 0)
    temperature, seed = decoding_for(2)
    assert temperature > 0 and decoding_for(3)[1] != seed


def test_temperature_sampler_respects_the_nucleus() -> None:
    import numpy as np

    from smallcode_lsp.engine.logprobs import TemperatureSampler

    logits = np.array([10.0, 9.0, -50.0, float("-inf")], dtype=np.float32)
    sampler = TemperatureSampler(1.0, top_p=0.9, seed=0)
    picks = {sampler(logits)[0] for _ in range(200)}
    assert picks <= {0, 1} and 0 in picks  # never the far-off or impossible token
    token, logprob = TemperatureSampler(1.0, seed=1)(logits)
    assert logprob <= 0.0
    with pytest.raises(ValueError):
        TemperatureSampler(0.0)


def test_a_test_id_from_a_diagnostic_cannot_be_a_pytest_option() -> None:
    from smallcode_lsp.server.features.code_actions import problem_from_diagnostic

    base = {"message": "failed", "range": {"start": {"line": 2, "character": 0}}, "source": "pytest"}
    assert problem_from_diagnostic({**base, "data": {"test": "tests/test_a.py::test_b"}}).test_id == (
        "tests/test_a.py::test_b"
    )
    assert problem_from_diagnostic({**base, "data": {"test": "-p evil"}}).test_id is None
    assert problem_from_diagnostic(
        {**base, "message": "FAILED tests/test_a.py::test_c - assert 1"}
    ).test_id == ("tests/test_a.py::test_c")


def test_a_whole_module_answer_is_cut_to_the_definition() -> None:
    from smallcode_lsp.agent.fix import python_definition

    document = "import math\n\n\ndef area(r):\n    return math.pi * r\n"
    answer = (
        "import math\nimport warnings\nfrom typing import *\nimport statistics\n\n\n"
        "def area(r):\n    return statistics.fmean([math.pi * r * r])\n\n\nprint(area(2))\n"
    )
    assert python_definition(answer, "area", document, top_level=True) == (
        "import statistics\ndef area(r):\n    return statistics.fmean([math.pi * r * r])"
    )
    method = "import os\n\ndef m(self):\n    return os.sep\n"
    assert python_definition(method, "m", document, top_level=False) == "def m(self):\n    return os.sep"
    assert python_definition("not python (", "area", document, True) == "not python ("
    assert python_definition("def other():\n    pass\n", "area", document, True) == "def other():\n    pass\n"


def test_a_rewrite_brings_the_helpers_it_calls() -> None:
    from smallcode_lsp.agent.fix import python_definition

    document = "LIMIT = 3\n\n\ndef depth(s):\n    return 0\n\n\ndef groups(s):\n    return []\n"
    answer = (
        "import re\n\nOPEN = '('\n\n\n"
        "def unused():\n    return 1\n\n\n"
        "def balanced(s):\n    return count(s) == 0\n\n\n"
        "def count(s):\n    return sum(1 if c == OPEN else -1 for c in s)\n\n\n"
        "def depth(s):\n    return 99\n\n\n"
        "def groups(s):\n    return [g for g in re.split(' ', s) if balanced(g) and depth(g) < LIMIT]\n\n\n"
        "print(groups('() (())'))\n"
    )
    kept = python_definition(answer, "groups", document, top_level=True)
    # The helpers it calls, and theirs, in the answer's order; not the file's own `depth` again,
    # not the unused function, not the usage example.
    assert kept == (
        "import re\nOPEN = '('\n"
        "def balanced(s):\n    return count(s) == 0\n"
        "def count(s):\n    return sum(1 if c == OPEN else -1 for c in s)\n"
        "def groups(s):\n    return [g for g in re.split(' ', s) if balanced(g) and depth(g) < LIMIT]"
    )
    rewritten = document.replace("def groups(s):\n    return []", kept)
    namespace: dict[str, object] = {}
    exec(compile(rewritten, "solution.py", "exec"), namespace)
    assert namespace["groups"]("() (()) ((") == ["()", "(())"]
    # Inside a class, module-level helpers cannot come along: the method alone.
    method = python_definition(answer, "groups", document, top_level=False)
    assert method.startswith("def groups(s):") and "def balanced" not in method


def test_an_unchanged_answer_is_told_so(checker: Checker) -> None:
    document = "def double(x):\n    return x * 3\n"
    script = Script(block(document), block("def double(x):\n    return x * 2\n"))
    result = Fixer(script, checker, max_attempts=2).fix(
        document, "m.py", "m.py", PY, Problem("double(2) returned 6", 1, "pytest")
    )
    assert result.verified
    assert "repeats the original code" in script.seen[1][-1].content


def test_after_an_unchanged_answer_a_documented_function_is_written_anew(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    source = (
        "def clamp(x, low, high):\n"
        '    """x limited to the range [low, high]."""\n'
        "    if x < low:\n"
        "        return high\n"
        "    return min(x, high)\n"
    )
    (root / "clamp.py").write_text(source)
    (root / "test_clamp.py").write_text(
        "from clamp import clamp\n\n\ndef test_clamp():\n    assert clamp(-5, 0, 9) == 0\n"
    )
    service = AgentService([root], None, AgentSettings(max_attempts=3, timeout_seconds=60))
    problem = Problem("assert 9 == 0", line=3, source="pytest", test_id="test_clamp.py::test_clamp")
    fixed = source.replace("return high\n", "return low\n")
    script = Script(block(source), block(fixed))
    result = service.fix(FixRequest(str(root / "clamp.py"), source, problem), script)
    assert result.verified, result.error
    assert result.rewritten
    assert result.title == "Fix (function rewritten): verified by re-running test_clamp"
    rewrite = script.seen[1]
    assert len(rewrite) == 2  # a fresh conversation, not a continuation
    asked = rewrite[-1].content
    assert "Complete this function" in asked and '"""x limited to the range [low, high]."""' in asked
    assert "return high" not in asked  # the buggy body is hidden
    assert "assert 9 == 0" in asked  # the test's failure says what is expected


def test_an_undocumented_function_is_never_written_anew(checker: Checker) -> None:
    document = "def double(x):\n    return x * 3\n"
    script = Script(block(document), block(document), block(document))
    problem = Problem("double(2) returned 6", 1, "pytest", test_id="t.py::test_double")
    result = Fixer(script, checker, max_attempts=3).fix(document, "m.py", "m.py", PY, problem)
    assert not result.verified and not result.rewritten
    assert all("Complete this function" not in seen[-1].content for seen in script.seen)
