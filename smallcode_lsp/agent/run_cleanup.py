"""Ending a sandbox run: stop its processes, wherever they went, and delete what it left.

A run's code may detach (double fork, `setsid`), move its processes out of the process group, take
away its own write permission or leave links pointing anywhere; none of that may survive the run or
make the server touch anything outside the temp dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def remove_tree(workdir: str) -> None:
    """Delete the temp dir, first giving back write permission the code may have taken away; never
    through a link (`os.walk` lists links to folders among the folders), which could point anywhere."""
    with contextlib.suppress(OSError):
        if not os.path.islink(workdir):
            os.chmod(workdir, 0o700)
    for folder, dirs, _ in os.walk(workdir):
        for name in dirs:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700)
    shutil.rmtree(workdir, ignore_errors=True)


def kill_members(cgroup: str) -> None:
    """SIGKILL every process left in a run's cgroup, whatever session or parent it moved to."""
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), encoding="ascii") as handle:
            pids = [int(pid) for pid in handle.read().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def remove_cgroup(path: str) -> None:
    """Remove a run's cgroup, killing what is still in it; the kernel may take a moment to reap."""
    for _ in range(40):
        kill_members(path)
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.025)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the launcher to kill the run (it reaps what detached from the process group), then wait a
    little; `kill_group` follows in any case."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=2)
