"""Re-running a JavaScript test in the sandbox with the runner the workspace declares and installed.

No real mocha can be installed offline, so `node_modules/.bin/mocha` here is a twenty-line stand-in
that keeps mocha's contract (global `it`, the test file as argument, `--grep`, exit 1 on failure).
What is tested is ours: detection, the copy of the sources, the read-only `node_modules` link, the
command line, and the verdict.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from smallcode_lsp.agent.checks import Checker, Problem
from smallcode_lsp.agent.js_runner import detect_js_runner, is_js_test_id
from smallcode_lsp.agent.service import AgentService, FixRequest
from smallcode_lsp.config import AgentSettings

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")

RUNNER = """#!/usr/bin/env node
const path = require("path");
const tests = [];
global.it = (name, fn) => tests.push([name, fn]);
global.describe = (name, fn) => fn();
const args = process.argv.slice(2);
const grep = args.includes("--grep") ? args[args.indexOf("--grep") + 1] : null;
const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--grep");
for (const file of files) require(path.resolve(file));
let failed = 0;
for (const [name, fn] of tests) {
  if (grep && !name.includes(grep)) continue;
  try { fn(); console.log("ok", name); } catch (e) { failed++; console.log("not ok", name, "-", e.message); }
}
process.exit(failed ? 1 : 0);
"""


@pytest.fixture
def js_project(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "node_modules" / ".bin").mkdir(parents=True)
    (root / "node_modules" / "assertish").mkdir()
    (root / "node_modules" / "assertish" / "index.js").write_text(
        "module.exports = (a, b) => { if (a !== b) throw new Error(`expected ${b}, got ${a}`); };\n"
    )
    runner = root / "node_modules" / ".bin" / "mocha"
    runner.write_text(RUNNER)
    runner.chmod(0o755)
    (root / "package.json").write_text(json.dumps({"name": "web", "devDependencies": {"mocha": "^10"}}))
    (root / "sum.js").write_text("function sum(a, b) {\n  return a - b;\n}\nmodule.exports = { sum };\n")
    (root / "sum.test.js").write_text(
        "const same = require('assertish');\nconst { sum } = require('./sum');\n"
        "it('adds', () => same(sum(2, 3), 5));\n"
    )
    return root


def block(code: str) -> str:
    return f"```javascript\n{code}```"


def test_the_declared_installed_runner_is_found(js_project: Path, tmp_path: Path) -> None:
    runner = detect_js_runner(js_project)
    assert runner is not None and runner.name == "mocha"
    assert runner.command("sum.test.js::adds") == ["node_modules/.bin/mocha", "sum.test.js", "--grep", "adds"]
    assert is_js_test_id("src/a.test.ts::x") and not is_js_test_id("tests/test_a.py::x")
    os.remove(js_project / "node_modules" / ".bin" / "mocha")
    assert detect_js_runner(js_project) is None  # declared but not installed
    assert detect_js_runner(tmp_path) is None  # no package.json


def test_a_failing_javascript_test_is_rerun_to_verify_the_fix(js_project: Path) -> None:
    service = AgentService([js_project], None, AgentSettings(max_attempts=2, timeout_seconds=30))
    problem = Problem("adds failed", line=1, source="mocha", test_id="sum.test.js::adds")
    request = FixRequest(str(js_project / "sum.js"), (js_project / "sum.js").read_text(), problem)
    answers = [
        block("function sum(a, b) {\n  return a * b;\n}\n"),
        block("function sum(a, b) {\n  return a + b;\n}\n"),
    ]
    seen = []

    def script(messages, cancel, attempt):
        seen.append(list(messages))
        return answers.pop(0)

    result = service.fix(request, script)
    assert result.verified, result.error
    assert result.title == "Fix: verified by re-running adds"
    assert "expected 5, got -1" in seen[0][-1].content  # the failing run, before the first attempt
    assert "expected 5, got 6" in seen[1][-1].content  # a * b failed the re-run
    assert (js_project / "sum.js").read_text().count("a - b") == 1  # the user's file is untouched


def test_a_javascript_test_without_a_runner_is_an_error(tmp_path: Path) -> None:
    checker = Checker(AgentService([tmp_path], None, AgentSettings()).sandbox)
    result = checker.run_test("sum.js", "x", "sum.test.js::adds")
    assert result.status == "error" and "no JavaScript test runner" in result.output
