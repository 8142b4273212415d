"""Fuzz `smallcode-lsp` over stdio: `python -m clients.fuzz.run --messages 10000 --seed 1`.

Prints a summary (messages by category, requests answered, errors by code, crashes, hangs, other
violations, response times, the final health check) and writes it as JSON with `--json`. On a
failure the first violation's session is minimized by delta debugging and saved as a replay file
(`--replay FILE` runs one again). Exit status 0 when the run passed.

Pass criteria: no crash, no hang (every request answered in time with a result or the right
JSON-RPC error), no other violation of the oracle, and the final health check passes (a real
completion from the model and `workspace/symbol` finding a known symbol).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.fuzz.frames import Action, actions_from_json, actions_to_json  # noqa: E402
from clients.fuzz.generator import Session, plan_run  # noqa: E402
from clients.fuzz.minimize import ddmin  # noqa: E402
from clients.fuzz.oracle import REQUESTS  # noqa: E402
from clients.fuzz.runner import SessionRunner, Stats, Violation  # noqa: E402
from clients.fuzz.workspace import World, build_world  # noqa: E402


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def run_sessions(
    world: World, sessions: list[Session], stats: Stats, verbose: bool = False
) -> dict[str, Any] | None:
    health = None
    for session in sessions:
        runner = SessionRunner(world, stats, session.index, verbose)
        outcome = await runner.run(session.actions, final=session.final, teardown=session.teardown)
        if session.final:
            health = outcome
        if any(v.kind in ("crash", "bad_output") for v in stats.violations):
            break
    return health


async def minimize_failure(world: World, session: Session, target: Violation, max_tests: int) -> list:
    """The shortest action sequence of `session` that still produces `target`'s kind of failure."""
    replays = 0

    async def reproduces(candidate: list) -> bool:
        nonlocal replays
        replays += 1
        stats = Stats()
        runner = SessionRunner(world, stats, 10_000 + replays)
        await runner.run(
            candidate,
            final=target.kind == "health",
            teardown=session.teardown,
            stop_when=lambda v: v.signature == target.signature,
        )
        return any(v.signature == target.signature for v in stats.violations)

    minimal = await ddmin(session.actions, reproduces, max_tests=max_tests)
    # Then message by message: an action's frames as actions of their own (their answers are then
    # awaited one by one, so this only sticks when the failure survives the split).
    single = [Action(a.category, a.kind, [frame]) for a in minimal for frame in a.frames]
    if len(single) > len(minimal) and await reproduces(single):
        minimal = await ddmin(single, reproduces, max_tests=max_tests)
    return minimal


