"""Processes as Linux's /proc shows them: whether one still runs, and what runs below it.

The server's exit (kill everything it started), the editor watch (is the editor gone?) and the
sandbox (which processes hold a run's deleted files, is a crashed server's run orphaned?) all ask
these questions. Where there is no /proc the answers degrade gracefully: `kill(pid, 0)` alone for
liveness, no descendants.
"""

from __future__ import annotations

import contextlib
import os


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent to reap it counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) said it exists
    return state not in (b"Z", b"X")


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    return children


def descendants(pid: int | None = None) -> list[int]:
    """Every process below `pid` (default: this one), parents before their children; empty where
    there is no /proc."""
    tree = children_by_parent()
    found: list[int] = []
    stack = [os.getpid() if pid is None else pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
