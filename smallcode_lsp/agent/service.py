"""The agent services as the server and the CLI use them: no editor or protocol knowledge here.

It owns the sandbox (one per session, probed once) and assembles what a fix needs from the workspace:
the definitions the code uses and, for re-running a test, a copy of the project's Python files.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from smallcode_lsp.agent.checks import Checker, Problem
from smallcode_lsp.agent.fix import Fixer, FixResult, Generate
from smallcode_lsp.agent.js_runner import JS_CONFIG_NAMES, JS_SUFFIXES, detect_js_runner
from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits
from smallcode_lsp.agent.target import find_target
from smallcode_lsp.agent.tests import (
    SubjectResult,
    TestAuthor,
    conventional_test_path,
    merge_into,
    subjects_at,
    test_module,
)
from smallcode_lsp.config import AgentSettings, IndexSettings
from smallcode_lsp.context.retrieve import identifiers_near_cursor
from smallcode_lsp.context.skeleton import flush_left, snippet_text
from smallcode_lsp.index.chunker import Chunk
from smallcode_lsp.index.files import is_secret_path, iter_source_files
from smallcode_lsp.index.languages import language_for_path
from smallcode_lsp.index.workspace_index import WorkspaceIndex

MAX_DEFINITIONS = 8
MAX_DEFINITION_LINES = 12
MAX_COPY_BYTES = 32 << 20
MAX_COPY_FILES = 5000
# Files pytest reads for its configuration and fixtures, besides the sources themselves.
_TEST_CONFIG = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")


@dataclass
class GeneratedTests:
    """Every sub-task's outcome plus the test file to write (None when no test was kept)."""

    subjects: list[SubjectResult]
    test_path: str  # relative to the workspace root
    test_text: str | None
    existed: bool

    @property
    def kept(self) -> int:
        return sum(len(s.kept) for s in self.subjects)

    @property
    def dropped(self) -> int:
        return sum(len(s.dropped) for s in self.subjects)

    @property
    def possible_bugs(self) -> list[tuple[str, str, str]]:
        """(function, test name, failure) for tests that fail on an assertion: maybe a real bug."""
        return [(s.subject.name, c.name, c.message) for s in self.subjects for c in s.possible_bugs]

    @property
    def summary(self) -> str:
        text = f"{self.kept} test(s) kept, {self.dropped} dropped"
        if self.possible_bugs:
            text += f", {len(self.possible_bugs)} possible bug(s) found"
        return text


@dataclass(frozen=True)
class FixRequest:
    path: str
    document: str
    problem: Problem
    test_output: str = ""


