"""Run the docstring examples of the function an inline answer lands in: the router's execution signal.

Log-probabilities say how sure the small model is, not whether it is right; a parser sees only
broken code. A function's own `>>>` examples are a test its author already wrote. On HumanEval's
holes (clients/bench/hybrid.py), a local answer whose function's examples failed was wrong three
times in four, and one whose examples passed was right far more often than its confidence said. So
when an endpoint is configured, the router runs them (in the sandbox, time-boxed, on the document
with the answer in place): failing examples send the request to the cloud, passing ones keep the
local answer however unsure the model was.

Only top-level functions and methods of top-level classes can be reached by name; a nested
function is checked through the enclosing one's examples. The module is imported under its own
name (never as `__main__`, so its `if __name__ == "__main__":` block does not run), with the
workspace roots and the file's folder importable read-only. Anything that stops the examples from
running at all (the module does not import in the sandbox, no examples with an expected value, a
timeout) means "not checked", never "failed".
"""

from __future__ import annotations

import ast
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from smallcode_lsp.agent.doc_examples import docstring_examples
from smallcode_lsp.agent.sandbox import Sandbox

MAX_SOURCE_CHARS = 200_000  # bigger modules are not run per keystroke
EXAMPLES_FAILED = 10  # the runner's exit status when an example fails (0: all passed)

_RUNNER = """\
import doctest, importlib.util, json, sys
config = json.loads(sys.argv[1])
sys.path[1:1] = config["paths"]
spec = importlib.util.spec_from_file_location(config["module"], config["file"])
module = importlib.util.module_from_spec(spec)
sys.modules[config["module"]] = module
try:
    spec.loader.exec_module(module)
    target = module
    for part in config["qualname"].split("."):
        target = getattr(target, part)
except BaseException as error:
    print("not checked: the module does not import here:", type(error).__name__)
    sys.exit(3)
finder = doctest.DocTestFinder(recurse=False)
flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
runner = doctest.DocTestRunner(verbose=False, optionflags=flags)
for test in finder.find(target, config["qualname"], module=False, globs=dict(vars(module))):
    runner.run(test, out=lambda text: None, clear_globs=True)
sys.exit(config["failed"] if runner.failures else 0)
"""


@dataclass(frozen=True)
class ExamplesOutcome:
    passed: bool | None  # None: not checked
    seconds: float
    qualname: str | None = None


def function_with_examples(code: str, line: int) -> str | None:
    """The qualified name of the function around 0-based `line` whose docstring has examples with an
    expected value, reachable by name from the module; None when there is none or the code does not
    parse (or is too big to run per keystroke)."""
    if len(code) > MAX_SOURCE_CHARS:
        return None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    for node, qualname in _reachable_functions(tree):
        if node.lineno - 1 <= line <= (node.end_lineno or node.lineno) - 1 and _has_examples(node):
            return qualname
    return None


def _reachable_functions(tree: ast.Module):
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions):
            yield node, node.name
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, functions):
                    yield member, f"{node.name}.{member.name}"


def _has_examples(node: ast.AST) -> bool:
    return any(example.want.strip() for example in docstring_examples(node) or ())


def run_examples(
    sandbox: Sandbox,
    path: str,
    code: str,
    line: int,
    roots: list[str],
    seconds: float,
    stop: threading.Event | None = None,
    qualname: str | None = None,
) -> ExamplesOutcome:
    """Whether the examples of the function around `line` pass with `code` as the module at `path`
    (a Python file), within `seconds` of wall time; `stop` ends the run early (a newer keystroke).
    `qualname`: that function's name when the caller has already found it (no second parse)."""
    qualname = qualname or function_with_examples(code, line)
    if qualname is None:
        return ExamplesOutcome(None, 0.0)
    module = Path(path).stem if Path(path).stem.isidentifier() else "subject"
    config = {
        "module": module,
        "file": f"{module}.py",
        "qualname": qualname,
        "failed": EXAMPLES_FAILED,
        "paths": [os.path.dirname(os.path.abspath(path)), *roots],
    }
    cancel = threading.Event()
    timer = threading.Timer(seconds, cancel.set)
    timer.daemon = True
    timer.start()
    watcher = None
    if stop is not None:
        watcher = threading.Thread(target=_forward, args=(stop, cancel), daemon=True)
        watcher.start()
    try:
        result = sandbox.run(
            ["{python}", "-B", "_smallcode_examples.py", json.dumps(config)],
            {f"{module}.py": code, "_smallcode_examples.py": _RUNNER},
            cancel=cancel,
        )
    finally:
        timer.cancel()
        cancel.set()  # ends the watcher
    if result.status == "passed":
        return ExamplesOutcome(True, result.seconds, qualname)
    if result.status == "failed" and result.returncode == EXAMPLES_FAILED:
        return ExamplesOutcome(False, result.seconds, qualname)
    return ExamplesOutcome(None, result.seconds, qualname)


def _forward(stop: threading.Event, cancel: threading.Event) -> None:
    while not cancel.is_set():
        if stop.wait(0.05):
            cancel.set()
            return
