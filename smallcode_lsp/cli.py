"""`smallcode`: the headless CLI. `smallcode complete FILE:LINE:COL` prints the ghost text the server
would show at that position, driving the same services (index, retrieval, engine, post-processing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from smallcode_lsp import __version__, config

_ROOT_MARKERS = (".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml", "pom.xml", "setup.py")


def find_workspace_root(path: Path) -> Path:
    """Nearest ancestor with a project marker, else the file's own directory."""
    start = path.parent.resolve()
    for parent in (start, *start.parents):
        if any((parent / marker).exists() for marker in _ROOT_MARKERS):
            return parent
    return start


def parse_location(spec: str) -> tuple[Path, int, int]:
    """`FILE:LINE:COL` with 1-based line and column, as compilers and editors print them."""
    try:
        file_part, line_part, col_part = spec.rsplit(":", 2)
        line, col = int(line_part), int(col_part)
    except ValueError:
        raise SystemExit(f"smallcode: expected FILE:LINE:COL (1-based), got {spec!r}") from None
    if line < 1 or col < 1:
        raise SystemExit("smallcode: LINE and COL are 1-based")
    return Path(file_part), line - 1, col - 1


def _settings(args: argparse.Namespace, root: Path) -> config.Settings:
    settings, problems = config.apply(config.Settings(), config.from_pyproject(root))
    overrides: dict[str, object] = {}
    for item in args.set or []:
        key, _, raw = item.partition("=")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    if args.model:
        overrides["model.path"] = args.model
    settings, more = config.apply(settings, overrides)
    for problem in problems + more:
        print(f"smallcode: warning: {problem}", file=sys.stderr)
    return settings


def complete(args: argparse.Namespace) -> int:
    from smallcode_lsp.completion.service import Completer, CompletionRequest
    from smallcode_lsp.context.sources import ContextSources
    from smallcode_lsp.engine.host import ModelHost
    from smallcode_lsp.index.workspace_index import WorkspaceIndex
    from smallcode_lsp.models import cache_dir

    path, line, column = parse_location(args.location)
    if not path.is_file():
        print(f"smallcode: no such file: {path}", file=sys.stderr)
        return 2
    text = path.read_text(encoding="utf-8", errors="replace")
    root = Path(args.root).resolve() if args.root else find_workspace_root(path)
    settings = _settings(args, root)
    index = sources = None
    if settings.context.retrieval and not args.no_index:
        index = WorkspaceIndex([root], settings.index, cache_dir() / "index")
        index.build()
        sources = ContextSources.for_index(index, [str(root)])
        sources.lexical.warm()
    host = ModelHost()
    host.load(settings.model)
    host.wait_loaded()
    if host.state != "ready":
        print(f"smallcode: {host.error}", file=sys.stderr)
        return 2
    request = CompletionRequest(str(path.resolve()), text, line, column)
    try:
        suggestion = host.run(lambda engine: Completer(engine, sources).complete(request, settings)).result()
    except ValueError as exc:
        print(f"smallcode: {exc}", file=sys.stderr)
        return 2
    finally:
        host.shutdown()
        if index is not None:
            index.close()
    if args.json:
        payload = {"text": suggestion.text if suggestion else ""}
        if suggestion:
            payload.update(
                replaceChars=suggestion.replace_chars,
                block=suggestion.block,
                promptTokens=suggestion.prompt_tokens,
                generatedTokens=len(suggestion.logprobs),
                meanLogprob=suggestion.mean_logprob,
                contextSnippets=suggestion.context_snippets,
                seconds=round(suggestion.seconds, 3),
            )
        print(json.dumps(payload, indent=2))
    else:
        print(suggestion.text if suggestion else "")
    return 0


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(prog="smallcode", description=__doc__)
    parser.add_argument("--version", action="version", version=f"smallcode {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("complete", help="print the suggestion for FILE:LINE:COL (1-based)")
    comp.add_argument("location", help="FILE:LINE:COL, 1-based")
    comp.add_argument("--model", help="GGUF file to use instead of the default model")
    comp.add_argument("--root", help="workspace root to index (default: nearest project root)")
    comp.add_argument(
        "--no-index", action="store_true", help="skip the workspace index (no cross-file context)"
    )
    comp.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a setting, e.g. completion.maxTokens=32"
    )
    comp.add_argument(
        "--json", action="store_true", help="print the suggestion with its measurements as JSON"
    )
    args = parser.parse_args(argv)
    sys.exit(complete(args))


if __name__ == "__main__":
    main()
