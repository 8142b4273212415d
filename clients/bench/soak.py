"""Load and long sessions: a cancel storm, then thousands of keystrokes, watching what leaks.

Users keep an editor open for days and type fast; a server that answers a burst late or grows by a
few kilobytes per keystroke gets uninstalled. Two phases against one real server (stdio, the real
model), in one run:

1. **Cancel storm**: `--storm-rate` inline-completion requests per second on one document for
   `--storm-seconds`, each after a one-character `didChange` and each cancelling the previous one
   (`$/cancelRequest`), as an editor does while the user types. Then one ordinary request. Its
   latency is compared with the same request on the idle server (same text, a fresh file name so
   neither is a cache hit), measured before the storm; every storm request must be answered (a
   result or RequestCancelled).
2. **Soak**: `--keystrokes` keystrokes replayed over several files of real code in compressed time
   (no pauses): each a `didChange` plus a completion request that the next keystroke cancels; every
   `--pause-every` keystrokes the "user" waits for the suggestion; now and then a save (the file
   is written, the watcher re-indexes), `workspace/symbol` and `documentSymbol`. Every
   `--sample-every` keystrokes the server's RSS, open file descriptors and threads and the index
   size on disk are sampled.

Writes JSON (latency p50/p95/max, storm ratio, RSS/fd/thread series and growth after warm-up) and a
PNG of RSS and latency over the run.

    python clients/bench/soak.py [--model PATH] [--keystrokes 20000] [--storm-seconds 10]
        [--storm-rate 100] [--json clients/bench/results/soak.json] [--png clients/bench/results/soak.png]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.bench.png_chart import Panel, Series, write_chart  # noqa: E402
from clients.lsp_client import LspClient, LspError  # noqa: E402

SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]
DEFAULT_JSON = REPO / "clients" / "bench" / "results" / "soak.json"
REQUEST_CANCELLED = -32800
ANSWER_TIMEOUT_S = 120.0
# Real code nobody typed for this bench: the server's own modules, copied into the workspace.
SOURCE_FILES = (
    "smallcode_lsp/config.py",
    "smallcode_lsp/engine/router.py",
    "smallcode_lsp/index/ignore.py",
    "smallcode_lsp/completion/cache.py",
    "smallcode_lsp/context/prompt.py",
)


# ----------------------------------------------------------------------------- process sampling


def process_sample(pid: int) -> dict[str, float]:
    """RSS (MB), open fds and threads of the server, plus RSS of its children (index workers)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = float(fields["VmRSS"].split()[0])
    children_kb = 0.0
    children = 0
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                    children += 1
                    with contextlib.suppress(OSError, KeyError, ValueError):
                        child_status = Path(f"/proc/{child}/status").read_text()
                        child_fields = dict(x.split(":", 1) for x in child_status.splitlines() if ":" in x)
                        children_kb += float(child_fields["VmRSS"].split()[0])
    return {
        "rss_mb": round(rss_kb / 1024, 2),
        "children": children,
        "children_rss_mb": round(children_kb / 1024, 2),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": percentile(values, 0.5),
        "p95_ms": percentile(values, 0.95),
        "max_ms": round(max(values), 2) if values else None,
    }


# ----------------------------------------------------------------------------- editor session


