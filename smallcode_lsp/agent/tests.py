""" "Generate tests": write pytest tests for a function, run them on the current code, keep what passes.

One sub-task per function (a class or a module is decomposed into its public functions), so a small
model only ever has one function in view. Each sub-task: generate tests, run them in the sandbox
against a copy of the workspace, send the failures back for repair, and sort the result:
- tests that pass are kept;
- tests that still fail on an assertion may have found a bug: they are reported, never written and
  never silently dropped;
- tests that cannot run (import errors, typos, wrong API) are dropped.
The docstring's own `>>>` examples, when it has some, become a test of their own (doc_examples.py):
never sent back for repair, since the documentation, not the model, wrote their expected values.
"""

from __future__ import annotations

import ast
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from smallcode_lsp.agent.doc_examples import example_test
from smallcode_lsp.agent.fix import Generate
from smallcode_lsp.agent.sandbox import Sandbox
from smallcode_lsp.engine.chat import ChatMessage, first_code_block

REPORT = ".smallcode-report.xml"
SYSTEM = (
    "You are an expert Python programmer who writes small, precise pytest tests. "
    "You answer with code only, in one fenced code block."
)
_FAILURE_LINES = 12


@dataclass(frozen=True)
class Subject:
    """One function to test, and how a test module imports it."""

    name: str  # function name, or Class.method
    code: str
    import_line: str  # e.g. `from pkg.shapes import area`


@dataclass
class GeneratedTest:
    name: str
    code: str
    outcome: str = "unrun"  # passed | failed (assertion) | error (could not run)
    message: str = ""
    attempt: int = 0  # the model turn that wrote it (0: not the model, e.g. docstring examples)


@dataclass
class SubjectResult:
    subject: Subject
    imports: list[str] = field(default_factory=list)
    kept: list[GeneratedTest] = field(default_factory=list)
    possible_bugs: list[GeneratedTest] = field(default_factory=list)
    dropped: list[GeneratedTest] = field(default_factory=list)
    attempts: int = 0
    error: str = ""


