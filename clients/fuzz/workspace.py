"""The fuzzer's world: a small workspace, a file outside it, the tiny model, one cache per session.

Paths are fixed under one work directory so a replay file (which holds absolute URIs) runs again
against a freshly built copy of the same world.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER_SYMBOL = "fuzz_health_marker"
HEALTH_SOURCE = "import os\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return \n"
OUTSIDE_SECRET = "API_KEY = 'do-not-touch'\n\ndef leak():\n    return API_KEY\n"

FILES = {
    "marker.py": f'"""Never opened or edited by the fuzzer: the health check looks it up."""\n\n\n'
    f"def {MARKER_SYMBOL}():\n    return 42\n",
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef broken(x:\n    return x\n",
    "shapes.js": "class Shape {\n  area() { return 0; }\n}\n\nfunction makeShape() { return new Shape(); }\n",
    "pkg/__init__.py": "",
    "pkg/util.py": "class Helper:\n    def run(self, n):\n        return n * 2\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


@dataclass(frozen=True)
class World:
    """Where everything lives; URIs are what the generator puts in messages."""

    workdir: Path
    model: Path
    server_root: Path = REPO  # where `smallcode_lsp` is imported from (another checkout to compare)

    @property
    def root(self) -> Path:
        return self.workdir / "ws"

    @property
    def outside(self) -> Path:
        return self.workdir / "outside"

    @property
    def root_uri(self) -> str:
        return self.root.as_uri()

    @property
    def marker_uri(self) -> str:
        return (self.root / "marker.py").as_uri()

    @property
    def secret(self) -> Path:
        return self.outside / "secret.py"

    def cache_dir(self, session: int) -> Path:
        return self.workdir / "cache" / f"session-{session}"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "server-stderr.log"

    def server_env(self, session: int) -> dict[str, str]:
        env = {**os.environ, "SMALLCODE_CACHE_DIR": str(self.cache_dir(session))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.server_root), env.get("PYTHONPATH")]))
        return env

    @staticmethod
    def server_command() -> list[str]:
        return [sys.executable, "-m", "smallcode_lsp", "--log-level", "WARNING"]

    def secret_digest(self) -> str:
        return hashlib.sha256(self.secret.read_bytes()).hexdigest()


def build_world(workdir: Path, model: Path | None = None, server_root: Path = REPO) -> World:
    """(Re)create the workspace under `workdir`; write the tiny GGUF there unless `model` is given."""
    workdir = workdir.resolve()
    for name in ("ws", "outside", "cache"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    root = workdir / "ws"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    outside = workdir / "outside"
    outside.mkdir(parents=True)
    (outside / "secret.py").write_text(OUTSIDE_SECRET, encoding="utf-8")
    (root / "link.py").symlink_to(outside / "secret.py")  # inside by name, outside in fact
    if model is None:
        model = workdir / "model" / "tiny-coder.gguf"
        if not model.exists():
            sys.path.insert(0, str(REPO))
            from tests.tiny_gguf import write_tiny_gguf

            model.parent.mkdir(parents=True, exist_ok=True)
            write_tiny_gguf(model)
    return World(workdir, model.resolve(), server_root.resolve())
