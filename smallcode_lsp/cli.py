"""`smallcode`: the headless CLI, driving the same services as the server (no editor needed).

- `smallcode complete FILE:LINE:COL` prints the ghost text the server would show there;
- `smallcode fix FILE[:LINE]` fixes the problem at LINE (a syntax error or a linter finding, or the
  one given with --message/--test), verified in the sandbox; prints a diff, `--write` applies it;
- `smallcode tests FILE[::NAME]` writes verified pytest tests for a function, a class or a module.
`fix` and `tests` exit with 1 when nothing could be verified, for pre-commit hooks and CI.
"""

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


def _load_model(settings: config.Settings):
    from smallcode_lsp.engine.host import ModelHost

    host = ModelHost()
    host.load(settings.model)
    host.wait_loaded()
    if host.state != "ready":
        print(f"smallcode: {host.error}", file=sys.stderr)
        host.shutdown()
        return None
    return host


class _AgentSession:
    """What the fix and tests commands share: settings, the index, the agent service, and the model,
    loaded only when a command gets as far as needing it; `close` releases what was opened."""

    def __init__(self, args: argparse.Namespace, path: Path) -> None:
        from smallcode_lsp.agent.service import AgentService
        from smallcode_lsp.index.workspace_index import WorkspaceIndex
        from smallcode_lsp.models import cache_dir

        self.root = Path(args.root).resolve() if args.root else find_workspace_root(path)
        self.settings = _settings(args, self.root)
        self.index = None
        if not args.no_index:
            self.index = WorkspaceIndex([self.root], self.settings.index, cache_dir() / "index")
            self.index.build()
        self.service = AgentService([self.root], self.index, self.settings.agent, self.settings.index)
        self.verbose = args.verbose
        self.host = None

    def generate(self):
        """The model-turn callable for the agent loops, or None (after saying why) if the model failed."""
        self.host = _load_model(self.settings)
        return _chat(self.host, self.settings, self.verbose) if self.host is not None else None

    def close(self) -> None:
        if self.host is not None:
            self.host.shutdown()
        if self.index is not None:
            self.index.close()


def _read_source(path: Path) -> str | None:
    if not path.is_file():
        print(f"smallcode: no such file: {path}", file=sys.stderr)
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def _chat(host, settings: config.Settings, verbose: bool):
    from smallcode_lsp.agent.fix import decoding_for

    def generate(messages, cancel, attempt):
        temperature, seed = decoding_for(attempt)
        generation = host.run(
            lambda engine: engine.chat(
                messages,
                max_tokens=settings.agent.max_tokens,
                cancel=cancel,
                temperature=temperature,
                seed=seed,
            )
        ).result()
        if verbose:
            print(
                f"--- model answer ({len(generation.token_ids)} tokens)\n{generation.text}\n---",
                file=sys.stderr,
            )
        return generation.text

    return generate


def _diff(old: str, new: str, name: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(lines)


def _split_file_line(spec: str) -> tuple[Path, int | None]:
    file_part, _, line_part = spec.rpartition(":")
    if file_part and line_part.isdigit():
        return Path(file_part), int(line_part) - 1
    return Path(spec), None


def fix(args: argparse.Namespace) -> int:
    from smallcode_lsp.agent.checks import Problem
    from smallcode_lsp.agent.service import FixRequest
    from smallcode_lsp.agent.target import syntax_problems
    from smallcode_lsp.index.languages import language_for_path

    path, line = _split_file_line(args.location)
    text = _read_source(path)
    if text is None:
        return 2
    session = _AgentSession(args, path)
    try:
        if args.message:
            problem = Problem(args.message, line or 0, args.source, None, args.test)
        else:
            spec = language_for_path(path)
            found = (
                [Problem(p.message, p.line, "smallcode") for p in syntax_problems(text, spec)] if spec else []
            )
            if not found and path.suffix == ".py":
                found = session.service.checker().lint_problems(path.name, text)
            if not found:
                print(f"smallcode: no problem found in {path}; give one with --message", file=sys.stderr)
                return 0
            problem = min(found, key=lambda p: abs(p.line - line)) if line is not None else found[0]
        print(f"smallcode: fixing line {problem.line + 1}: {problem.message}", file=sys.stderr)
        generate = session.generate()
        if generate is None:
            return 2
        request = FixRequest(str(path.resolve()), text, problem)
        result = session.service.fix(request, generate, progress=_progress(args))
    finally:
        session.close()
    if result.document is None or not (result.verified or session.settings.agent.offer_unverified):
        print(
            f"smallcode: no verified fix after {len(result.attempts)} attempt(s): {result.error}",
            file=sys.stderr,
        )
        return 1
    print(_diff(text, result.document, str(path)), end="")
    print(f"smallcode: {result.title}", file=sys.stderr)
    if args.write:
        path.write_text(result.document, encoding="utf-8")
    return 0 if result.verified else 1


def tests(args: argparse.Namespace) -> int:
    spec, _, name = args.location.partition("::")
    path, line = _split_file_line(spec)
    text = _read_source(path)
    if text is None:
        return 2
    session = _AgentSession(args, path)
    try:
        generate = session.generate()
        if generate is None:
            return 2
        result = session.service.generate_tests(
            str(path.resolve()), text, generate, line=line, name=name or None, progress=_progress(args)
        )
    except ValueError as exc:
        print(f"smallcode: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()
    for function, test, failure in result.possible_bugs:
        print(
            f"smallcode: possible bug in {function} (or a wrong test): {test} fails:\n{failure}",
            file=sys.stderr,
        )
    print(f"smallcode: {result.summary}", file=sys.stderr)
    if result.test_text is None:
        return 1
    target = session.root / result.test_path
    old = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else ""
    print(_diff(old, result.test_text, result.test_path), end="")
    if args.write:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result.test_text, encoding="utf-8")
    return 0


def _progress(args: argparse.Namespace):
    if not args.verbose:
        return None
    return lambda message: print(f"smallcode: {message}", file=sys.stderr)


def _agent_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--model", help="GGUF file to use instead of the default model")
    command.add_argument("--root", help="workspace root (default: nearest project root)")
    command.add_argument("--no-index", action="store_true", help="skip the workspace index (no definitions)")
    command.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a setting, e.g. agent.maxAttempts=2"
    )
    command.add_argument("--write", action="store_true", help="apply the change instead of only printing it")
    command.add_argument(
        "-v", "--verbose", action="store_true", help="print progress and the model's answers"
    )


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
    fix_command = sub.add_parser("fix", help="fix the problem at FILE[:LINE], verified in the sandbox")
    fix_command.add_argument("location", help="FILE or FILE:LINE (1-based)")
    fix_command.add_argument("--message", help="the problem to fix, e.g. a failing test's error")
    fix_command.add_argument("--source", default="cli", help="where --message comes from (e.g. pytest, mypy)")
    fix_command.add_argument(
        "--test", help="pytest node id to re-run as the check, e.g. tests/test_x.py::test_y"
    )
    _agent_arguments(fix_command)
    tests_command = sub.add_parser("tests", help="write verified pytest tests for FILE[::NAME] or FILE:LINE")
    tests_command.add_argument("location", help="FILE (every public function), FILE::NAME, or FILE:LINE")
    _agent_arguments(tests_command)
    args = parser.parse_args(argv)
    handlers = {"complete": complete, "fix": fix, "tests": tests}
    sys.exit(handlers[args.command](args))


if __name__ == "__main__":
    main()
