"""Smoke test of the agent benchmark: mutants, the sandboxed test runs, and both server sessions with
the tiny model (which fixes nothing and writes no passing test: the harness, not the score, is tested)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from clients.bench import agent
from clients.bench.mutants import mutants

SOURCE = (
    "def f(xs, k):\n"
    "    '''Doc.'''\n"
    "    total = 0\n"
    "    for x in xs:\n"
    "        if x > k:\n"
    "            total += x * 2\n"
    "    return max(total, 0)\n"
)


def test_mutants_change_one_node_each() -> None:
    found = mutants(SOURCE, "f")
    kinds = {m.kind for m in found}
    assert {"comparison", "off-by-one", "operator", "swapped-arguments"} <= kinds
    original = ast.dump(ast.parse(SOURCE))
    for mutant in found:
        assert ast.dump(ast.parse(mutant.source)) != original
        assert '"""Doc."""' in mutant.source  # the docstring is never mutated
    assert mutants(SOURCE, "missing") == []


def test_a_killing_mutant_fails_the_problems_tests() -> None:
    problem = {
        "task_id": "Smoke/0",
        "prompt": "def add(a, b):\n",
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
        "entry_point": "add",
    }
    assert agent.passes(problem["prompt"] + problem["canonical_solution"], problem)[0]
    [(mutant, output)] = agent.killing_mutants(problem, 1)
    assert mutant.kind == "operator" and "a - b" in mutant.source
    assert "assert" in agent.failure_message(output)


def test_agent_bench_runs_end_to_end(tmp_path: Path, tiny_model_path: Path) -> None:
    out = tmp_path / "agent.json"
    argv = ["--limit", "1", "--model", str(tiny_model_path), "--json", str(out), "--max-tokens", "24"]
    assert agent.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["fix"]["tasks"] == 1
    assert len(result["fix"]["records"]["loop"]) == 1
    assert result["fix"]["loop_fix_rate"] == 0.0  # random weights
    assert result["tests"]["tasks"] == 1


def test_contention_bench_runs_end_to_end(tmp_path: Path, tiny_model_path: Path, monkeypatch) -> None:
    from clients.bench import agent_contention

    out = tmp_path / "contention.json"
    monkeypatch.setitem(agent.SESSION, "max_tokens", 24)
    argv = ["--model", str(tiny_model_path), "--json", str(out), "--probes", "2", "--gap-s", "0.1"]
    assert agent_contention.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["idle"]["n"] == 2
    assert result["fix_seconds"] > 0
