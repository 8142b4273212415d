"""Benchmark the workspace symbol index with the services the server uses.

In process: a cold build (empty cache), a warm restart (new index on the same cache), single-character
edits of a ~2,000-line file through ParsedDocument.apply_change + WorkspaceIndex.update_document,
and peak RSS. Via the server, as an editor drives it (`python -m smallcode_lsp` over stdio, fresh
SMALLCODE_CACHE_DIR): time from `initialized` until `smallcode.status` reports the index ready, cold
and then warm (a restart on the same cache), then didChange + documentSymbol round trips on the same
file. Targets: cold >= 500 files/s, warm >= 10x faster than cold, edit p50 <= 10 ms.

    python clients/bench/index.py [--root DIR] [--json clients/bench/results/index.json] [--no-server]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.lsp_client import LspClient  # noqa: E402
from smallcode_lsp.config import IndexSettings  # noqa: E402
from smallcode_lsp.index.documents import ParsedDocument  # noqa: E402
from smallcode_lsp.index.languages import language_for_path  # noqa: E402
from smallcode_lsp.index.workspace_index import WorkspaceIndex  # noqa: E402

TARGET_LINES = 2000


def default_root() -> Path:
    try:
        import django
    except ImportError:
        import smallcode_lsp

        return Path(smallcode_lsp.__file__).parent
    return Path(django.__file__).parent


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / (1024 * 1024)


def generated_module(lines: int) -> str:
    """A plausible Python module of about `lines` lines (used when the root has no big file)."""
    out = ['"""Generated benchmark module."""', "", "import os", "", "LIMIT = 10", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"class Service{i}:",
            f'    """Service number {i}."""',
            "",
            "    def __init__(self, name):",
            "        self.name = name",
            "        self.items = []",
            "",
            f"    def handle_{i}(self, request):",
            "        total = 0",
            "        for item in self.items:",
            "            total += len(item)",
            "        return total + len(request)",
            "",
            "",
            f"def helper_{i}(value):",
            "    return os.path.join(str(value), 'x')",
            "",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def pick_big_file(index: WorkspaceIndex) -> tuple[str, str, bool]:
    """The Python file closest to TARGET_LINES lines (>= 1,500), else a generated one."""
    best: tuple[int, str] | None = None
    for path in {c.path for c in index.all_chunks()}:
        if not path.endswith(".py"):
            continue
        try:
            n = Path(path).read_text(encoding="utf-8").count("\n")
        except (OSError, UnicodeDecodeError):
            continue
        if n >= 1500 and (best is None or abs(n - TARGET_LINES) < abs(best[0] - TARGET_LINES)):
            best = (n, path)
    if best is not None:
        return best[1], Path(best[1]).read_text(encoding="utf-8"), False
    return "", generated_module(TARGET_LINES), True


def bench_edits(index: WorkspaceIndex, path: str, text: str, edits: int) -> list[float]:
    spec = language_for_path(path)
    doc = ParsedDocument(path, text, spec)
    index.update_document(doc)
    rng = random.Random(1)
    lines = text.split("\n")
    timings: list[float] = []
    for i in range(edits):
        line = rng.randrange(len(lines) - 1)
        col = len(doc.text.split("\n")[line]) if i % 2 else 0
        started = time.perf_counter()
        doc.apply_change(line, col, line, col, "#" if i % 2 == 0 else " ")
        index.update_document(doc)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ----------------------------------------------------------------- via the server, over stdio

SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]
POLL_SECONDS = 0.05


async def server_status(client: LspClient) -> dict[str, Any]:
    return await client.request("workspace/executeCommand", {"command": "smallcode.status", "arguments": []})


async def wait_index_ready(client: LspClient, timeout: float = 300.0) -> dict[str, Any]:
    """Poll `smallcode.status` every 50 ms until the index is ready; fail loudly on an index error."""
    deadline = time.perf_counter() + timeout
    while True:
        status = await server_status(client)
        state = status["index"]["state"]
        if state == "ready":
            return status
        if state == "error" or time.perf_counter() > deadline:
            raise RuntimeError(f"index not ready ({state}): {status['index'].get('error')}")
        await asyncio.sleep(POLL_SECONDS)


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


async def server_edits(client: LspClient, path: str, text: str, edits: int) -> list[float]:
    """didOpen, then single-character didChange + documentSymbol round trips (ms), as in `bench_edits`."""
    uri = Path(path).as_uri()
    document = {"uri": uri}
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    await client.request("textDocument/documentSymbol", {"textDocument": document})
    rng = random.Random(1)
    lines = text.split("\n")
    timings: list[float] = []
    for i in range(edits):
        line = rng.randrange(len(lines) - 1)
        col = _utf16_len(lines[line]) if i % 2 else 0
        char = "#" if i % 2 == 0 else " "
        lines[line] = lines[line] + char if i % 2 else char + lines[line]
        position = {"line": line, "character": col}
        change = {"range": {"start": position, "end": position}, "text": char}
        started = time.perf_counter()
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [change]},
        )
        await client.request("textDocument/documentSymbol", {"textDocument": document})
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def server_session(root: Path, cache: Path, edit: tuple[str, str, int] | None) -> dict[str, Any]:
    """Start the server on `cache`, time `initialized` -> index ready, optionally edit, shut down."""
    env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
    client = await LspClient.start(*SERVER_COMMAND, env=env, cwd=str(REPO))
    try:
        await client.initialize(root)
        started = time.perf_counter()
        client.notify("initialized", {})
        status = await wait_index_ready(client)
        session: dict[str, Any] = {
            "ready_seconds": round(time.perf_counter() - started, 4),
            "last_build": status["index"]["lastBuild"],
            "model_state": status["model"].get("state"),
        }
        if edit is not None:
            session["edit_ms"] = await server_edits(client, *edit)
        return session
    finally:
        await client.stop()


async def bench_server(root: Path, cache: Path, edit: tuple[str, str, int]) -> dict[str, Any]:
    """Cold start on an empty cache, then a warm restart on the same cache (which also runs the edits)."""
    cold = await server_session(root, cache, None)
    warm = await server_session(root, cache, edit)
    timings = warm.pop("edit_ms")
    return {
        "cold": cold,
        "warm": warm,
        "warm_speedup": round(cold["ready_seconds"] / warm["ready_seconds"], 1),
        "warm_build_speedup": round(cold["last_build"]["seconds"] / warm["last_build"]["seconds"], 1)
        if warm["last_build"]["seconds"]
        else None,
        "edits": len(timings),
        "edit_ms_p50": round(statistics.median(timings), 3) if timings else None,
        "edit_ms_p95": round(percentile(timings, 0.95), 3) if timings else None,
    }


def bench_in_process(root: Path, tmp: Path, edits: int, workers: int | None) -> dict[str, Any]:
    """Cold build, warm restart and edits through the index services directly (no LSP)."""
    settings = IndexSettings()
    cache = tmp / "cache"
    cold_index = WorkspaceIndex([root], settings, cache, workers=workers)
    cold = cold_index.build()
    cold_index.close()

    warm_index = WorkspaceIndex([root], settings, cache, workers=workers)
    warm = warm_index.build()

    path, text, generated = pick_big_file(warm_index)
    if generated:
        gen_root = tmp / "gen"
        gen_root.mkdir()
        path = str(gen_root / "generated_module.py")
        Path(path).write_text(text, encoding="utf-8")
        edit_index = WorkspaceIndex([gen_root], settings, None, workers=1)
        edit_index.build()
    else:
        edit_index = warm_index
    timings = bench_edits(edit_index, path, text, edits)
    if edit_index is not warm_index:
        edit_index.close()
    warm_index.close()
    return {
        "files": cold.files,
        "chunks": cold.chunks,
        "cold_seconds": round(cold.seconds, 4),
        "cold_files_per_second": round(cold.files / cold.seconds, 1) if cold.seconds else None,
        "warm_seconds": round(warm.seconds, 4),
        "warm_reused_files": warm.reused_files,
        "warm_parsed_files": warm.parsed_files,
        "warm_speedup": round(cold.seconds / warm.seconds, 1) if warm.seconds else None,
        "edit_file": path,
        "edit_file_text": text,
        "edit_file_lines": text.count("\n"),
        "edit_file_generated": generated,
        "edits": len(timings),
        "edit_ms_p50": round(statistics.median(timings), 3),
        "edit_ms_p95": round(percentile(timings, 0.95), 3),
    }


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, in-process, via server) rows; the server column is blank when it was skipped."""
    server = result.get("server") or {}
    cold, warm = server.get("cold"), server.get("warm")

    def build(session: dict[str, Any] | None) -> str:
        if not session:
            return ""
        b = session["last_build"]
        return (
            f"{session['ready_seconds']:.3f} s to ready (build {b['seconds']:.3f} s, "
            f"parsed {b['parsedFiles']}, reused {b['reusedFiles']})"
        )

    server_edit = (
        f"p50 {server['edit_ms_p50']:.2f} ms  p95 {server['edit_ms_p95']:.2f} ms  ({server['edits']} edits)"
        if server.get("edits")
        else ""
    )
    speedup = f"{server['warm_speedup']}x (build {server['warm_build_speedup']}x)" if server else ""
    return [
        ("", "in-process", "via server (stdio)" if server else ""),
        ("files", str(result["files"]), str(cold["last_build"]["files"]) if cold else ""),
        ("chunks", str(result["chunks"]), str(cold["last_build"]["chunks"]) if cold else ""),
        (
            "cold build",
            f"{result['cold_seconds']:.3f} s  ({result['cold_files_per_second']} files/s)",
            build(cold),
        ),
        (
            "warm restart",
            f"{result['warm_seconds']:.3f} s  (reused {result['warm_reused_files']}, "
            f"parsed {result['warm_parsed_files']})",
            build(warm),
        ),
        ("warm/cold speedup", f"{result['warm_speedup']}x", speedup),
        (
            f"edit {result['edit_file_lines']}-line file",
            f"p50 {result['edit_ms_p50']:.2f} ms  p95 {result['edit_ms_p95']:.2f} ms  "
            f"({result['edits']} edits)",
            server_edit,
        ),
        ("peak RSS (this process)", f"{result['peak_rss_mb']} MB", ""),
    ]


def print_table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for key, local, server in rows:
        print(f"{key:<{widths[0]}}  {local:<{widths[1]}}  {server}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="workspace to index (default: Django)")
    parser.add_argument("--json", type=Path, default=REPO / "clients" / "bench" / "results" / "index.json")
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--server-edits", type=int, default=30, help="didChange+documentSymbol round trips")
    parser.add_argument("--no-server", action="store_true", help="skip the section that drives the server")
    parser.add_argument("--workers", type=int, default=None, help="parse processes (default: one per CPU)")
    args = parser.parse_args(argv)
    root = (args.root or default_root()).resolve()

    with tempfile.TemporaryDirectory(prefix="smallcode-bench-") as tmp:
        local = bench_in_process(root, Path(tmp), args.edits, args.workers)
        text = local.pop("edit_file_text")
        server = None
        if not args.no_server:
            edit = (local["edit_file"], text, args.server_edits)
            server = asyncio.run(bench_server(root, Path(tmp) / "server-cache", edit))

    result = {
        "root": str(root),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **local,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "server": server,
    }
    print(f"root  {root}")
    print_table(table_rows(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