def build_report(
    args: argparse.Namespace, stats: Stats, health: dict | None, seconds: float, world: World
) -> dict[str, Any]:
    latencies_ms = [x * 1000 for x in stats.latencies]
    violations = stats.violations
    passed = not violations and bool(health and health.get("ok"))
    return {
        "benchmark": "fuzz",
        "seed": args.seed,
        "messagesRequested": args.messages,
        "messagesSent": sum(stats.messages.values()),
        "messagesByCategory": dict(sorted(stats.messages.items())),
        "bytesSent": stats.bytes_sent,
        "sessions": stats.sessions,
        "requests": stats.requests,
        "answered": stats.answered,
        "results": stats.results,
        "errorsByCode": {str(code): n for code, n in sorted(stats.errors.items(), key=lambda kv: str(kv[0]))},
        "nullIdErrorsByCode": {
            str(code): n for code, n in sorted(stats.null_errors.items(), key=lambda kv: str(kv[0]))
        },
        "crashes": stats.count("crash") + stats.count("bad_output"),
        "hangs": stats.count("hang"),
        "violations": len(violations),
        "violationsByKind": {k: stats.count(k) for k in sorted({v.kind for v in violations})},
        "firstViolations": [v.to_json() for v in violations[:50]],
        "latencyMs": {
            "p50": _round(_percentile(latencies_ms, 0.5)),
            "p95": _round(_percentile(latencies_ms, 0.95)),
            "max": _round(max(latencies_ms) if latencies_ms else None),
            "mean": _round(statistics.fmean(latencies_ms) if latencies_ms else None),
        },
        "latencyByMethodMs": {
            method: {
                "n": len(values),
                "p50": _round(_percentile([v * 1000 for v in values], 0.5)),
                "p95": _round(_percentile([v * 1000 for v in values], 0.95)),
                "max": _round(max(values) * 1000),
            }
            for method, values in sorted(_by_method(stats).items())
        },
        "exitCodes": stats.exit_codes,
        "serverTracebacksLogged": stats.tracebacks,
        "serverNotifications": stats.server_notifications,
        "serverRequests": stats.server_requests,
        "actionsByKind": dict(sorted(stats.kinds.items())),
        "health": health,
        "seconds": round(seconds, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "workdir": str(world.workdir),
        "pass": passed,
    }


def _by_method(stats: Stats) -> dict[str, list[float]]:
    """Latencies of the server's methods; made-up and malformed methods pooled as "(other)"."""
    pooled: dict[str, list[float]] = {}
    for method, values in stats.latencies_by_method.items():
        key = method if method in REQUESTS or method == "fuzz/ping" else "(other)"
        pooled.setdefault(key, []).extend(values)
    return pooled


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def print_summary(report: dict[str, Any]) -> None:
    rows = [
        ("messages sent", report["messagesSent"]),
        *((f"  {cat}", n) for cat, n in report["messagesByCategory"].items()),
        ("sessions (server processes)", report["sessions"]),
        ("requests / answered", f"{report['requests']} / {report['answered']}"),
        ("results", report["results"]),
        *((f"  error {code}", n) for code, n in report["errorsByCode"].items()),
        *((f"  id-null error {code}", n) for code, n in report["nullIdErrorsByCode"].items()),
        ("crashes", report["crashes"]),
        ("hangs", report["hangs"]),
        ("other violations", report["violations"] - report["crashes"] - report["hangs"]),
        ("response ms p50 / p95 / max", "{p50} / {p95} / {max}".format(**report["latencyMs"])),
        ("server tracebacks logged", report["serverTracebacksLogged"]),
        ("health check", "ok" if (report["health"] or {}).get("ok") else f"FAILED {report['health']}"),
        ("seconds", report["seconds"]),
        ("result", "PASS" if report["pass"] else "FAIL"),
    ]
    width = max(len(str(name)) for name, _ in rows)
    print(f"SmallCode LSP fuzz, seed {report['seed']}")
    for name, value in rows:
        print(f"  {str(name).ljust(width)}  {value}")
    for violation in report["firstViolations"][:10]:
        print(
            f"  ! {violation['kind']} {violation['method']} (session {violation['session']}, "
            f"action {violation['action']} {violation['actionKind']}): {violation['detail'][:300]}"
        )


async def fuzz(
    messages: int,
    seed: int,
    workdir: Path,
    model: Path | None = None,
    minimize: bool = True,
    max_tests: int = 150,
    args: argparse.Namespace | None = None,
    server_root: Path = REPO,
) -> dict[str, Any]:
    """One run; the report as a dict (the CI test calls this)."""
    args = args or argparse.Namespace(messages=messages, seed=seed)
    world = build_world(workdir, model, server_root)
    secret_before = world.secret_digest()
    sessions = plan_run(seed, messages, world)
    stats = Stats()
    started = time.perf_counter()
    health = await run_sessions(world, sessions, stats, bool(getattr(args, "verbose", False)))
    if world.secret_digest() != secret_before:
        stats.violations.append(Violation("canary", "outside", "the file outside the workspace changed"))
    report = build_report(args, stats, health, time.perf_counter() - started, world)
    if stats.violations and minimize:
        target = stats.violations[0]
        session = next((s for s in sessions if s.index == target.session), None)
        if session is not None:
            minimal = await minimize_failure(world, session, target, max_tests)
            path = workdir / "minimized.json"
            path.write_text(
                json.dumps({"violation": target.to_json(), "actions": actions_to_json(minimal)}, indent=1)
            )
            report["minimized"] = {
                "actions": len(minimal),
                "of": len(session.actions),
                "replayFile": str(path),
            }
    return report


async def replay(path: Path, workdir: Path, model: Path | None, server_root: Path = REPO) -> int:
    data = json.loads(path.read_text())
    world = build_world(workdir, model, server_root)
    stats = Stats()
    actions = actions_from_json(data["actions"])
    final = data.get("violation", {}).get("kind") == "health"
    await SessionRunner(world, stats, 0).run(actions, final=final)
    for violation in stats.violations:
        print(f"{violation.kind} {violation.method}: {violation.detail[:500]}")
    print(f"{len(actions)} actions, {len(stats.violations)} violation(s)")
    return 1 if stats.violations else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.fuzz.run", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="frames to send in all (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--model", type=Path, help="GGUF to load (default: a tiny random one written for the run)"
    )
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--workdir", type=Path, help="workspace, caches and logs (default: a new temp dir)")
    parser.add_argument("--no-minimize", action="store_true", help="do not minimize a failure")
    parser.add_argument("--max-replays", type=int, default=150, help="replays the minimizer may use")
    parser.add_argument(
        "--server-path",
        type=Path,
        default=REPO,
        help="import smallcode_lsp from this checkout (default: this one)",
    )
    parser.add_argument("--verbose", action="store_true", help="print each action and violation (stderr)")
    parser.add_argument("--replay", type=Path, help="run a minimized case (a replay file) instead")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="smallcode-fuzz-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.replay:
        return asyncio.run(replay(args.replay, workdir, args.model, args.server_path))
    report = asyncio.run(
        fuzz(
            args.messages,
            args.seed,
            workdir,
            args.model,
            not args.no_minimize,
            args.max_replays,
            args,
            args.server_path,
        )
    )
    print_summary(report)
    if "minimized" in report:
        print(
            f"  minimized to {report['minimized']['actions']} action(s): {report['minimized']['replayFile']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
