"""Verification of a rewritten file: what can be re-run is re-run, and the title says what that was.

Checks, cheapest first, stopping at the first failure (its output goes back to the model):
- syntax, with tree-sitter, for every indexed language: the rewritten code has no error nodes and the
  file has no more of them than before;
- Python: `py_compile` of the file, then a linter (ruff, else pyflakes) for problems the rewrite
  introduced, and that a linter's own diagnostic is gone;
- JavaScript: `node --check`, when node is on PATH;
- the failing test, when the diagnostic came from one, re-run with pytest on a copy of the workspace.
Everything but the syntax check runs in the sandbox.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from smallcode_lsp.agent.js_runner import JsRunner, is_js_test_id
from smallcode_lsp.agent.sandbox import RunResult, Sandbox
from smallcode_lsp.agent.target import syntax_problems
from smallcode_lsp.index.languages import LanguageSpec

_LINT_LOCATION = re.compile(r"^[^:\n]*:\d+:\d+:\s*")
_LINT_FINDING = re.compile(r"^[^:]*:(\d+):\d+:\s*(?:([A-Z]+\d+)\s+)?(?:\[\*\]\s+)?(.*)$")
# Linter command per interpreter: finding it may take a sandbox run, and it does not change.
_LINTERS: dict[str, list[str] | None] = {}


def linter_command(sandbox: Sandbox) -> list[str] | None:
    """The command that lints one file for real errors: ruff next to the interpreter or on PATH,
    else pyflakes if the interpreter has it, else None."""
    if sandbox.python not in _LINTERS:
        ruff = shutil.which("ruff", path=os.path.dirname(sandbox.python)) or shutil.which("ruff")
        if ruff:
            command: list[str] | None = [
                ruff, "check", "--isolated", "--no-cache", "--select", "F,E9", "--output-format", "concise"
            ]  # fmt: skip
        else:
            probe = sandbox.run(["{python}", "-c", "import pyflakes"], {})
            command = ["{python}", "-m", "pyflakes"] if probe.passed else None
        _LINTERS[sandbox.python] = command
    return _LINTERS[sandbox.python]


_LINTER_SOURCES = ("ruff", "pyflakes", "flake8", "pylint")
_JS_EXTENSIONS = (".js", ".mjs", ".cjs")


@dataclass(frozen=True)
class Problem:
    """A diagnostic to fix, from the editor (any source) or the server's own syntax check."""

    message: str
    line: int  # 0-based, in the document
    source: str | None = None
    code: str | None = None
    test_id: str | None = None  # a pytest node id when a failing test reported it

    @property
    def from_linter(self) -> bool:
        return (self.source or "").lower() in _LINTER_SOURCES


@dataclass(frozen=True)
class Outcome:
    passed: bool
    done: tuple[str, ...]  # the checks that ran and passed, in order
    error: str = ""  # the first failure, as the model should read it


