"""Replay real typing against the server, as an editor would, and measure what the user feels.

For functions taken from an installed package nobody here wrote, the body is deleted and re-typed
one character at a time at a human pace: a `didChange` per character, an automatic
`textDocument/inlineCompletion` after each, and a `$/cancelRequest` for the previous one if it is
still pending. Variants (speculation modes, KV cache types, prefetch on/off) run side by side in
one invocation. With `--accept` the simulated user presses Tab whenever the ghost text is exactly
what they were about to type, and the wait for the suggestion after each Tab is reported.

    python clients/bench/latency.py [--model PATH] [--functions 3] [--cps 8] [--accept] [--wait-ms 3000]
        [--variants off,promptLookup] [--kv f16] [--prefetch on,off]
        [--json clients/bench/results/latency.json]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.lsp_client import LspClient, LspError  # noqa: E402

SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]


@dataclass(frozen=True)
class Body:
    """A function whose body will be re-typed: the file without the body, and the body text."""

    path: Path
    name: str
    text_without_body: str
    insert_line: int  # 0-based line where the body goes
    body: str


@dataclass
class VariantResult:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    cache_eligible: int = 0
    cache_answered: int = 0
    cache_latencies_ms: list[float] = field(default_factory=list)
    cancelled: int = 0
    overhead_ms: list[float] = field(default_factory=list)
    explicit_outputs: list[str] = field(default_factory=list)
    accepted: int = 0  # suggestions the user took with Tab (`--accept`)
    accepted_chars: int = 0
    after_accept_ms: list[float] = field(default_factory=list)  # next suggestion after each Tab
    status: dict[str, Any] = field(default_factory=dict)
    peak_rss_mb: float = 0.0


def pick_bodies(package: str, count: int, min_lines: int = 3, max_lines: int = 10) -> list[Body]:
    """Deterministically choose short top-level functions of `package` (sorted by file and line)."""
    root = Path(importlib.import_module(package).__file__).parent
    bodies: list[Body] = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.split("\n")
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.body:
                continue
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
                if len(node.body) == 1:
                    continue
                first = node.body[1]  # keep the docstring: it is the user's intent
            start, end = first.lineno - 1, node.end_lineno or first.lineno
            if not min_lines <= end - start <= max_lines:
                continue
            body = "\n".join(lines[start:end])
            without = "\n".join(lines[:start] + [""] + lines[end:])
            bodies.append(Body(path, node.name, without, start, body))
            if len(bodies) == count:
                return bodies
    return bodies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def inline_params(uri: str, line: int, character: int, invoked: bool) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1 if invoked else 2},
    }


async def wait_ready(client: LspClient, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
        if status["model"]["state"] in ("ready", "error") and status["index"]["state"] in ("ready", "error"):
            if status["model"]["state"] == "error":
                raise RuntimeError(status["model"]["error"])
            return status
        if time.monotonic() > deadline:
            raise TimeoutError("server not ready")
        await asyncio.sleep(0.1)


class Screen:
    """What the editor shows: the ghost text after the cursor, updated as answers arrive."""

    def __init__(self, result: VariantResult) -> None:
        self.result = result
        self.shown = ""
        self.latest = -1

    def track(
        self, request_id: int, future: asyncio.Future[Any], eligible: bool, after_accept: bool = False
    ) -> None:
        sent = time.perf_counter()
        expected = self.shown
        self.latest = request_id

        def done(fut: asyncio.Future[Any]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            elapsed = (time.perf_counter() - sent) * 1000
            items = (fut.result() or {}).get("items") or []
            text = items[0]["insertText"] if items else ""
            if after_accept and text:
                self.result.after_accept_ms.append(elapsed)
            elif eligible and text and text == expected:
                self.result.cache_answered += 1
                self.result.cache_latencies_ms.append(elapsed)
            elif text:
                self.result.latencies_ms.append(elapsed)
            if request_id == self.latest:
                self.shown = text

        future.add_done_callback(done)

    def typed(self, char: str) -> bool:
        """The user typed `char`; True when it agrees with the ghost text (a cache-eligible keystroke)."""
        eligible = bool(self.shown) and self.shown[0] == char and char != "\n"
        self.shown = self.shown[1:] if eligible else ""
        return eligible


def send_insert(client: LspClient, uri: str, version: int, line: int, col: int, text: str) -> tuple[int, int]:
    """didChange inserting `text` at (line, col); returns the cursor after it."""
    position = {"line": line, "character": col}
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": position, "end": position}, "text": text}],
        },
    )
    newlines = text.count("\n")
    return (line + newlines, len(text) - text.rfind("\n") - 1) if newlines else (line, col + len(text))


async def replay(
    client: LspClient,
    body: Body,
    cps: float,
    line_pause: float,
    result: VariantResult,
    accept: bool = False,
    wait_s: float = 0.0,
) -> None:
    """Type `body.body` into the document; every keystroke triggers an automatic request.

    With `accept`, the user presses Tab whenever the ghost text on screen is exactly what they were
    about to type (an oracle user): the suggestion is inserted in one edit and the next request's
    latency is what they wait for the following suggestion. With `wait_s`, the user glances at the
    screen after each keystroke and waits up to that long for the ghost text before typing on (a
    user who reads suggestions, rather than one typing straight through them).
    """
    uri = body.path.resolve().as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": body.text_without_body}},
    )
    screen = Screen(result)
    line, col, version = body.insert_line, 0, 1
    pending: tuple[int, asyncio.Future[Any]] | None = None
    at = 0
    while at < len(body.body):
        shown = screen.shown
        accepting = accept and bool(shown) and body.body.startswith(shown, at)
        text = shown if accepting else body.body[at]
        version += 1
        line, col = send_insert(client, uri, version, line, col, text)
        at += len(text)
        if accepting:
            result.accepted += 1
            result.accepted_chars += len(text)
            screen.shown = ""
            pending = client.send_request(
                "textDocument/inlineCompletion", inline_params(uri, line, col, False)
            )
            screen.track(pending[0], pending[1], False, after_accept=True)
            await asyncio.sleep(1 / cps)
            continue
        char = text
        eligible = screen.typed(char)
        if pending is not None and not pending[1].done():
            client.cancel(pending[0])
            result.cancelled += 1
        pending = client.send_request("textDocument/inlineCompletion", inline_params(uri, line, col, False))
        result.cache_eligible += eligible
        screen.track(pending[0], pending[1], eligible)
        if wait_s > 0:
            with contextlib.suppress(LspError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending[1]), wait_s)
            await asyncio.sleep(0)  # let the screen take the answer before the next keystroke
        # People type in bursts and pause at line ends; that is when a suggestion can arrive.
        await asyncio.sleep(line_pause if char == "\n" else 1 / cps)
    if pending is not None:
        with contextlib.suppress(LspError, asyncio.TimeoutError):
            await asyncio.wait_for(pending[1], 60)
    await measure_overhead(client, uri, body.insert_line, 0, result)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


async def measure_overhead(client: LspClient, uri: str, line: int, col: int, result: VariantResult) -> None:
    """Round trip minus model-side time of an explicit request (nothing cached at a fresh line)."""
    started = time.perf_counter()
    answer = await client.request("textDocument/inlineCompletion", inline_params(uri, line, col, True))
    rtt = (time.perf_counter() - started) * 1000
    status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
    seconds = (status.get("lastCompletion") or {}).get("seconds")
    items = (answer or {}).get("items") or []
    result.explicit_outputs.append(items[0]["insertText"] if items else "")
    if seconds is not None:
        result.overhead_ms.append(rtt - seconds * 1000)


async def run_variant(
    name: str,
    options: dict[str, Any],
    bodies: list[Body],
    root: Path,
    cps: float,
    line_pause: float,
    accept: bool = False,
    wait_s: float = 0.0,
) -> VariantResult:
    result = VariantResult(name)
    cache = tempfile.mkdtemp(prefix="smallcode-latency-")
    env = {**os.environ, "SMALLCODE_CACHE_DIR": cache}
    client = await LspClient.start(*SERVER_COMMAND, env=env, cwd=str(REPO))
    try:
        await client.initialize(root, options)
        client.notify("initialized", {})
        await wait_ready(client)
        for body in bodies:
            await replay(client, body, cps, line_pause, result, accept, wait_s)
            print(f"  {name}: {body.path.name}:{body.name} typed", file=sys.stderr)
        result.status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
        result.peak_rss_mb = peak_rss_mb(client.process.pid)
    finally:
        await client.stop()
        shutil.rmtree(cache, ignore_errors=True)
    return result


def summarize(result: VariantResult) -> dict[str, Any]:
    reuse = result.status.get("promptReuse", {})
    return {
        "variant": result.name,
        "requests_answered": len(result.latencies_ms),
        "latency_p50_ms": round(percentile(result.latencies_ms, 0.5), 1),
        "latency_p95_ms": round(percentile(result.latencies_ms, 0.95), 1),
        "cache_eligible": result.cache_eligible,
        "cache_answered": result.cache_answered,
        "cache_hit_rate": round(result.cache_answered / result.cache_eligible, 3)
        if result.cache_eligible
        else None,
        "cache_p50_ms": round(percentile(result.cache_latencies_ms, 0.5), 2),
        "cache_p95_ms": round(percentile(result.cache_latencies_ms, 0.95), 2),
        "cancelled": result.cancelled,
        "server_served": result.status.get("requests", {}).get("completion.served", 0),
        "server_empty": result.status.get("requests", {}).get("completion.empty", 0),
        "server_cancelled": result.status.get("requests", {}).get("completion.cancelled", 0),
        "last_completion_s": (result.status.get("lastCompletion") or {}).get("seconds"),
        "reevaluated_prompt_fraction": reuse.get("reevaluatedFraction"),
        "server_overhead_p50_ms": round(percentile(result.overhead_ms, 0.5), 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
        "decode_tokens_per_s": (result.status.get("lastCompletion") or {}).get("decodeTokensPerSecond"),
        "accepted": result.accepted,
        "accepted_chars": result.accepted_chars,
        "after_accept_p50_ms": round(percentile(result.after_accept_ms, 0.5), 1),
        "after_accept_p95_ms": round(percentile(result.after_accept_ms, 0.95), 1),
        "prefetch_ready": result.status.get("requests", {}).get("completion.prefetchReady", 0),
        "prefetch_joined": result.status.get("requests", {}).get("completion.prefetchJoined", 0),
        "explicit_outputs": result.explicit_outputs,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    keys = [k for k in rows[0] if k != "explicit_outputs"]
    width = max(len(k) for k in keys) + 2
    print("".ljust(width) + "".join(str(r["variant"]).rjust(16) for r in rows))
    for key in keys[1:]:
        print(key.ljust(width) + "".join(str(r[key]).rjust(16) for r in rows))
    base = rows[0]["explicit_outputs"]
    same = [r["explicit_outputs"] == base for r in rows]
    print("identical explicit outputs".ljust(width) + "".join(str(s).rjust(16) for s in same))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="GGUF (default: the packaged default model)")
    parser.add_argument(
        "--package", default="pathspec", help="installed package whose functions are re-typed"
    )
    parser.add_argument("--functions", type=int, default=3)
    parser.add_argument("--cps", type=float, default=8.0, help="typing speed, characters per second")
    parser.add_argument("--line-pause", type=float, default=2.0, help="seconds of thought after each line")
    parser.add_argument("--variants", default="off,promptLookup", help="speculative modes to compare")
    parser.add_argument("--kv", default="f16", help="KV cache types to compare, e.g. f16,q8_0")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--accept", action="store_true", help="press Tab whenever the ghost text is exactly what comes next"
    )
    parser.add_argument("--prefetch", default="on", help="completion.prefetch values to compare, e.g. on,off")
    parser.add_argument(
        "--wait-ms",
        type=float,
        default=0.0,
        help="after each keystroke, wait up to this long for the ghost text (a user who reads it)",
    )
    parser.add_argument("--json", default=str(REPO / "clients/bench/results/latency.json"))
    args = parser.parse_args()
    if args.model is None:
        from smallcode_lsp.models import default_model_path

        args.model = str(default_model_path())
    bodies = pick_bodies(args.package, args.functions)
    workspace = Path(tempfile.mkdtemp(prefix="smallcode-latency-ws-")) / args.package
    package_dir = Path(importlib.import_module(args.package).__file__).parent
    shutil.copytree(package_dir, workspace)
    bodies = [
        Body(workspace / b.path.relative_to(package_dir), b.name, b.text_without_body, b.insert_line, b.body)
        for b in bodies
    ]
    rows = []
    variants = [
        (kv, mode, prefetch)
        for kv in args.kv.split(",")
        for mode in args.variants.split(",")
        for prefetch in args.prefetch.split(",")
    ]
    for kv, mode, prefetch in variants:
        options = {
            "model": {"path": args.model, "kvCacheType": kv},
            "speculative": {"mode": mode},
            "completion": {"maxTokens": args.max_tokens, "debounceMs": 75, "prefetch": prefetch == "on"},
        }
        name = f"{mode}/{kv}" + (f"/prefetch-{prefetch}" if "," in args.prefetch else "")
        print(f"variant {name}", file=sys.stderr)
        run = run_variant(
            name, options, bodies, workspace, args.cps, args.line_pause, args.accept, args.wait_ms / 1000
        )
        rows.append(summarize(asyncio.run(run)))
    print(
        f"package {args.package} {importlib.metadata.version(args.package)}; {len(bodies)} functions; "
        f"{args.cps} chars/s"
    )
    print_table(rows)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "package": args.package,
                "cps": args.cps,
                "wait_ms": args.wait_ms,
                "model": args.model,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
