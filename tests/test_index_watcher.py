"""The watchdog-based watcher picks up files created, modified, moved and deleted outside the editor."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index.watcher import IndexWatcher
from smallcode_lsp.index.workspace_index import WorkspaceIndex


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def names(index: WorkspaceIndex) -> set[str]:
    return {c.name for c in index.all_chunks()}


# watchdog warns when it re-adds an inotify watch for a directory moved back in; harmless.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_watcher_tracks_outside_changes(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def first():\n    pass\n")
    index = WorkspaceIndex([root], IndexSettings(), tmp_path / "cache", workers=1)
    index.build()
    changed: list[str] = []
    watcher = IndexWatcher(index, on_change=changed.append)
    watcher.start()
    try:
        created = root / "pkg" / "b.py"
        created.write_text("class Created:\n    pass\n")
        assert wait_for(lambda: "Created" in names(index))
        assert wait_for(lambda: str(created) in changed)

        (root / "pkg" / "a.py").write_text("def renamed():\n    pass\n")
        assert wait_for(lambda: "renamed" in names(index) and "first" not in names(index))

        created.rename(root / "pkg" / "c.py")
        assert wait_for(
            lambda: [c.path for c in index.definitions("Created")] == [str(root / "pkg" / "c.py")]
        )

        (root / "pkg" / "c.py").unlink()
        assert wait_for(lambda: "Created" not in names(index))

        # Ignored and unsupported files never reach the index.
        (root / "node_modules").mkdir()
        (root / "node_modules" / "dep.js").write_text("function dep() {}\n")
        (root / "notes.txt").write_text("def not_code(): pass\n")
        (root / "later.py").write_text("def later():\n    pass\n")
        assert wait_for(lambda: "later" in names(index))
        assert "dep" not in names(index) and "not_code" not in names(index)

        # A whole directory moved away and back.
        shutil.move(str(root / "pkg"), str(tmp_path / "elsewhere"))
        assert wait_for(lambda: "renamed" not in names(index))
        shutil.move(str(tmp_path / "elsewhere"), str(root / "pkg2"))
        assert wait_for(
            lambda: [c.path for c in index.definitions("renamed")] == [str(root / "pkg2" / "a.py")]
        )
    finally:
        watcher.stop()
        index.close()


def test_watcher_coalesces_bursts(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    index = WorkspaceIndex([root], IndexSettings(), None, workers=1)
    index.build()
    changed: list[str] = []
    watcher = IndexWatcher(index, on_change=changed.append)
    watcher.start()
    try:
        target = root / "burst.py"
        for i in range(20):
            target.write_text(f"def v{i}():\n    pass\n")
        assert wait_for(lambda: "v19" in names(index))
        time.sleep(0.3)
        assert names(index) == {"v19"}
        assert changed.count(str(target)) < 10
    finally:
        watcher.stop()
        index.close()
