"""Benchmark the workspace symbol index with the services the server uses.

Measures a cold build (empty cache), a warm restart (new index on the same cache), single-character
edits of a ~2,000-line file through ParsedDocument.apply_change + WorkspaceIndex.update_document,
and peak RSS. Targets: cold >= 500 files/s, warm >= 10x faster than cold, edit p50 <= 10 ms.

    python clients/bench/index.py [--root DIR] [--json clients/bench/results/index.json]
"""

from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="workspace to index (default: Django)")
    parser.add_argument("--json", type=Path, default=REPO / "clients" / "bench" / "results" / "index.json")
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="parse processes (default: one per CPU)")
    args = parser.parse_args(argv)
    root = (args.root or default_root()).resolve()
    settings = IndexSettings()

    with tempfile.TemporaryDirectory(prefix="smallcode-bench-") as tmp:
        cache = Path(tmp) / "cache"
        cold_index = WorkspaceIndex([root], settings, cache, workers=args.workers)
        cold = cold_index.build()
        cold_index.close()

        warm_index = WorkspaceIndex([root], settings, cache, workers=args.workers)
        warm = warm_index.build()

        path, text, generated = pick_big_file(warm_index)
        if generated:
            gen_root = Path(tmp) / "gen"
            gen_root.mkdir()
            path = str(gen_root / "generated_module.py")
            Path(path).write_text(text, encoding="utf-8")
            edit_index = WorkspaceIndex([gen_root], settings, None, workers=1)
            edit_index.build()
        else:
            edit_index = warm_index
        timings = bench_edits(edit_index, path, text, args.edits)
        if edit_index is not warm_index:
            edit_index.close()
        warm_index.close()

    result = {
        "root": str(root),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "files": cold.files,
        "chunks": cold.chunks,
        "cold_seconds": round(cold.seconds, 4),
        "cold_files_per_second": round(cold.files / cold.seconds, 1) if cold.seconds else None,
        "warm_seconds": round(warm.seconds, 4),
        "warm_reused_files": warm.reused_files,
        "warm_parsed_files": warm.parsed_files,
        "warm_speedup": round(cold.seconds / warm.seconds, 1) if warm.seconds else None,
        "edit_file": path,
        "edit_file_lines": text.count("\n"),
        "edit_file_generated": generated,
        "edits": len(timings),
        "edit_ms_p50": round(statistics.median(timings), 3),
        "edit_ms_p95": round(percentile(timings, 0.95), 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    rows = [
        ("root", result["root"]),
        ("files", result["files"]),
        ("chunks", result["chunks"]),
        ("cold build", f"{result['cold_seconds']:.3f} s  ({result['cold_files_per_second']} files/s)"),
        (
            "warm restart",
            f"{result['warm_seconds']:.3f} s  (reused {warm.reused_files}, parsed {warm.parsed_files})",
        ),
        ("warm/cold speedup", f"{result['warm_speedup']}x"),
        (
            f"edit {result['edit_file_lines']}-line file",
            f"p50 {result['edit_ms_p50']:.2f} ms  p95 {result['edit_ms_p95']:.2f} ms  ({len(timings)} edits)",
        ),
        ("peak RSS", f"{result['peak_rss_mb']} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
