"""The sandbox runs in flight, so that nothing they started outlives the server.

A worker thread dies at interpreter exit without running its `finally`, and a server killed with
SIGKILL runs nothing at all: the first case is handled at exit from this registry, the second by the
next server, which sweeps the temp dirs and cgroups whose owning process is gone (their names carry
its process id).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import signal
import subprocess
import tempfile
import threading
import time

from smallcode_lsp.agent.run_cleanup import kill_group, remove_cgroup, remove_tree
from smallcode_lsp.process_tree import process_alive

PREFIX = "smallcode-sandbox-"
PIDS_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")

_lock = threading.Lock()
_runs: dict[str, str | None] = {}  # temp dir -> its cgroup
_processes: dict[str, subprocess.Popen[bytes]] = {}  # temp dir -> the jail process
_swept = threading.Event()


def add_run(workdir: str, cgroup: str | None) -> None:
    with _lock:
        _runs[workdir] = cgroup


def remove_run(workdir: str) -> None:
    with _lock:
        _runs.pop(workdir, None)


def add_process(workdir: str, process: subprocess.Popen[bytes]) -> None:
    with _lock:
        _processes[workdir] = process


def remove_process(workdir: str) -> None:
    with _lock:
        _processes.pop(workdir, None)


@atexit.register
def clean_up_live_runs() -> None:
    """Kill the runs still in flight and delete what they left."""
    with _lock:
        processes = list(_processes.values())
        runs = list(_runs.items())
        _processes.clear()
        _runs.clear()
    for process in processes:  # the launchers kill what detached from their process groups
        with contextlib.suppress(ProcessLookupError, PermissionError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 1
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0))
        kill_group(process)
    for workdir, cgroup in runs:
        remove_tree(workdir)
        if cgroup:
            remove_cgroup(cgroup)


def sweep_orphans(*, again: bool = False) -> None:
    """Once per process (or `again`), delete the temp dirs and cgroups of dead servers' sandboxes."""
    if _swept.is_set() and not again:
        return
    _swept.set()
    patterns = [os.path.join(tempfile.gettempdir(), f"{PREFIX}*")]
    patterns += [os.path.join(root, f"{PREFIX}*") for root in PIDS_CGROUP_ROOTS]
    for pattern in patterns:
        for path in glob.glob(pattern):
            owner = os.path.basename(path)[len(PREFIX) :].split("-", 1)[0]
            if not owner.isdigit() or process_alive(int(owner)):
                continue
            if path.startswith(tempfile.gettempdir()):
                remove_tree(path)
            else:
                remove_cgroup(path)
