"""The sandbox's disk budget: how much a run has written, counted while it runs.

A walk of the run's temp dir sees what it wrote, but not a file it deleted while still holding it
open, and not a folder it made unreadable; the free space of the file system sees both but also
everyone else's writes. The budget counts the walk, adds the deleted-but-open files of the run's
processes (from /proc, a few times a second), and trusts the drop in free space only where the walk
was incomplete or the drop alone already exceeds the budget.
"""

from __future__ import annotations

import os
import stat
import time

from smallcode_lsp.process_tree import descendants

# How often the deleted-but-open files are counted (a /proc scan), unless the free space of the temp
# dir's file system drops by more than the budget first.
OPEN_FILES_CHECK_S = 0.25
MIN_ENTRY_BYTES = 4096  # each file or folder costs at least a block, empty or not


class DiskBudget:
    def __init__(self, workdir: str, limit: int, pid: int) -> None:
        self.workdir = workdir
        self.limit = limit
        self.pid = pid
        self.free_at_start = free_bytes(workdir)
        self.next_open_files_check = time.perf_counter() + OPEN_FILES_CHECK_S

    def exceeded(self, now: float) -> bool:
        """Whether the run has used more than `limit` bytes; `now` is a perf_counter reading."""
        used, complete = tree_bytes(self.workdir, self.limit)
        dropped = self.free_at_start - free_bytes(self.workdir)
        if used <= self.limit and (dropped > self.limit or now >= self.next_open_files_check):
            used += deleted_open_bytes(self.pid)
            self.next_open_files_check = now + OPEN_FILES_CHECK_S
        if not complete:  # a folder hidden from the count: trust the free space instead
            used = max(used, dropped)
        return used > self.limit


def tree_bytes(root: str, budget: int) -> tuple[int, bool]:
    """Disk used under `root`, links not followed, each entry at least a block, and whether every
    folder could be read; stops counting once past `budget`. A folder the code made unreadable is
    not opened up while it runs: it could swap the folder for a link by then."""
    total, complete = 0, True
    folders = [root]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except FileNotFoundError:
            continue
        except OSError:
            complete = False
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(info.st_blocks * 512, MIN_ENTRY_BYTES)
            if total > budget:
                return total, complete
            if stat.S_ISDIR(info.st_mode):
                folders.append(entry.path)
    return total, complete


def free_bytes(path: str) -> int:
    try:
        info = os.statvfs(path)
    except OSError:
        return 0
    return info.f_bavail * info.f_frsize


def deleted_open_bytes(root: int) -> int:
    """Disk held by files the run's processes deleted but keep open: no walk of the temp dir sees
    them. Linux only (it reads /proc)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for pid in [root, *descendants(root)]:
        folder = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue
        for fd in fds:
            path = os.path.join(folder, fd)
            try:
                if not os.readlink(path).endswith(" (deleted)"):
                    continue
                info = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total
