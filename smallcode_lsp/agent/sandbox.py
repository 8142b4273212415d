"""Run generated code and tests on copies of the files involved, fenced off from the user's machine.

Every run gets a fresh temporary directory holding only the files it is given (never the user's
tree), a scrubbed environment (no API keys, HOME pointing into the temp dir), resource limits, a
wall-clock timeout, and, where the OS allows it, no network, a read-only view of the rest of the
filesystem and hidden secret files (see `jail.py`). Everything is killed and deleted afterwards.

What a run can do where `isolation` reports the fence (Linux with user namespaces):
- environment: only the scrubbed one. `/proc` shows the run's own processes alone, so neither
  `/proc/self/environ` nor a parent's (the server's, the editor's) holds anything of the user's;
- files: it writes only inside its temp dir (and a small private `/dev/shm`). Everything else is
  read-only by any path, symbolic links it makes included, and readable unless hidden: credential
  paths (`SECRET_HOME_PATHS`) under both `$HOME` and the password database's home, and the caller's
  `hidden` paths, are empty and unreadable, through links too;
- network: a loopback of its own; it may listen and connect there, and reaches no port outside;
- processes: none outlives `run()`, detached (double fork, `setsid`) or not;
- disk: each file at most `file_bytes` (RLIMIT_FSIZE); the temp dir at most `disk_bytes` in all,
  files deleted while still held open included. Past that the run is stopped and reported failed.
Without the fence only the scrubbed environment, the limits, the disk budget and (on Linux) the
process clean-up hold: the code runs as the server's user and can read and write what it can.
In every case the server never follows the run's links out of the temp dir: reading files back
skips links, FIFOs and devices, and cleaning up never changes what a link points to.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import itertools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO

from smallcode_lsp.agent import live_runs
from smallcode_lsp.agent.disk_budget import DiskBudget
from smallcode_lsp.agent.run_cleanup import kill_group, kill_members, remove_cgroup, remove_tree, stop

_JAIL = str(Path(__file__).with_name("jail.py"))
_run_numbers = itertools.count()
_SETUP_FAILED = 125
_POLL_S = 0.05

# Paths under HOME that hold credentials; hidden inside the sandbox whatever the code asks for.
SECRET_HOME_PATHS = (
    ".ssh",
    ".aws",
    ".azure",
    ".gnupg",
    ".docker",
    ".kube",
    ".netrc",
    ".pypirc",
    ".git-credentials",
    ".config/gcloud",
    ".config/gh",
    ".config/smallcode",
)

# Environment variables a run keeps (locale and timezone only); everything else, keys included, goes.
_KEPT_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. Address space is generous because importing a test framework maps a lot.
    `file_bytes` bounds each file (the kernel's RLIMIT_FSIZE); `disk_bytes` bounds the temp dir in
    all, as many files under `file_bytes` would fill a disk as well (0: no budget)."""

    cpu_seconds: int = 30
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
    disk_bytes: int = 256 << 20
    processes: int = 64
    wall_seconds: float = 60.0
    output_chars: int = 8000