class AgentService:
    def __init__(
        self,
        roots: Sequence[Path],
        index: WorkspaceIndex | None,
        settings: AgentSettings,
        index_settings: IndexSettings | None = None,
    ) -> None:
        self.roots = [Path(r) for r in roots]
        self.index = index
        self.settings = settings
        self.index_settings = index_settings or IndexSettings()
        limits = SandboxLimits(wall_seconds=float(settings.timeout_seconds))
        self.sandbox = Sandbox(limits, python=self.project_python(), hidden=self._secret_files())
        self.js_runner = next((r for r in map(detect_js_runner, self.roots) if r is not None), None)
        # Probe the OS's isolation now, off the request path, so status can report it.
        threading.Thread(
            target=lambda: self.sandbox.isolation, name="smallcode-sandbox-probe", daemon=True
        ).start()

    def project_python(self) -> str:
        """The interpreter that runs the project's code: `agent.python`, else a virtual environment in
        a workspace root, else the one running the server."""
        if self.settings.python:
            return os.path.expanduser(self.settings.python)
        for root in self.roots:
            for folder in (".venv", "venv", "env"):
                for candidate in (root / folder / "bin" / "python", root / folder / "Scripts" / "python.exe"):
                    if candidate.is_file():
                        return str(candidate)
        return sys.executable

    def _secret_files(self) -> list[str]:
        """`.env` files and keys at the top of each root: never readable from the sandbox."""
        out = []
        for root in self.roots:
            try:
                names = os.listdir(root)
            except OSError:
                continue
            out += [str(root / name) for name in names if is_secret_path(name)]
        return out

    def relative_path(self, path: str) -> str:
        for root in self.roots:
            try:
                return str(Path(path).resolve().relative_to(root.resolve()))
            except ValueError:
                continue
        return os.path.basename(path)

    def inside_workspace(self, path: str) -> bool:
        """Whether `path` is under a workspace root (always true without roots: single-file mode)."""
        if not self.roots:
            return True
        resolved = Path(path).resolve()
        return any(resolved == r.resolve() or r.resolve() in resolved.parents for r in self.roots)

    def definitions(self, path: str, code: str) -> str:
        """Signatures of workspace definitions that `code` names, from the index (not `path`'s own
        definitions that the code already shows)."""
        parts: list[str] = []
        for chunk in self._named_definitions(path, code):
            text = snippet_text(flush_left(chunk.text, chunk.start_col), chunk.path, MAX_DEFINITION_LINES)
            parts.append(text.rstrip())
            if len(parts) >= MAX_DEFINITIONS:
                break
        return "\n\n".join(parts)

    def fix_scope(self, request: FixRequest) -> int:
        """How many other files define what the code to fix uses: the router's scope signal."""
        spec = language_for_path(request.path)
        target = find_target(request.document, spec, request.path, request.problem.line)
        files = {chunk.path for chunk in self._named_definitions(request.path, target.text)}
        files.discard(request.path)
        return len(files)

    def _named_definitions(self, path: str, code: str) -> Iterator[Chunk]:
        """Index definitions (at most two per name) of the names in `code`, each once, without the
        ones `code` itself shows."""
        if self.index is None:
            return
        seen: set[tuple[str, int]] = set()
        for name in identifiers_near_cursor(code, "", max_chars=len(code)):
            for chunk in self.index.definitions(name)[:2]:
                key = (chunk.path, chunk.start_line)
                if key in seen or (chunk.path == path and chunk.text in code):
                    continue
                seen.add(key)
                yield chunk

    def checker(self) -> Checker:
        """Checks for one request: the workspace is copied from disk at most once per request, the
        first time a test needs it, and every attempt of the request runs on that snapshot."""
        return Checker(self.sandbox, functools.lru_cache(maxsize=1)(self.workspace_files), self.js_runner)

    def workspace_files(self) -> dict[str, str]:
        """The project's sources and test configuration, for re-running a test on a copy: Python, and
        JavaScript/TypeScript too when the workspace has a test runner for them."""
        suffixes = {".py", ".toml", ".cfg", ".ini"}
        configs = list(_TEST_CONFIG)
        if self.js_runner is not None:
            suffixes |= {*JS_SUFFIXES, ".json"}
            configs += JS_CONFIG_NAMES
        files: dict[str, str] = {}
        total = 0
        for root in self.roots:
            candidates = list(iter_source_files(root, self.index_settings))
            candidates += [root / name for name in configs if (root / name).is_file()]
            for path in candidates:
                if path.suffix not in suffixes or is_secret_path(str(path)):
                    continue
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                total += len(text)
                if total > MAX_COPY_BYTES or len(files) >= MAX_COPY_FILES:
                    return files
                files[str(path.relative_to(root))] = text
        return files

    def fix(
        self,
        request: FixRequest,
        generate: Generate,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
        extra_attempts: int = 0,
    ) -> FixResult:
        """`extra_attempts` turns follow the configured ones (the server's cloud escalation)."""
        spec = language_for_path(request.path)
        target = find_target(request.document, spec, request.path, request.problem.line)
        checker = self.checker()
        fixer = Fixer(generate, checker, self.settings.max_attempts + extra_attempts)
        relative = self.relative_path(request.path)
        test_output = request.test_output
        if not test_output and request.problem.test_id:
            # An editor's test diagnostic is often one line; the failing assertion's values help more.
            if progress:
                progress("running the failing test")
            test_output = checker.failure_of(relative, request.document, request.problem.test_id)
        return fixer.fix(
            request.document,
            request.path,
            relative,
            spec,
            request.problem,
            definitions=self.definitions(request.path, target.text),
            test_output=test_output,
            cancel=cancel,
            progress=progress,
        )

    def root_of(self, path: str) -> Path | None:
        resolved = Path(path).resolve()
        for root in self.roots:
            if resolved == root.resolve() or root.resolve() in resolved.parents:
                return root
        return None

    def generate_tests(
        self,
        path: str,
        document: str,
        generate: Generate,
        *,
        line: int | None = None,
        name: str | None = None,
        cancel: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
        extra_attempts: int = 0,
    ) -> GeneratedTests:
        """Tests for the function at `line` (or named `name`); raises ValueError when there is none.
        `extra_attempts` turns per function follow the configured ones (the server's cloud escalation)."""
        relative = self.relative_path(path).replace(os.sep, "/")
        subjects = subjects_at(document, relative, line, name)
        if not subjects:
            raise ValueError(f"no public function to test in {relative}")
        root = self.root_of(path)
        python_path = ["src"] if root is not None and (root / "src").is_dir() else []

        workspace = functools.lru_cache(maxsize=1)(self.workspace_files)  # read once per request

        def files() -> dict[str, str]:
            copy = dict(workspace())
            copy[relative] = document  # the buffer as the user sees it, saved or not
            return copy

        attempts = self.settings.max_attempts + extra_attempts
        writer = TestAuthor(generate, self.sandbox, files, attempts, python_path)
        results = []
        for subject in subjects:
            if cancel is not None and cancel.is_set():
                break
            definitions = self.definitions(path, subject.code)
            results.append(writer.write_for(subject, relative, definitions, cancel, progress))
        test_path = conventional_test_path(relative)
        existing_file = (root / test_path) if root is not None else None
        existing = None
        if existing_file is not None and existing_file.is_file():
            existing = existing_file.read_text(encoding="utf-8", errors="replace")
        kept = [case for result in results for case in result.kept]
        imports = [line for result in results if result.kept for line in result.imports]
        text = merge_into(existing, imports, kept) if kept else None
        if text is not None and existing is not None:
            # The tests passed in a module of their own; in the user's file, a fixture or a name there
            # could change that. Run the merged file once; if it does not even run, use a new file.
            outcomes, _ = writer.run_module(test_path, text, cancel)
            ours_failing = [c for c in kept if outcomes.get(c.name, ("error", ""))[0] != "passed"]
            if not outcomes or ours_failing:
                test_path = test_path.replace(".py", "_smallcode.py")
                text, existing = test_module(imports, kept), None
        return GeneratedTests(results, test_path, text, existing is not None)
