"""Which paths of a workspace root are ignored: .gitignore files (root and nested), .git/info/exclude,
the user's `index.exclude` globs and directories that are never source (VCS, venvs, caches).

Rules are loaded lazily per directory and cached by the .gitignore's mtime, so the walk and the
file watcher (`is_ignored` on a single path) share one implementation and see edited ignore files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import pathspec

# Directory names that never hold workspace source worth indexing.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".jj",
        "node_modules",
        "bower_components",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".eggs",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".cache",
        ".idea",
        ".gradle",
        ".next",
        ".nuxt",
        ".svelte-kit",
        ".terraform",
        "site-packages",
    }
)

_Spec = pathspec.GitIgnoreSpec


def _read_spec(path: str) -> _Spec | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return _Spec.from_lines(lines) if lines else None


class IgnoreRules:
    """Ignore decisions for paths under one root, given as '/'-separated paths relative to it."""

    def __init__(self, root: Path, exclude: Iterable[str] = ()) -> None:
        self.root = os.path.abspath(root)
        patterns = [p for p in exclude if p.strip()]
        self._exclude = _Spec.from_lines(patterns) if patterns else None
        self._lock = threading.Lock()
        # directory (relative, "" for root) -> (gitignore mtime_ns or None, spec or None)
        self._specs: dict[str, tuple[int | None, _Spec | None]] = {}
        self._seen_gitignore = False  # sticky: once any .gitignore had patterns, always match
        self._info_exclude = _read_spec(os.path.join(self.root, ".git", "info", "exclude"))

    def _spec_for(self, rel_dir: str, revalidate: bool = True) -> _Spec | None:
        """The .gitignore spec of one directory (re-read when the file's mtime changes)."""
        if not revalidate:
            cached = self._specs.get(rel_dir)
            if cached is not None:
                return cached[1]
        path = (
            os.path.join(self.root, rel_dir, ".gitignore")
            if rel_dir
            else os.path.join(self.root, ".gitignore")
        )
        try:
            mtime: int | None = os.stat(path).st_mtime_ns
        except OSError:
            mtime = None
        with self._lock:
            cached = self._specs.get(rel_dir)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        spec = _read_spec(path) if mtime is not None else None
        with self._lock:
            self._seen_gitignore = self._seen_gitignore or spec is not None
            self._specs[rel_dir] = (mtime, spec)
        return spec

    def load_dir(self, rel_dir: str, has_gitignore: bool = True) -> None:
        """(Re)load one directory's .gitignore; the walk calls this once per directory entered.

        The walk already listed the directory, so it says whether there is a .gitignore to read.
        """
        if has_gitignore:
            self._spec_for(rel_dir)
        else:
            with self._lock:
                self._specs[rel_dir] = (None, None)

    @property
    def has_rules(self) -> bool:
        """Whether any ignore pattern is known yet (lets the walk skip matching entirely)."""
        return self._exclude is not None or self._info_exclude is not None or self._seen_gitignore

    def is_ignored_entry(self, rel: str, is_dir: bool, revalidate: bool = True) -> bool:
        """Decide one entry assuming its parent directories are not ignored (the walk's case).

        `revalidate=False` trusts already-loaded .gitignore files (no stat per ancestor per file).
        """
        name = rel.rsplit("/", 1)[-1]
        if is_dir and (name in SKIP_DIRS or (revalidate and self._is_venv(rel))):
            return True
        probe = rel + "/" if is_dir else rel
        if self._exclude is not None and self._exclude.match_file(probe):
            return True
        decision: bool | None = None
        if self._info_exclude is not None:
            decision = self._info_exclude.check_file(probe).include
        # Deeper .gitignore files override shallower ones; patterns are relative to their folder.
        parts = rel.split("/")
        for depth in range(len(parts)):
            rel_dir = "/".join(parts[:depth])
            spec = self._spec_for(rel_dir, revalidate)
            if spec is None:
                continue
            sub = probe[len(rel_dir) + 1 :] if rel_dir else probe
            result = spec.check_file(sub).include
            if result is not None:
                decision = result
        return bool(decision)

    def _is_venv(self, rel_dir: str) -> bool:
        return os.path.isfile(os.path.join(self.root, rel_dir, "pyvenv.cfg"))

    def is_ignored(self, rel: str, is_dir: bool = False) -> bool:
        """Decide any path: ignored itself or below an ignored directory."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if self.is_ignored_entry("/".join(parts[:depth]), True):
                return True
        return self.is_ignored_entry(rel, is_dir)