@dataclass
class Document:
    """A document the simulated editor holds; edits are sent incrementally, positions in UTF-16."""

    client: LspClient
    path: Path
    lines: list[str]
    version: int = 1

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    def open(self) -> None:
        self.client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": self.uri, "languageId": "python", "version": 1, "text": self.text}},
        )

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def type(self, line: int, column: int, char: str) -> tuple[int, int]:
        """Insert one character (or a newline) at (line, column); returns the new cursor."""
        self.version += 1
        position = {"line": line, "character": _utf16(self.lines[line][:column])}
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": {"start": position, "end": position}, "text": char}],
            },
        )
        current = self.lines[line]
        if char == "\n":
            self.lines[line : line + 1] = [current[:column], current[column:]]
            return line + 1, 0
        self.lines[line] = current[:column] + char + current[column:]
        return line, column + 1

    def completion_params(self, line: int, column: int) -> dict[str, Any]:
        return {
            "textDocument": {"uri": self.uri},
            "position": {"line": line, "character": _utf16(self.lines[line][:column])},
            "context": {"triggerKind": 2},
        }


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Outcome:
    answered: int = 0
    cancelled: int = 0
    errors: int = 0
    unanswered: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def settle(futures: list[tuple[float, asyncio.Future[Any]]], outcome: Outcome) -> None:
    """Wait for every request sent; each must end in a result or RequestCancelled."""
    for sent_at, future in futures:
        try:
            await asyncio.wait_for(asyncio.shield(future), ANSWER_TIMEOUT_S)
            outcome.answered += 1
            outcome.latencies_ms.append((time.perf_counter() - sent_at) * 1000)
        except LspError as exc:
            if exc.code == REQUEST_CANCELLED:
                outcome.cancelled += 1
            else:
                outcome.errors += 1
        except asyncio.TimeoutError:
            outcome.unanswered += 1


async def waited_record(client: LspClient, elapsed_ms: float, after_switch: bool) -> dict[str, Any]:
    """A waited suggestion's latency with what the server says its prompt cost: tokens evaluated
    versus reused from the KV cache, and its own seconds (the rest is queueing)."""
    status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
    last = status.get("lastCompletion") or {}
    return {
        "ms": round(elapsed_ms, 1),
        "after_switch": after_switch,  # the first waited one since the typing moved to another file
        "prompt_tokens": last.get("promptTokens"),
        "reused_prompt_tokens": last.get("reusedPromptTokens"),
        "server_seconds": last.get("seconds"),
        "context_snippets": last.get("contextSnippets"),
    }


def reused_share(records: list[dict[str, Any]]) -> float | None:
    """Of all prompt tokens these suggestions needed, the share the KV cache already held."""
    prompt = sum(r["prompt_tokens"] or 0 for r in records)
    reused = sum(r["reused_prompt_tokens"] or 0 for r in records)
    return round(reused / prompt, 3) if prompt else None


async def timed_request(client: LspClient, method: str, params: Any) -> float:
    started = time.perf_counter()
    await client.request(method, params, timeout=ANSWER_TIMEOUT_S)
    return (time.perf_counter() - started) * 1000


