"""The JavaScript/TypeScript test runner a workspace already uses, to re-run a failing test in the sandbox.

Only a runner the project declares in `package.json` and has installed in `node_modules/.bin` is used
(never one fetched on the fly: the sandbox has no network). The sandbox gets the sources as copies and
`node_modules` as a read-only link to the workspace's own.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

# Runner name -> arguments that run one file, and the flag that selects tests by name.
_RUNNERS: dict[str, tuple[tuple[str, ...], str]] = {
    "vitest": (("run",), "-t"),
    "jest": (("--ci",), "-t"),
    "mocha": ((), "--grep"),
}
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
JS_CONFIG_NAMES = (
    "package.json",
    "tsconfig.json",
    "babel.config.js",
    ".babelrc",
    ".mocharc.json",
    ".mocharc.yml",
)


@dataclass(frozen=True)
class JsRunner:
    name: str
    root: Path

    def command(self, test_id: str) -> list[str]:
        """`path/to/file.test.js` or `path/to/file.test.js::name` -> the argv that runs it."""
        path, _, name = test_id.partition("::")
        fixed, select = _RUNNERS[self.name]
        argv = [f"node_modules/.bin/{self.name}", *fixed, path]
        return argv + [select, name] if name else argv


def detect_js_runner(root: Path) -> JsRunner | None:
    """The declared and installed runner of the workspace at `root`, when node is on PATH."""
    if shutil.which("node") is None:
        return None
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    declared: set[str] = set()
    for field in ("dependencies", "devDependencies"):
        section = manifest.get(field)
        if isinstance(section, dict):
            declared |= set(section)
    for name in _RUNNERS:
        if name in declared and (root / "node_modules" / ".bin" / name).exists():
            return JsRunner(name, root)
    return None


def is_js_test_id(test_id: str) -> bool:
    return test_id.partition("::")[0].endswith(JS_SUFFIXES)