@dataclass(frozen=True)
class Isolation:
    """What the OS let the sandbox fence off, for `smallcode.status` and for titles that say so."""

    network: bool
    filesystem: bool
    reason: str = ""
    process_limit: bool = True

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "network": self.network,
            "filesystem": self.filesystem,
            "processLimit": self.process_limit,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class RunResult:
    status: str  # passed | failed | timeout | cancelled | error
    returncode: int | None
    seconds: float
    output: str  # the tail of stdout and stderr together
    files: dict[str, str] = field(default_factory=dict)  # files the caller asked to read back

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Sandbox:
    """Runs commands on copies of files. Thread-safe: each run has its own directory and process."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        python: str | None = None,
        hidden: Iterable[str] = (),
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.python = python or sys.executable
        self.hidden = [os.path.join(home, p) for home in _homes() for p in SECRET_HOME_PATHS] + [
            os.path.abspath(p) for p in hidden
        ]

    @cached_property
    def isolation(self) -> Isolation:
        """Probe once whether namespaces work here: a run that must see only the loopback device."""
        process_limit = os.geteuid() != 0 or self._pids_cgroup_parent is not None
        if not sys.platform.startswith("linux"):
            return Isolation(False, False, f"no namespaces on {sys.platform}", process_limit)
        probe = "import socket, sys; sys.exit(0 if [n for _, n in socket.if_nameindex()] == ['lo'] else 3)"
        result = self._run([self.python, "-I", "-c", probe], {}, isolate=True, read_back=(), cancel=None)
        if result.passed:
            return Isolation(True, True, "", process_limit)
        reason = result.output.strip().splitlines()[-1] if result.output.strip() else result.status
        return Isolation(False, False, reason, process_limit)

    @cached_property
    def _pids_cgroup_parent(self) -> str | None:
        """A cgroup directory whose children get a `pids.max`: root is exempt from RLIMIT_NPROC."""
        if os.geteuid() != 0:
            return None
        for root in live_runs.PIDS_CGROUP_ROOTS:
            probe = os.path.join(root, f"smallcode-probe-{os.getpid()}")
            try:
                os.mkdir(probe)
            except OSError:
                continue
            usable = os.path.exists(os.path.join(probe, "pids.max"))
            os.rmdir(probe)
            if usable:
                return root
        return None

    def _make_cgroup(self) -> str | None:
        parent = self._pids_cgroup_parent
        if parent is None:
            return None
        path = os.path.join(parent, f"{live_runs.PREFIX}{os.getpid()}-{next(_run_numbers)}")
        try:
            os.mkdir(path)
            with open(os.path.join(path, "pids.max"), "w", encoding="ascii") as handle:
                handle.write(str(self.limits.processes))
        except OSError:
            return None
        return path

    def run(
        self,
        argv: list[str],
        files: Mapping[str, str | bytes],
        *,
        read_back: Iterable[str] = (),
        cancel: threading.Event | None = None,
        links: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run `argv` (`{python}` is replaced by the interpreter) in a temp dir holding `files`.

        `links` maps names in the temp dir to existing directories (a project's `node_modules`),
        seen through symbolic links: readable, and read-only where the filesystem fence works.
        """
        argv = [self.python if part == "{python}" else part for part in argv]
        if not self.isolation.network:
            _hide_own_proc_files()
        return self._run(
            argv, files, isolate=self.isolation.network, read_back=read_back, cancel=cancel, links=links
        )

    def _run(
        self,
        argv: list[str],
        files: Mapping[str, str | bytes],
        *,
        isolate: bool,
        read_back: Iterable[str],
        cancel: threading.Event | None,
        links: Mapping[str, str] | None = None,
    ) -> RunResult:
        live_runs.sweep_orphans()
        workdir = os.path.realpath(tempfile.mkdtemp(prefix=f"{live_runs.PREFIX}{os.getpid()}-"))
        cgroup = self._make_cgroup()
        live_runs.add_run(workdir, cgroup)
        try:
            for relative, content in files.items():
                target = _inside_dir(workdir, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                data = content.encode("utf-8") if isinstance(content, str) else content
                with open(target, "wb") as handle:
                    handle.write(data)
            for relative, target in (links or {}).items():
                link = _inside_dir(workdir, relative)
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(os.path.abspath(target), link)
            os.makedirs(os.path.join(workdir, ".tmp"), exist_ok=True)
            config = {
                "isolate": isolate,
                "parent": os.getpid(),
                "workdir": workdir,
                "cgroup": cgroup,
                "hidden": self.hidden,
                "env": self._environment(workdir),
                "limits": {
                    "cpu_seconds": self.limits.cpu_seconds,
                    "memory_bytes": self.limits.memory_bytes,
                    "file_bytes": self.limits.file_bytes,
                    "processes": self.limits.processes,
                },
            }
            result = self._supervise(
                [sys.executable, "-I", "-S", _JAIL, json.dumps(config), "--", *argv], workdir, cancel
            )
            if cgroup:
                kill_members(cgroup)  # the jail reaps what it can; this catches what escaped it
            copied = {}
            for relative in read_back:
                text = _read_back(workdir, relative)
                if text is not None:
                    copied[relative] = text
            if copied:
                result = RunResult(result.status, result.returncode, result.seconds, result.output, copied)
        finally:
            live_runs.remove_run(workdir)
            remove_tree(workdir)
            if cgroup:
                remove_cgroup(cgroup)
        return result

    def _environment(self, workdir: str) -> dict[str, str]:
        env = {key: os.environ[key] for key in _KEPT_ENV if key in os.environ}
        env.update(
            {
                "PATH": os.pathsep.join(self._search_path()),
                "HOME": workdir,
                "TMPDIR": os.path.join(workdir, ".tmp"),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0",
                "LANG": env.get("LANG", "C.UTF-8"),
            }
        )
        return env

    def _search_path(self) -> list[str]:
        """The interpreter's directory, node's (test runners need it), then the system's."""
        folders = [os.path.dirname(self.python)]
        node = shutil.which("node")
        if node:
            folders.append(os.path.dirname(node))
        return list(dict.fromkeys(folders + ["/usr/local/bin", "/usr/bin", "/bin"]))

    def _supervise(self, command: list[str], workdir: str, cancel: threading.Event | None) -> RunResult:
        started = time.perf_counter()
        with tempfile.TemporaryFile() as output:
            try:
                process = subprocess.Popen(
                    command,
                    cwd=workdir,
                    env={"PATH": "/usr/bin:/bin"},
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                return RunResult("error", None, 0.0, f"sandbox: cannot start: {error}")
            live_runs.add_process(workdir, process)
            status = None
            deadline = started + self.limits.wall_seconds
            budget = self.limits.disk_bytes
            disk = DiskBudget(workdir, budget, process.pid) if budget else None
            while process.poll() is None:
                if cancel is not None and cancel.is_set():
                    status = "cancelled"
                    break
                now = time.perf_counter()
                if now > deadline:
                    status = "timeout"
                    break
                if disk is not None and disk.exceeded(now):
                    status = "disk"
                    break
                time.sleep(_POLL_S)
            if status is not None:
                stop(process)
            kill_group(process)
            process.wait()
            live_runs.remove_process(workdir)
            seconds = time.perf_counter() - started
            text = _tail(output, self.limits.output_chars)
        code = process.returncode
        if status == "disk":
            note = f"\nsandbox: stopped: the run wrote more than {budget >> 20} MiB (the disk budget)\n"
            text = text[-max(self.limits.output_chars - len(note), 0) :] + note
            status = "failed"
        elif status is None:
            if code == _SETUP_FAILED and text.lstrip().startswith("sandbox:"):
                status = "error"
            elif code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
                status = "timeout"  # out of CPU seconds
            else:
                status = "passed" if code == 0 else "failed"
        return RunResult(status, code, round(seconds, 3), text)


def _homes() -> list[str]:
    """`$HOME` and the password database's home: HOME may point elsewhere, the keys stay put."""
    homes = [os.path.expanduser("~")]
    with contextlib.suppress(ImportError, KeyError):
        import pwd

        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    return list(dict.fromkeys(homes))


def _tail(output: IO[bytes], chars: int) -> str:
    """The last `chars` characters, without reading the rest: output can be as large as a file may."""
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - 4 * chars))  # UTF-8 takes at most 4 bytes a character
    return output.read().decode("utf-8", "replace")[-chars:]


def _read_back(workdir: str, relative: str) -> str | None:
    """A regular file the run left, or None: never through a link out of the temp dir, and never
    opening a FIFO (which would block the server) or a device."""
    try:
        fd = os.open(_inside_dir(workdir, relative), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (OSError, ValueError):
        return None
    with open(fd, "rb") as raw:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace").read(1 << 20)


def _inside_dir(root: str, relative: str) -> str:
    """`root/relative`, refusing absolute paths and `..` that would escape the temp dir."""
    target = os.path.realpath(os.path.join(root, relative))
    if os.path.isabs(relative) or not target.startswith(root + os.sep):
        raise ValueError(f"sandbox file {relative!r} is outside the sandbox")
    return target


def _hide_own_proc_files() -> None:
    """Without namespaces a run shares our /proc and our user: it could read /proc/<our pid>/environ
    (an API key named by cloud.apiKeyEnv) or /proc/<our pid>/mem. A process that is not "dumpable"
    keeps those files to root (as ssh-agent does); the cost is no core dumps and no same-user
    debugger attaching to the server. Root-owned sandboxes stay exposed: do not run the server as root."""
    PR_SET_DUMPABLE = 4
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
