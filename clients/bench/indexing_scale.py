"""Index a generated 100,000-file workspace through the real server, with the hazards of real trees.

The workspace (in a temp dir) holds N small source files in several languages, plus symlink loops
(a link to the root, two links pointing at each other, a link to a parent), an unreadable directory,
a named pipe with a source extension, a file with a very long name, and a `.gitignore` of
backtracking-prone patterns (`**/**/**/*a*b*c*` and 200 variations). While the server indexes it,
the benchmark sends `workspace/symbol` and `textDocument/completion` requests and records their
latency; then it reports files/s, the server's peak RSS (VmHWM from /proc, and of its worker
processes), how many `$/progress` reports arrived, and writes JSON.

    python clients/bench/indexing_scale.py [--files 100000] [--json clients/bench/results/indexing_scale.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.lsp_client import LspClient  # noqa: E402

# Per language: file suffix and a template with one class/struct and one function.
_TEMPLATES = {
    ".py": "class Model{i}:\n    def save_{i}(self):\n        return {i}\n\n\n"
    "def helper_{i}(x):\n    return x + {i}\n",
    ".js": "class Widget{i} {{\n  render{i}() {{ return {i}; }}\n}}\n"
    "function make{i}(x) {{ return x + {i}; }}\n",
    ".go": "package p{d}\n\ntype Thing{i} struct{{ n int }}\n\nfunc Run{i}(x int) int {{ return x + {i} }}\n",
    ".rs": "pub struct Item{i} {{ n: i32 }}\n\npub fn build_{i}(x: i32) -> i32 {{ x + {i} }}\n",
}
PATHOLOGICAL_IGNORE = "**/**/**/*a*b*c*"


def pathological_gitignore(variants: int = 200, seed: int = 3) -> str:
    """Patterns whose regexes backtrack badly on long names, none of which matches generated files."""
    rng = random.Random(seed)
    lines = ["# generated: backtracking-prone patterns", PATHOLOGICAL_IGNORE, "*q*q*q*q*q*q*q*q*z"]
    for _ in range(variants):
        letters = rng.sample("jkqvwxz", 4)
        lines.append("**/**/**/*" + "*".join(letters) + "*" + letters[0] + "*")
    lines += ["build/", "*.log"]
    return "\n".join(lines) + "\n"


def generate_workspace(root: Path, files: int, per_dir: int = 100) -> dict[str, Any]:
    """Write the workspace; returns what was made (for the report and for tests)."""
    suffixes = list(_TEMPLATES)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        d = i // per_dir
        folder = root / f"pkg{d // 100:03d}" / f"mod{d:05d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        suffix = suffixes[i % len(suffixes)]
        (folder / f"file{i}{suffix}").write_text(_TEMPLATES[suffix].format(i=i, d=d))
    (root / ".gitignore").write_text(pathological_gitignore())
    # The name the ignore patterns struggle with most: long, full of the letters they look for.
    long_name = ("aq" * 60) + ".py"
    (root / long_name).write_text("def long_named():\n    return 1\n")
    hazards: dict[str, Any] = {"files": files + 1}
    loops = root / "loops"
    loops.mkdir()
    with contextlib.suppress(OSError):
        (loops / "to_root").symlink_to(root, target_is_directory=True)
        (loops / "to_parent").symlink_to("..", target_is_directory=True)
        (loops / "ping").symlink_to("pong")
        (loops / "pong").symlink_to("ping")
        hazards["symlinks"] = 4
    with contextlib.suppress(OSError, AttributeError):
        os.mkfifo(loops / "pipe.py")
        hazards["fifo"] = True
    private = root / "private"
    private.mkdir()
    (private / "secret_module.py").write_text("def hidden():\n    return 0\n")
    private.chmod(0)
    hazards["unreadable_dir_effective"] = not os.access(private, os.R_OK)  # root reads anything
    return hazards


def rmtree(root: Path) -> None:
    """Remove the workspace, unreadable folder included."""
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, name), 0o700)
    shutil.rmtree(root, ignore_errors=True)


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def child_pids(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(name))
    return out


async def _timed(client: LspClient, kind: str, method: str, params: Any, out: dict[str, list]) -> Any:
    """One request; its latency (ms) goes to out[kind], and (start s, kind, ms) to out["timeline"]."""
    started = time.perf_counter()
    result = await client.request(method, params, timeout=120)
    ms = (time.perf_counter() - started) * 1000
    out[kind].append(ms)
    out["timeline"].append((round(started - out["t0"][0], 2), kind, round(ms, 1)))
    return result


async def _probe_latency(client: LspClient, doc_uri: str, stop: asyncio.Event, out: dict[str, list]) -> None:
    """Alternate workspace/symbol and completion requests until `stop`; record each latency (ms)."""
    query = 0
    position = {"textDocument": {"uri": doc_uri}, "position": {"line": 1, "character": 11}}
    while not stop.is_set():
        await _timed(client, "symbol", "workspace/symbol", {"query": f"helper_{query}"}, out)
        await _timed(client, "completion", "textDocument/completion", position, out)
        query += 1
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def _sample_memory(pid: int, stop: asyncio.Event, peaks: dict[str, int]) -> None:
    """Peak RSS of the server's worker processes (the server's own peak is VmHWM at the end)."""
    while not stop.is_set():
        workers = 0
        for child in child_pids(pid):
            workers += proc_status_kb(child, "VmRSS") or 0
        peaks["workers_kb"] = max(peaks.get("workers_kb", 0), workers)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def run_server(root: Path, cache: Path, model: str | None, timeout: float) -> dict[str, Any]:
    """Index `root` through `python -m smallcode_lsp`; measure while it runs."""
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
    client = await LspClient.start(sys.executable, "-m", "smallcode_lsp", env=env, cwd=str(REPO))
    options: dict[str, Any] = {"completion": {"menuWaitMs": 300, "debounceMs": 0, "maxTokens": 8}}
    if model:
        options["model"] = {"path": model}
    capabilities = {"window": {"workDoneProgress": True}}
    await client.initialize(root, options, capabilities)
    started = time.perf_counter()
    client.notify("initialized", {})
    doc = root / "scratch.py"
    doc_uri = doc.resolve().as_uri()
    text = "def scratch(x):\n    return x\n"
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": doc_uri, "languageId": "python", "version": 1, "text": text}},
    )
    stop = asyncio.Event()
    latencies: dict[str, list] = {
        "symbol": [],
        "completion": [],
        "status": [],
        "timeline": [],
        "t0": [started],
    }
    peaks: dict[str, int] = {}
    probes = asyncio.gather(
        _probe_latency(client, doc_uri, stop, latencies), _sample_memory(client.process.pid, stop, peaks)
    )
    state: dict[str, Any] = {}
    try:
        while time.perf_counter() - started < timeout:
            command = {"command": "smallcode.status"}
            status = await _timed(client, "status", "workspace/executeCommand", command, latencies)
            state = status["index"]
            latencies["timeline"].append((round(time.perf_counter() - started, 2), "state", state["state"]))
            if state["state"] in ("ready", "error"):
                break
            await asyncio.sleep(0.25)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        await probes
    found = await client.request("workspace/symbol", {"query": "helper_99"}, timeout=60)
    hwm = proc_status_kb(client.process.pid, "VmHWM")
    progress = [p for m, p in client.notifications if m == "$/progress"]
    messages = [p.get("message") for m, p in client.notifications if m == "window/showMessage"]
    await client.stop()
    return {
        "state": state.get("state"),
        "files": state.get("files"),
        "chunks": state.get("chunks"),
        "seconds_to_ready": round(seconds, 2),
        "files_per_s": round((state.get("files") or 0) / seconds, 1) if seconds else None,
        "server_peak_rss_mb": round(hwm / 1024, 1) if hwm else None,
        "workers_peak_rss_mb": round(peaks.get("workers_kb", 0) / 1024, 1),
        "progress_notifications": len(progress),
        "progress_reports": sum(1 for p in progress if p.get("value", {}).get("kind") == "report"),
        "symbol_requests": len(latencies["symbol"]),
        "symbol_max_ms": round(max(latencies["symbol"], default=0), 1),
        "symbol_p50_ms": round(sorted(latencies["symbol"])[len(latencies["symbol"]) // 2], 1)
        if latencies["symbol"]
        else None,
        "completion_requests": len(latencies["completion"]),
        "completion_max_ms": round(max(latencies["completion"], default=0), 1),
        "status_max_ms": round(max(latencies["status"], default=0), 1),
        "slowest": sorted((e for e in latencies["timeline"] if e[1] != "state"), key=lambda e: -e[2])[:8],
        "phases": _phases(latencies["timeline"]),
        "found_helper_99": any(s.get("name") == "helper_99" for s in found or []),
        "messages": messages,
    }


def _phases(timeline: list[tuple]) -> list[tuple[float, str]]:
    """When the index state changed (seconds after `initialized`)."""
    changes: list[tuple[float, str]] = []
    for at, kind, value in timeline:
        if kind == "state" and (not changes or changes[-1][1] != value):
            changes.append((at, value))
    return changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--model", help="GGUF for the completion probe (default: the server's default)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--warm", action="store_true", help="also measure a restart on the same cache")
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--json", default=str(REPO / "clients/bench/results/indexing_scale.json"))
    args = parser.parse_args(argv)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="smallcode-scale-"))
    root, cache = base / "ws", base / "cache"
    try:
        started = time.perf_counter()
        hazards = generate_workspace(root, args.files)
        generated = time.perf_counter() - started
        print(f"generated {hazards['files']} files in {generated:.1f}s: {hazards}", flush=True)
        runs = {"cold": asyncio.run(run_server(root, cache, args.model, args.timeout))}
        if args.warm:
            runs["warm"] = asyncio.run(run_server(root, cache, args.model, args.timeout))
    finally:
        if not args.keep:
            rmtree(base)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "files": args.files,
        "hazards": hazards,
        "runs": runs,
    }
    for name, run in runs.items():
        print(
            f"{name}: {run['state']} {run['files']} files in {run['seconds_to_ready']} s "
            f"({run['files_per_s']} files/s); server peak RSS {run['server_peak_rss_mb']} MB, "
            f"workers {run['workers_peak_rss_mb']} MB; {run['progress_reports']} progress reports; "
            f"workspace/symbol during indexing: {run['symbol_requests']} requests, "
            f"p50 {run['symbol_p50_ms']} ms, max {run['symbol_max_ms']} ms; "
            f"completion: {run['completion_requests']} requests, max {run['completion_max_ms']} ms"
        )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