def module_name(relative_path: str) -> str:
    """`pkg/shapes.py` -> `pkg.shapes` (a `src/` layout's `src.` prefix is dropped)."""
    parts = list(PurePosixPath(relative_path.replace("\\", "/")).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def subjects_at(
    document: str, relative_path: str, line: int | None, name: str | None = None
) -> list[Subject]:
    """The functions to test: the one at `line` (or named `name`), every public method of a class
    there, or every public function of the module when the line is in none of them."""
    try:
        tree = ast.parse(document)
    except SyntaxError as exc:
        raise ValueError(
            f"{relative_path} does not parse ({exc.msg} at line {exc.lineno}); fix it first"
        ) from exc
    module = module_name(relative_path)
    lines = document.split("\n")

    def code_of(node: ast.AST) -> str:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "\n".join(lines[start - 1 : node.end_lineno])

    def public_methods(cls: ast.ClassDef) -> list[Subject]:
        return [
            Subject(f"{cls.name}.{item.name}", code_of(cls), f"from {module} import {cls.name}")
            for item in cls.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_")
        ]

    functions = (ast.FunctionDef, ast.AsyncFunctionDef)

    def subject(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Subject:
        return Subject(node.name, code_of(node), f"from {module} import {node.name}")

    for node in tree.body:
        if not isinstance(node, (*functions, ast.ClassDef)):
            continue
        if name is not None:
            if node.name != name.split(".", 1)[0]:
                continue
            if isinstance(node, functions):
                return [subject(node)]
            methods = public_methods(node)
            chosen = [s for s in methods if s.name == name] if "." in name else methods
            if not chosen:
                raise ValueError(f"no public method {name!r} in {relative_path}")
            return chosen
        if line is None or not node.lineno - 1 <= line <= (node.end_lineno or node.lineno) - 1:
            continue
        if isinstance(node, functions):
            return [subject(node)]
        for item in node.body:
            inside = isinstance(item, functions) and item.lineno - 1 <= line <= (item.end_lineno or 0) - 1
            if inside and not item.name.startswith("_"):
                return [
                    Subject(f"{node.name}.{item.name}", code_of(node), f"from {module} import {node.name}")
                ]
        return public_methods(node)
    if name is not None:
        raise ValueError(f"no function or class named {name!r} in {relative_path}")
    return [
        subject(node) for node in tree.body if isinstance(node, functions) and not node.name.startswith("_")
    ]


def tests_prompt(subject: Subject, relative_path: str, definitions: str = "") -> list[ChatMessage]:
    parts = [f"File: {relative_path}"]
    if definitions.strip():
        parts.append(f"Definitions it uses:\n```python\n{definitions.rstrip()}\n```")
    parts.append(f"The code under test:\n```python\n{subject.code}\n```")
    parts.append(
        f"Write 3 to 5 pytest test functions for `{subject.name}`. Start with `{subject.import_line}`. "
        "Each test checks one behaviour with exact expected values that follow from the code above. "
        "Answer with one python code block holding only imports and `def test_...` functions."
    )
    return [ChatMessage("system", SYSTEM), ChatMessage("user", "\n\n".join(parts))]


def split_tests(code: str) -> tuple[list[str], list[GeneratedTest]]:
    """(import lines, test functions) of a generated module; anything else is dropped. An answer cut
    short (out of tokens) keeps what parses: its lines up to the last complete statement."""
    tree = _parse_longest_prefix(code)
    if tree is None:
        return [], []
    lines = code.split("\n")
    imports: list[str] = []
    tests: list[GeneratedTest] = []
    for node in tree.body:
        text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(text)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            tests.append(GeneratedTest(node.name, "\n".join(lines[start - 1 : node.end_lineno])))
    return imports, tests


def _parse_longest_prefix(code: str) -> ast.Module | None:
    lines = code.split("\n")
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def test_module(imports: Sequence[str], tests: Sequence[GeneratedTest]) -> str:
    body = "\n\n\n".join(t.code for t in tests)
    return "\n".join(dict.fromkeys(imports)) + "\n\n\n" + body + "\n"


def read_report(xml: str) -> dict[str, tuple[str, str]]:
    """{test name: (passed|failed|error, message)} from a JUnit XML report."""
    results: dict[str, tuple[str, str]] = {}
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return results
    for case in root.iter("testcase"):
        name = case.get("name", "").split("[", 1)[0]
        failure, error = case.find("failure"), case.find("error")
        if failure is not None:
            detail = failure.text or failure.get("message", "")
            kind = "failed" if "AssertionError" in detail or detail.lstrip().startswith("assert") else "error"
            results[name] = (kind, _short(detail))
        elif error is not None:
            results[name] = ("error", _short(error.text or error.get("message", "")))
        elif case.find("skipped") is not None:
            results[name] = ("error", "skipped")
        else:
            results[name] = ("passed", "")
    return results


def _short(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-_FAILURE_LINES:])


class TestAuthor:
    """Runs the generate -> run -> repair loop for each subject."""

    def __init__(
        self,
        generate: Generate,
        sandbox: Sandbox,
        workspace_files: Callable[[], Mapping[str, str]],
        max_attempts: int = 2,
        python_path: Sequence[str] = (),
    ) -> None:
        self.generate = generate
        self.sandbox = sandbox
        self.workspace_files = workspace_files
        self.max_attempts = max(1, max_attempts)
        self.python_path = list(python_path)

    def run_tests(
        self, imports: Sequence[str], tests: Sequence[GeneratedTest], cancel: threading.Event | None
    ) -> tuple[dict[str, tuple[str, str]], str]:
        """Run `tests` on a copy of the workspace; per-test outcomes plus the raw output."""
        return self.run_module("test_smallcode_candidate.py", test_module(imports, tests), cancel)

    def run_module(
        self, module: str, text: str, cancel: threading.Event | None = None
    ) -> tuple[dict[str, tuple[str, str]], str]:
        """Run the test file `text` placed at `module` in a copy of the workspace."""
        files = dict(self.workspace_files())
        files[module] = text
        command = ["{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={REPORT}", module]
        if self.python_path:
            command[4:4] = ["-o", "pythonpath=" + " ".join(self.python_path)]
        result = self.sandbox.run(command, files, read_back=[REPORT], cancel=cancel)
        return read_report(result.files.get(REPORT, "")), result.output

    def write_for(
        self,
        subject: Subject,
        relative_path: str,
        definitions: str = "",
        cancel: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> SubjectResult:
        outcome = SubjectResult(subject)
        messages = tests_prompt(subject, relative_path, definitions)
        pending: list[GeneratedTest] = []
        documented = example_test(subject.code, subject.name)
        if documented is not None:
            self._check_examples(outcome, GeneratedTest(documented[0], documented[1]), documented[2], cancel)
        for number in range(1, self.max_attempts + 1):
            if cancel is not None and cancel.is_set():
                break
            outcome.attempts = number
            if progress:
                progress(f"{subject.name}: writing tests (attempt {number})")
            answer = self.generate(messages, cancel, number)
            imports, candidates = split_tests(first_code_block(answer) or "")
            if not candidates:
                outcome.error = "the model's answer held no test functions"
                messages = [*messages, ChatMessage("assistant", answer), _retry(outcome.error)]
                continue
            if not any(subject.import_line in line or _imports_subject(line, subject) for line in imports):
                imports.insert(0, subject.import_line)
            candidates = [c for c in candidates if c.name not in {k.name for k in outcome.kept}]
            for case in candidates:
                case.attempt = number
            outcome.imports = list(dict.fromkeys(outcome.imports + imports))
            if progress:
                progress(f"{subject.name}: running {len(candidates)} tests")
            results, output = self.run_tests(outcome.imports, outcome.kept + candidates, cancel)
            if not results:
                outcome.error = "the tests did not run: " + _short(output)
                messages = [*messages, ChatMessage("assistant", answer), _retry(outcome.error)]
                continue
            pending = []
            for case in candidates:
                case.outcome, case.message = results.get(case.name, ("error", "not collected"))
                if case.outcome == "passed":
                    outcome.kept.append(case)
                else:
                    pending.append(case)
            if not pending:
                break
            report = "\n\n".join(f"{c.name}: {c.message}" for c in pending)
            messages = [
                *messages,
                ChatMessage("assistant", answer),
                ChatMessage(
                    "user",
                    "These tests fail on the current code:\n```\n"
                    + report[-2500:]
                    + "\n```\nRewrite only the failing tests so that their expected values follow from the "
                    "code. Answer with one python code block.",
                ),
            ]
        for case in pending:
            (outcome.possible_bugs if case.outcome == "failed" else outcome.dropped).append(case)
        outcome.kept = _unique_names(outcome.kept)
        return outcome

    def _check_examples(
        self,
        outcome: SubjectResult,
        examples: GeneratedTest,
        imports: list[str],
        cancel: threading.Event | None,
    ) -> None:
        """Run the docstring-examples test on its own, before the model writes anything: kept when it
        passes, a possible bug when it fails, and never sent to the model for repair."""
        imports = [outcome.subject.import_line, *imports]
        results, _ = self.run_tests(imports, [examples], cancel)
        examples.outcome, examples.message = results.get(examples.name, ("error", "not collected"))
        if examples.outcome == "passed":
            outcome.kept.append(examples)
            outcome.imports = list(dict.fromkeys(outcome.imports + imports))
        elif examples.outcome == "failed":
            examples.message = "the docstring's own example disagrees with the code:\n" + examples.message
            outcome.possible_bugs.append(examples)
        else:
            outcome.dropped.append(examples)


def _imports_subject(line: str, subject: Subject) -> bool:
    top = subject.name.split(".", 1)[0]
    return re.search(rf"\bimport\b.*\b{re.escape(top)}\b", line) is not None


def _retry(error: str) -> ChatMessage:
    return ChatMessage("user", f"{error}. Answer with one python code block of pytest test functions.")


def _unique_names(tests: list[GeneratedTest]) -> list[GeneratedTest]:
    seen: set[str] = set()
    out = []
    for case in tests:
        if case.name not in seen:
            seen.add(case.name)
            out.append(case)
    return out


# ----------------------------------------------------------------- writing the file


def conventional_test_path(relative_path: str) -> str:
    """The conventional home of a module's tests: `tests/test_<module>.py`."""
    return f"tests/test_{PurePosixPath(relative_path.replace(chr(92), '/')).stem}.py"


def merge_into(existing: str | None, imports: Sequence[str], tests: Sequence[GeneratedTest]) -> str:
    """The test file's new text: imports it lacks go after its last import, tests at the end, with
    names made unique against the tests already there."""
    if not existing or not existing.strip():
        return test_module(imports, tests)
    try:
        tree = ast.parse(existing)
    except SyntaxError:
        tree = None
    present_imports = {line.strip() for line in existing.splitlines()}
    names = (
        {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if tree
        else set()
    )
    lines = existing.rstrip("\n").split("\n")
    last_import = 0
    if tree is not None:
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                last_import = node.end_lineno or node.lineno
    new_imports = [i for i in dict.fromkeys(imports) if i.strip() not in present_imports]
    lines[last_import:last_import] = new_imports
    bodies = []
    for case in tests:
        name, code = case.name, case.code
        number = 2
        while name in names:
            name = f"{case.name}_{number}"
            number += 1
        if name != case.name:
            code = re.sub(rf"\bdef {re.escape(case.name)}\b", f"def {name}", code, count=1)
        names.add(name)
        bodies.append(code)
    return "\n".join(lines) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"