async def wait_ready(client: LspClient, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
        model_state = (status.get("model") or {}).get("state")
        if model_state == "ready" and (status.get("index") or {}).get("state") in ("ready", "error"):
            return status
        if model_state == "error":
            raise RuntimeError(f"the model did not load: {status.get('model')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server not ready: {status.get('model')} {status.get('index')}")
        await asyncio.sleep(0.2)


# ----------------------------------------------------------------------------- phases

PROBE_TEXT = (
    "def moving_average(values, window):\n"
    '    """The mean of each run of `window` consecutive values."""\n'
    "    if window <= 0:\n"
    "        raise ValueError('window must be positive')\n"
    "    totals = []\n"
    "    for start in range(len(values) - window + 1):\n"
    "        "
)


async def probe(client: LspClient, root: Path, name: str, warm_up_text: str) -> float:
    """One ordinary request on a fresh copy of the probe file, after a request on another file, so
    the KV cache and completion cache are in the same state each time."""
    other = Document(client, root / f"{name}_other.py", [f"# {name}", warm_up_text, ""])
    other.open()
    await timed_request(client, "textDocument/inlineCompletion", other.completion_params(2, 0))
    document = Document(client, root / f"{name}.py", PROBE_TEXT.split("\n"))
    document.open()
    last = len(document.lines) - 1
    return await timed_request(
        client, "textDocument/inlineCompletion", document.completion_params(last, len(document.lines[last]))
    )


async def cancel_storm(client: LspClient, root: Path, rate: float, seconds: float) -> dict[str, Any]:
    document = Document(client, root / "storm.py", ["def storm(items):", "    result = ", ""])
    document.open()
    line, column = 1, len(document.lines[1])
    typed = "sum(item.price * item.count for item in items if item.active) + len(items) * 3\n    "
    futures: list[tuple[float, asyncio.Future[Any]]] = []
    previous: int | None = None
    interval = 1.0 / rate
    started = time.perf_counter()
    count = 0
    while time.perf_counter() - started < seconds:
        char = typed[count % len(typed)]
        line, column = document.type(line, column, char)
        if previous is not None:
            client.cancel(previous)
        previous, future = client.send_request(
            "textDocument/inlineCompletion", document.completion_params(line, column)
        )
        futures.append((time.perf_counter(), future))
        count += 1
        next_at = started + count * interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    sent_seconds = time.perf_counter() - started
    outcome = Outcome()
    await settle(futures, outcome)
    return {
        "requests": count,
        "achieved_rate": round(count / sent_seconds, 1),
        "answered": outcome.answered,
        "cancelled": outcome.cancelled,
        "errors": outcome.errors,
        "unanswered": outcome.unanswered,
        "drained_seconds": round(time.perf_counter() - started - sent_seconds, 2),
    }


@dataclass
class SoakFile:
    document: Document
    body: str  # the text deleted from the file and re-typed
    line: int
    column: int


def soak_files(client: LspClient, root: Path) -> list[SoakFile]:
    """Each source file with its second half removed; the soak types it back in."""
    files = []
    for relative in SOURCE_FILES:
        text = (REPO / relative).read_text(encoding="utf-8")
        lines = text.split("\n")
        cut = len(lines) // 2
        kept = lines[:cut] + [""]
        path = root / Path(relative).name
        path.write_text("\n".join(kept), encoding="utf-8")
        document = Document(client, path, kept)
        files.append(SoakFile(document, "\n".join(lines[cut:]), cut, 0))
    return files


async def soak(
    client: LspClient,
    root: Path,
    cache: Path,
    keystrokes: int,
    pause_every: int,
    sample_every: int,
) -> dict[str, Any]:
    pid = client.process.pid
    files = soak_files(client, root)
    for item in files:
        item.document.open()
    samples: list[dict[str, Any]] = []
    waited_ms: list[float] = []
    waited: list[dict[str, Any]] = []  # per waited suggestion: latency and the prompt it needed
    window_ms: list[float] = []
    other_ms: list[float] = []
    outcome = Outcome()
    pending: list[tuple[float, asyncio.Future[Any]]] = []
    previous: int | None = None
    offsets = [0] * len(files)
    started = time.perf_counter()

    def sample(done: int) -> None:
        entry = {"keystrokes": done, "seconds": round(time.perf_counter() - started, 2)}
        entry.update(process_sample(pid))
        entry["index_bytes"] = directory_bytes(cache)
        entry["p50_ms"] = percentile(window_ms, 0.5)
        entry["p95_ms"] = percentile(window_ms, 0.95)
        samples.append(entry)
        window_ms.clear()

    sample(0)
    for done in range(1, keystrokes + 1):
        which = (done // 400) % len(files)  # switch files every 400 keystrokes
        item = files[which]
        if offsets[which] >= len(item.body):  # typed it all: start that file over
            offsets[which] = 0
            item.document.lines[item.line + 1 :] = []
            item.document.lines[item.line] = ""
            item.column = 0
            item.document.version += 1
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": item.document.uri, "version": item.document.version},
                    "contentChanges": [{"text": item.document.text}],
                },
            )
        char = item.body[offsets[which]]
        offsets[which] += 1
        new_line, new_column = item.document.type(item.line, item.column, char)
        item.line, item.column = new_line, new_column
        if previous is not None:
            client.cancel(previous)
        previous, future = client.send_request(
            "textDocument/inlineCompletion", item.document.completion_params(item.line, item.column)
        )
        sent_at = time.perf_counter()
        if done % pause_every == 0:  # the user stops and reads the suggestion
            previous = None
            await settle(pending, outcome)
            pending.clear()
            try:
                await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
                elapsed = (time.perf_counter() - sent_at) * 1000
                waited_ms.append(elapsed)
                window_ms.append(elapsed)
                outcome.answered += 1
                waited.append(await waited_record(client, elapsed, done % 400 < pause_every))
            except LspError as exc:
                outcome.errors += exc.code != REQUEST_CANCELLED
                outcome.cancelled += exc.code == REQUEST_CANCELLED
            except asyncio.TimeoutError:
                outcome.unanswered += 1
        else:
            pending.append((sent_at, future))
        if done % 1000 == 0:  # save: the file on disk changes and the index follows
            item.document.path.write_text(item.document.text, encoding="utf-8")
            client.notify("textDocument/didSave", {"textDocument": {"uri": item.document.uri}})
            other_ms.append(await timed_request(client, "workspace/symbol", {"query": "settings"}))
            other_ms.append(
                await timed_request(
                    client, "textDocument/documentSymbol", {"textDocument": {"uri": item.document.uri}}
                )
            )
        if done % sample_every == 0:
            sample(done)
        if done % 50 == 0:
            await asyncio.sleep(0)  # let the reader task keep up
    await settle(pending, outcome)
    if samples[-1]["keystrokes"] != keystrokes:
        sample(keystrokes)
    warm = samples[max(1, len(samples) // 10)]  # after warm-up: the model, caches and index are in
    last = samples[-1]
    return {
        "keystrokes": keystrokes,
        "seconds": round(time.perf_counter() - started, 1),
        "requests": keystrokes,
        "answered": outcome.answered,
        "cancelled": outcome.cancelled,
        "errors": outcome.errors,
        "unanswered": outcome.unanswered,
        "waited_completion": summary(waited_ms),
        "waited_after_switch": summary([w["ms"] for w in waited if w["after_switch"]]),
        "waited_same_file": summary([w["ms"] for w in waited if not w["after_switch"]]),
        "reused_after_switch": reused_share([w for w in waited if w["after_switch"]]),
        "reused_same_file": reused_share([w for w in waited if not w["after_switch"]]),
        "waited": waited,
        "symbol_requests": summary(other_ms),
        "warm_up_sample": warm,
        "rss_growth_after_warm_up": round(last["rss_mb"] / warm["rss_mb"] - 1, 4),
        "fds": {"warm": warm["fds"], "last": last["fds"], "max": max(s["fds"] for s in samples)},
        "threads": {
            "warm": warm["threads"],
            "last": last["threads"],
            "max": max(s["threads"] for s in samples),
        },
        "index_bytes": {"warm": warm["index_bytes"], "last": last["index_bytes"]},
        "samples": samples,
    }


# ----------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="smallcode-soak-") as tmp:
        root = Path(tmp) / "ws"
        cache = Path(tmp) / "cache"
        root.mkdir()
        env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
        options = {"model": {"path": str(model)}, "completion": {"maxTokens": args.max_tokens}}
        logging = ["--log-file", str(args.server_log), "--log-level", "WARNING"] if args.server_log else []
        client = await LspClient.start(*SERVER_COMMAND, *logging, env=env, cwd=str(REPO))
        try:
            await client.initialize(root, options)
            client.notify("initialized", {})
            await wait_ready(client)
            idle = [await probe(client, root, f"idle_{n}", f"x_{n} = {n}") for n in range(args.probes)]
            storms = []
            after = []
            for n in range(args.storms):
                storms.append(await cancel_storm(client, root, args.storm_rate, args.storm_seconds))
                after.append(await probe(client, root, f"after_{n}", f"y_{n} = {n}"))
            result: dict[str, Any] = {
                "idle_probe_ms": [round(x, 1) for x in idle],
                "after_storm_probe_ms": [round(x, 1) for x in after],
                "storm_latency_ratio": round(statistics.median(after) / statistics.median(idle), 3),
                "storms": storms,
            }
            print(
                f"cancel storm: {sum(s['requests'] for s in storms)} requests in {args.storms} storms,"
                f" unanswered {sum(s['unanswered'] for s in storms)}; request after the storm"
                f" {statistics.median(after):.0f} ms vs idle {statistics.median(idle):.0f} ms:"
                f" ratio {result['storm_latency_ratio']:.2f} (target <= 1.5)"
            )
            result["soak"] = await soak(
                client, root, cache, args.keystrokes, args.pause_every, args.sample_every
            )
            alive = await client.request(
                "textDocument/documentSymbol", {"textDocument": {"uri": (root / "storm.py").as_uri()}}
            )
            result["alive_after"] = alive is not None
            result["exit_code"] = await client.stop()
        finally:
            if client.process.returncode is None:
                client.process.kill()
                await client.process.wait()
        shutil.rmtree(cache, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None, help="the GGUF (default: the embedded one)")
    parser.add_argument("--keystrokes", type=int, default=20000)
    parser.add_argument("--pause-every", type=int, default=50, help="keystrokes between waited suggestions")
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--storm-rate", type=float, default=100.0)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--storms", type=int, default=3, help="storms (each followed by a probe)")
    parser.add_argument("--probes", type=int, default=3, help="idle probes before the storms")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--server-log", type=Path, default=None, help="where the server logs its warnings")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--png", type=Path, default=None, help="default: the JSON path with .png")
    args = parser.parse_args(argv)
    if args.model is None:
        from smallcode_lsp.models import default_model_path

        args.model = default_model_path()
    result = asyncio.run(run(args, args.model.resolve()))
    result["settings"] = {k: v for k, v in vars(args).items() if k not in ("json", "png", "server_log")}
    result["settings"]["model"] = str(args.model)
    soak_result = result["soak"]
    waited = soak_result["waited_completion"]
    print(
        f"soak: {soak_result['keystrokes']} keystrokes in {soak_result['seconds']} s;"
        f" unanswered {soak_result['unanswered']}, errors {soak_result['errors']};"
        f" waited suggestion p50 {waited['p50_ms']} ms p95 {waited['p95_ms']} ms max {waited['max_ms']} ms"
    )
    switched, same = soak_result["waited_after_switch"], soak_result["waited_same_file"]
    print(
        f"  first waited after a file switch: p50 {switched['p50_ms']} ms p95 {switched['p95_ms']} ms;"
        f" others: p50 {same['p50_ms']} ms p95 {same['p95_ms']} ms;"
        f" prompt tokens already cached: after a switch {soak_result['reused_after_switch']},"
        f" others {soak_result['reused_same_file']}"
    )
    print(
        f"RSS growth after warm-up {soak_result['rss_growth_after_warm_up']:.1%} (target < 5%);"
        f" fds {soak_result['fds']}; threads {soak_result['threads']};"
        f" index bytes {soak_result['index_bytes']}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    png = args.png or args.json.with_suffix(".png")
    samples = soak_result["samples"]
    xs = [s["keystrokes"] for s in samples]
    write_chart(
        png,
        [
            Panel("server RSS (MB)", [Series("server", xs, [s["rss_mb"] for s in samples])]),
            Panel(
                "waited suggestion latency (ms)",
                [
                    Series("p50", xs[1:], [s["p50_ms"] or float("nan") for s in samples[1:]]),
                    Series("p95", xs[1:], [s["p95_ms"] or float("nan") for s in samples[1:]]),
                ],
            ),
            Panel(
                "open fds and threads",
                [
                    Series("fds", xs, [s["fds"] for s in samples]),
                    Series("threads", xs, [s["threads"] for s in samples]),
                ],
            ),
        ],
        "keystrokes",
    )
    print(f"wrote {args.json} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
