"""Run generated code and tests on copies of the files involved, fenced off from the user's machine.

Every run gets a fresh temporary directory holding only the files it is given (never the user's
tree), a scrubbed environment (no API keys, HOME pointing into the temp dir), resource limits, a
wall-clock timeout, and, where the OS allows it, no network, a read-only view of the rest of the
filesystem and hidden secret files (see `jail.py`). Everything is killed and deleted afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

_JAIL = str(Path(__file__).with_name("jail.py"))
_PIDS_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")
_run_numbers = itertools.count()
_PREFIX = "smallcode-sandbox-"
# Runs in flight (temp dir -> cgroup), so that a server exiting mid-run still cleans up after them.
_live_runs: dict[str, str | None] = {}
_live_lock = threading.Lock()
_live_processes: dict[str, subprocess.Popen[bytes]] = {}
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
    """Per-run limits. Address space is generous because importing a test framework maps a lot."""

    cpu_seconds: int = 30
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
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
        home = os.path.expanduser("~")
        self.hidden = [os.path.join(home, p) for p in SECRET_HOME_PATHS] + [
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
        for root in _PIDS_CGROUP_ROOTS:
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
        path = os.path.join(parent, f"{_PREFIX}{os.getpid()}-{next(_run_numbers)}")
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
        _sweep_orphans()
        workdir = os.path.realpath(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        cgroup = self._make_cgroup()
        with _live_lock:
            _live_runs[workdir] = cgroup
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
            copied = {}
            for relative in read_back:
                try:
                    with open(_inside_dir(workdir, relative), encoding="utf-8", errors="replace") as handle:
                        copied[relative] = handle.read(1 << 20)
                except OSError:
                    continue
            if copied:
                result = RunResult(result.status, result.returncode, result.seconds, result.output, copied)
        finally:
            with _live_lock:
                _live_runs.pop(workdir, None)
            _remove(workdir)
            if cgroup:
                _remove_cgroup(cgroup)
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
            with _live_lock:
                _live_processes[workdir] = process
            status = None
            deadline = started + self.limits.wall_seconds
            while process.poll() is None:
                if cancel is not None and cancel.is_set():
                    status = "cancelled"
                    break
                if time.perf_counter() > deadline:
                    status = "timeout"
                    break
                time.sleep(_POLL_S)
            _kill_group(process)
            process.wait()
            with _live_lock:
                _live_processes.pop(workdir, None)
            seconds = time.perf_counter() - started
            output.seek(0)
            text = output.read().decode("utf-8", "replace")
        text = text[-self.limits.output_chars :]
        code = process.returncode
        if status is None:
            if code == _SETUP_FAILED and text.lstrip().startswith("sandbox:"):
                status = "error"
            elif code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
                status = "timeout"  # out of CPU seconds
            else:
                status = "passed" if code == 0 else "failed"
        return RunResult(status, code, round(seconds, 3), text)


def _inside_dir(root: str, relative: str) -> str:
    """`root/relative`, refusing absolute paths and `..` that would escape the temp dir."""
    target = os.path.realpath(os.path.join(root, relative))
    if os.path.isabs(relative) or not target.startswith(root + os.sep):
        raise ValueError(f"sandbox file {relative!r} is outside the sandbox")
    return target


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _remove(workdir: str) -> None:
    """Delete the temp dir, first giving back write permission the code may have taken away."""
    for folder, dirs, _ in os.walk(workdir):
        for name in dirs:
            try:
                os.chmod(os.path.join(folder, name), 0o700)
            except OSError:
                continue
    shutil.rmtree(workdir, ignore_errors=True)


def _remove_cgroup(path: str) -> None:
    """Remove a run's cgroup; its processes are dead but the kernel may take a moment to reap them."""
    for _ in range(40):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.025)


@atexit.register
def _clean_up_live_runs() -> None:
    """At interpreter exit, kill the runs still in flight (worker threads die without their
    `finally`) and delete what they left."""
    with _live_lock:
        processes = list(_live_processes.values())
        runs = list(_live_runs.items())
        _live_processes.clear()
        _live_runs.clear()
    for process in processes:
        _kill_group(process)
    for workdir, cgroup in runs:
        _remove(workdir)
        if cgroup:
            _remove_cgroup(cgroup)


_swept = threading.Event()


def _sweep_orphans() -> None:
    """Once per process, delete temp dirs and cgroups of sandboxes whose server died (SIGKILL leaves
    them behind); their names carry the owning process id."""
    if _swept.is_set():
        return
    _swept.set()
    patterns = [os.path.join(tempfile.gettempdir(), f"{_PREFIX}*")]
    patterns += [os.path.join(root, f"{_PREFIX}*") for root in _PIDS_CGROUP_ROOTS]
    for pattern in patterns:
        for path in glob.glob(pattern):
            owner = os.path.basename(path)[len(_PREFIX) :].split("-", 1)[0]
            if not owner.isdigit() or _alive(int(owner)):
                continue
            if path.startswith(tempfile.gettempdir()):
                _remove(path)
            else:
                _remove_cgroup(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
