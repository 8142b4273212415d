"""The headless CLI as a pre-commit hook or CI job runs it: a subprocess, exit codes, a diff on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN = "import math\n\n\ndef area(r):\n    return math.pi * r **\n"


def smallcode(*args: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "smallcode_lsp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def one_cheap_attempt(model: Path) -> list[str]:
    """The tiny model, one short model turn, and --write (which must then write nothing)."""
    return ["--model", str(model), "--set", "agent.maxAttempts=1", "--set", "agent.maxTokens=32", "--write"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    (root / "shapes.py").write_text(BROKEN)
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def test_complete_prints_a_suggestion(project, tmp_path, tiny_model_path):
    done = smallcode(
        "complete", "calc.py:2:5", "--model", str(tiny_model_path), "--set", "completion.maxTokens=4",
        cache=tmp_path / "cache", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_fix_without_a_verified_fix_exits_1_and_leaves_the_file(project, tmp_path, tiny_model_path):
    done = smallcode(
        "fix", "shapes.py:5", *one_cheap_attempt(tiny_model_path), cache=tmp_path / "cache", cwd=project
    )
    assert done.returncode == 1, done.stderr
    assert "fixing line 5: syntax error" in done.stderr
    assert "no verified fix after 1 attempt(s)" in done.stderr
    assert done.stdout == ""
    assert (project / "shapes.py").read_text() == BROKEN


def test_fix_on_a_clean_file_has_nothing_to_do(project, tmp_path, tiny_model_path):
    done = smallcode("fix", "calc.py", "--model", str(tiny_model_path), cache=tmp_path / "cache", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "no problem found" in done.stderr


def test_tests_without_a_passing_test_exits_1(project, tmp_path, tiny_model_path):
    done = smallcode(
        "tests", "calc.py::add", *one_cheap_attempt(tiny_model_path), cache=tmp_path / "cache", cwd=project
    )
    assert done.returncode == 1, done.stderr
    assert "0 test(s) kept" in done.stderr
    assert not (project / "tests").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fix", "missing.py"), "no such file"),
        (("tests", "missing.py::f"), "no such file"),
        (("tests", "calc.py::nothing"), "no function or class named 'nothing'"),
    ],
)
def test_bad_targets_exit_2_with_a_clear_message(project, tmp_path, tiny_model_path, args, message):
    done = smallcode(*args, "--model", str(tiny_model_path), cache=tmp_path / "cache", cwd=project)
    assert done.returncode == 2
    assert message in done.stderr
