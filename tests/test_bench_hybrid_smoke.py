"""Smoke test of the hybrid benchmark: both sessions and the router's curve, tiny model on both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.bench import hybrid


def test_the_curve_follows_the_routers_rule() -> None:
    local = [
        {"local_mean_logprob": -0.1, "passed": True},
        {"local_mean_logprob": -2.0, "passed": False},
        {"local_mean_logprob": None, "passed": False},
    ]
    cloud = [{"passed": False}, {"passed": True}, {"passed": True}]
    points = hybrid.curve(local, cloud)
    assert points[0] == {"threshold": None, "cloud_fraction": 0.0, "pass_at_1": round(1 / 3, 4)}
    # Below -2.0 only the empty answer goes out; below -0.1 the unsure one too: all three pass.
    assert [p["cloud_fraction"] for p in points] == [0.0, round(2 / 3, 4), 1.0]
    assert points[1]["pass_at_1"] == 1.0


def test_hybrid_bench_runs_end_to_end(tmp_path: Path, tiny_model_path: Path) -> None:
    pytest.importorskip("llama_cpp.server.app")
    out = tmp_path / "hybrid.json"
    argv = ["--cloud-model", str(tiny_model_path), "--model", str(tiny_model_path), "--limit", "2"]
    argv += [
        "--fix-max-tokens",
        "32",
        "--cloud-threads",
        "1",
        "--cloud-fim",
        "suffix",
        "--fix-limit",
        "1",
        "--json",
        str(out),
    ]
    assert hybrid.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["tasks"] == 2 and len(result["records"]["cloud"]) == 2
    routes = result["records"]["cloud"][0]["route_counters"]
    assert routes["route.cloud"] == 2 and routes.get("route.cloudFailed", 0) == 0
    # The fix part: random weights fix nothing locally, so every task sent its one cloud turn.
    fix = result["fix"]
    assert fix["tasks"] == 1 and fix["hybrid_cloud_fraction"] == 1.0
    assert [r["attempts"] for r in fix["records"]["hybrid"]] == [4]
    assert len(fix["records"]["all_cloud"]) == 1


def test_answers_that_break_syntax_are_sent_at_every_threshold() -> None:
    local = [
        {"local_mean_logprob": -0.01, "passed": False, "local_breaks_syntax": True},
        {"local_mean_logprob": -0.5, "passed": False, "local_breaks_syntax": False},
        {"local_mean_logprob": -0.1, "passed": True, "local_breaks_syntax": False},
    ]
    cloud = [{"passed": True}, {"passed": True}, {"passed": True}]
    points = hybrid.curve(local, cloud, by=("syntax",))
    assert points[0] == {"threshold": None, "cloud_fraction": round(1 / 3, 4), "pass_at_1": round(2 / 3, 4)}
    assert [p["cloud_fraction"] for p in points] == [round(1 / 3, 4), round(2 / 3, 4), 1.0, 1.0]
    assert hybrid.curve(local, cloud)[0]["cloud_fraction"] == 0.0  # the mean alone sends nothing


def test_answers_reading_unknown_names_are_sent_with_the_names_signal() -> None:
    local = [
        {"local_mean_logprob": -0.01, "passed": False, "local_unknown_names": ["reslt"]},
        {"local_mean_logprob": -0.02, "passed": False, "local_breaks_syntax": True},
        {"local_mean_logprob": -0.1, "passed": True, "local_unknown_names": []},
    ]
    cloud = [{"passed": True}, {"passed": False}, {"passed": True}]
    assert hybrid.curve(local, cloud, by=("syntax", "names"))[0] == {
        "threshold": None,
        "cloud_fraction": round(2 / 3, 4),
        "pass_at_1": round(2 / 3, 4),
    }
    assert hybrid.curve(local, cloud, by=("syntax",))[0]["cloud_fraction"] == round(1 / 3, 4)


def test_failing_examples_send_and_passing_ones_keep_an_unsure_answer() -> None:
    local = [
        {
            "local_mean_logprob": -0.01,
            "local_min_logprob": -0.1,
            "passed": False,
            "local_examples_pass": False,
        },
        {"local_mean_logprob": -3.0, "local_min_logprob": -5.0, "passed": True, "local_examples_pass": True},
        {"local_mean_logprob": -3.0, "local_min_logprob": -5.0, "passed": False, "local_examples_pass": None},
    ]
    cloud = [{"passed": True}, {"passed": False}, {"passed": True}]
    by = ("examples", "syntax")
    assert [hybrid.routed(r, by, -1.0, -2.0) for r in local] == [True, False, True]
    assert [hybrid.routed(r, ("syntax",), -1.0, -2.0) for r in local] == [False, True, True]
    points = hybrid.curve(local, cloud, "mean", by)
    assert points[-1] == {
        "threshold": round(-0.01 + 1e-6, 4),
        "cloud_fraction": round(2 / 3, 4),
        "pass_at_1": 1.0,
    }
    best = hybrid.grid_best(local, cloud, by, [0, 1, 2], max_sent=0.7)
    assert best is not None and best["pass_at_1"] == 1.0 and best["cloud_fraction"] == round(2 / 3, 4)
    splits = hybrid.out_of_sample(local * 2, cloud * 2, by, max_sent=0.7)
    assert [s["chosen_on"] for s in splits] == ["even", "odd"]
    assert all(s["result"]["cloud_fraction"] <= 1.0 for s in splits)