class Checker:
    """Runs the checks for one language on a rewritten document."""

    def __init__(
        self,
        sandbox: Sandbox,
        workspace_files: Callable[[], Mapping[str, str]] | None = None,
        js_runner: JsRunner | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.workspace_files = workspace_files
        self.js_runner = js_runner

    @property
    def linter(self) -> list[str] | None:
        return linter_command(self.sandbox)

    def lint_problems(self, relative_path: str, text: str) -> list[Problem]:
        """The linter's findings on `text` as problems to fix (none when no linter runs here)."""
        if self.linter is None:
            return []
        result = self._run([*self.linter, relative_path], {relative_path: text}, None)
        source = os.path.basename(self.linter[0])
        problems = []
        for line in result.output.splitlines():
            found = _LINT_FINDING.match(line)
            if found:
                number, code, message = found.groups()
                problems.append(Problem(message, int(number) - 1, source, code))
        return problems

    def verify(
        self,
        relative_path: str,
        original: str,
        rewritten: str,
        spec: LanguageSpec | None,
        problem: Problem,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        done: list[str] = []
        if spec is not None:
            before = syntax_problems(original, spec)
            after = syntax_problems(rewritten, spec)
            if len(after) > len(before) or (after and problem.source == "smallcode"):
                first = after[0]
                return Outcome(False, (), f"line {first.line + 1}: {first.message}")
            done.append("syntax")
            clean = not after
        else:
            clean = True
        if spec is not None and spec.name == "python" and clean:
            result = self._run(
                ["{python}", "-m", "py_compile", relative_path], {relative_path: rewritten}, cancel
            )
            if not result.passed:
                return Outcome(False, tuple(done), _tail(result))
            done.append("py_compile")
            lint = self._lint(relative_path, original, rewritten, problem, cancel)
            if lint is not None:
                if lint:
                    return Outcome(False, tuple(done), lint)
                done.append(os.path.basename(self.linter[0]) if self.linter else "lint")
        if relative_path.endswith(_JS_EXTENSIONS) and shutil.which("node"):
            result = self._run(["node", "--check", relative_path], {relative_path: rewritten}, cancel)
            if not result.passed:
                return Outcome(False, tuple(done), _tail(result))
            done.append("node --check")
        if problem.test_id and self.workspace_files is not None:
            result = self.run_test(relative_path, rewritten, problem.test_id, cancel)
            if not result.passed:
                return Outcome(False, tuple(done), _tail(result))
            done.append(f"re-running {problem.test_id.split('::')[-1]}")
        return Outcome(True, tuple(done))

    def run_test(
        self, relative_path: str, document: str, test_id: str, cancel: threading.Event | None = None
    ) -> RunResult:
        """Run one pytest node on a copy of the workspace holding `document` at `relative_path`."""
        files = dict(self.workspace_files()) if self.workspace_files is not None else {}
        files[relative_path] = document
        if is_js_test_id(test_id):
            if self.js_runner is None:
                return RunResult(
                    "error", None, 0.0, "no JavaScript test runner is installed in this workspace"
                )
            links = {"node_modules": str(self.js_runner.root / "node_modules")}
            return self.sandbox.run(self.js_runner.command(test_id), files, cancel=cancel, links=links)
        command = ["{python}", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", test_id]
        return self._run(command, files, cancel)

    def failure_of(self, relative_path: str, document: str, test_id: str) -> str:
        """What the failing test prints now, for the model to read before its first attempt."""
        result = self.run_test(relative_path, document, test_id)
        return "" if result.passed else _tail(result)

    def _lint(
        self,
        relative_path: str,
        original: str,
        rewritten: str,
        problem: Problem,
        cancel: threading.Event | None,
    ) -> str | None:
        """None when no linter runs here, "" when clean, else the new findings."""
        if self.linter is None:
            return None
        command = [*self.linter, relative_path]
        old = _findings(self._run(command, {relative_path: original}, cancel))
        new = _findings(self._run(command, {relative_path: rewritten}, cancel))
        introduced = [line for key, line in new.items() if key not in old]
        if introduced:
            return "the rewrite introduced: " + "; ".join(introduced[:5])
        if problem.from_linter and problem.code and any(problem.code in key for key in new):
            return f"{problem.code} is still reported: {problem.message}"
        return ""

    def _run(self, argv: list[str], files: Mapping[str, str], cancel: threading.Event | None) -> RunResult:
        return self.sandbox.run(argv, files, cancel=cancel)


def _findings(result: RunResult) -> dict[str, str]:
    """Linter messages keyed without their line and column, which a rewrite shifts."""
    out: dict[str, str] = {}
    for line in result.output.splitlines():
        if _LINT_LOCATION.match(line):
            out[_LINT_LOCATION.sub("", line).strip()] = line.strip()
    return out


def _tail(result: RunResult, lines: int = 25) -> str:
    if result.status == "timeout":
        return "the check timed out (an infinite loop or a very slow test?)"
    text = result.output.strip().splitlines()
    return "\n".join(text[-lines:]) or f"the check failed ({result.status}, exit code {result.returncode})"
