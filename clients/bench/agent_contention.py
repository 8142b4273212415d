"""Ghost text while "Fix this" runs: how long does a keystroke's suggestion wait behind the agent?

One model serves both, on one thread. The bench starts a real fix (a HumanEval mutant, as in agent.py)
and, while it runs, types into another file and asks for inline completions at a reading pace. Their
latency is compared with the same requests on the idle server just before, in the same session.
The server answers them between two tokens of the fix (agent turns yield to completions) and, as the
fix runs in its own llama context, without re-evaluating the completion prompt afterwards.

    python clients/bench/agent_contention.py [--model PATH] [--probes 6] [--gap-s 2.5]
        [--json clients/bench/results/agent_contention.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.bench.agent import (  # noqa: E402
    command,
    def_line,
    failure_message,
    killing_mutants,
    open_file,
    pytest_diagnostic,
    start_session,
    test_module,
)
from clients.bench.quality_tasks import load_humaneval  # noqa: E402

DEFAULT_JSON = REPO / "clients" / "bench" / "results" / "agent_contention.json"
TYPING = '''import math


def distance(a, b):
    """Euclidean distance between two points."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def nearest(points, target):
    """The point closest to target."""
'''


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Typist:
    """Types one new line per probe into a file, so no suggestion comes from the cache."""

    def __init__(self, client: Any, path: Path) -> None:
        self.client, self.text, self.version = client, TYPING, 1
        self.uri = open_file(client, path, self.version)

    async def probe(self, number: int) -> float:
        self.text += f"    best_{number} = "
        self.version += 1
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"text": self.text}],
            },
        )
        lines = self.text.split("\n")
        position = {"line": len(lines) - 1, "character": len(lines[-1])}
        started = time.perf_counter()
        await self.client.request(
            "textDocument/inlineCompletion",
            {"textDocument": {"uri": self.uri}, "position": position, "context": {"triggerKind": 1}},
            timeout=600,
        )
        seconds = time.perf_counter() - started
        self.text += "None\n"
        return seconds


async def session(root: Path, task: dict[str, Any], model: Path | None, probes: int, gap: float):
    client = await start_session(root, model, 1, root / ".cache")
    try:
        typist = Typist(client, root / "typing.py")
        await typist.probe(0)  # warm-up: the first prompt has nothing to reuse
        idle = [await typist.probe(n) for n in range(1, probes + 1)]
        path = root / "solution.py"
        uri = open_file(client, path, 1)
        diagnostic = pytest_diagnostic(task, "test_solution.py::test_check")
        started = time.perf_counter()
        fix = asyncio.ensure_future(command(client, "smallcode.fix", {"uri": uri, "diagnostic": diagnostic}))
        await asyncio.sleep(gap)
        busy = []
        number = probes + 1
        while not fix.done() and len(busy) < probes:
            busy.append(await typist.probe(number))  # asked while the fix ran
            number += 1
            await asyncio.sleep(gap)
        await fix
        fix_seconds = time.perf_counter() - started
    finally:
        await client.stop()
    return {"idle": idle, "during_fix": busy, "fix_seconds": round(fix_seconds, 2)}


def summary(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50_ms": None, "max_ms": None, "n": 0}
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "n": len(samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--probes", type=int, default=6, help="completions idle, and at most this many during the fix"
    )
    parser.add_argument("--gap-s", type=float, default=2.5, help="pause between keystroke probes")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)

    problem = load_humaneval()[0][0]
    mutant, output = killing_mutants(problem, 1)[0]
    task = {
        "line": def_line(mutant.source, problem["entry_point"]),
        "message": failure_message(output),
    }
    with tempfile.TemporaryDirectory(prefix="smallcode-contention-") as tmp:
        root = Path(tmp)
        (root / "solution.py").write_text(mutant.source)
        (root / "test_solution.py").write_text(test_module(problem))
        (root / "typing.py").write_text(TYPING)
        raw = asyncio.run(session(root, task, args.model, args.probes, args.gap_s))
    idle, busy = summary(raw["idle"]), summary(raw["during_fix"])
    ratio = round(busy["p50_ms"] / idle["p50_ms"], 1) if idle["p50_ms"] and busy["p50_ms"] else None
    results = {
        "task": problem["task_id"],
        "mutant": mutant.kind,
        "gap_s": args.gap_s,
        "idle": idle,
        "during_fix": busy,
        "during_over_idle_p50": ratio,
        "fix_seconds": raw["fix_seconds"],
    }
    print(f"{'completion p50 ms, idle':34}{idle['p50_ms']!s:>10}")
    print(f"{'completion p50 ms, during a fix':34}{busy['p50_ms']!s:>10}")
    print(f"{'completion max ms, during a fix':34}{busy['max_ms']!s:>10}")
    print(f"{'asked during the fix':34}{busy['n']!s:>10}")
    print(f"{'during / idle p50':34}{ratio!s:>10}")
    print(f"{'fix seconds':34}{raw['fix_seconds']!s:>10}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
