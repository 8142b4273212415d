"""Run an untrusted Python program (a completed HumanEval function plus its tests) in a fenced subprocess.

The program is written to a fresh temporary directory, which is also the working directory, and run with
`python -I` (isolated: no user site, no PYTHON* variables, no script dir on sys.path) and a scrubbed
environment. Limits set in the child before exec: CPU seconds, address space, file size, no core dumps
and a small process count (fork bombs fail). When this runs as root the child drops to `nobody` first,
because RLIMIT_NPROC does not bind root (using the system `python3` if `nobody` cannot reach this
interpreter; the programs need only the standard library). A wall-clock timeout kills the whole
process group.
"""

from __future__ import annotations

import os
import pwd
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

CPU_SECONDS = 10
MEMORY_BYTES = 1 << 30
FILE_BYTES = 16 << 20
MAX_PROCESSES = 16
WALL_SECONDS = 15.0
_OUTPUT_CHARS = 2000


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: str  # passed | failed | timeout
    returncode: int | None
    seconds: float
    output: str  # tail of stderr/stdout, for diagnosis

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unprivileged_ids() -> tuple[int, int] | None:
    """(uid, gid) of `nobody` when running as root, else None (keep the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _probe(python: str, ids: tuple[int, int]) -> bool:
    """Whether `python` starts as `ids` (an interpreter under /root is out of `nobody`'s reach)."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", "pass"],
            cwd="/",
            env=_scrubbed_env("/"),
            capture_output=True,
            preexec_fn=_limiter(CPU_SECONDS, MEMORY_BYTES, ids),
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@cache
def runner() -> tuple[str, tuple[int, int] | None]:
    """(interpreter, ids to drop to): unprivileged whenever some interpreter allows it."""
    ids = _unprivileged_ids()
    if ids is None:
        return sys.executable, None
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python) and _probe(python, ids):
            return python, ids
    return sys.executable, None


def _limiter(cpu_s: int, memory_bytes: int, ids: tuple[int, int] | None):
    """A preexec_fn that drops privileges and sets the resource limits in the child."""

    def apply() -> None:
        if ids is not None:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))

    return apply


def _scrubbed_env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_program(
    program: str,
    *,
    wall_s: float = WALL_SECONDS,
    cpu_s: int = CPU_SECONDS,
    memory_bytes: int = MEMORY_BYTES,
    python: str | None = None,
) -> SandboxResult:
    """Run `program`; it passes when it exits with status 0 within the limits."""
    default_python, ids = runner()
    python = python or default_python
    with tempfile.TemporaryDirectory(prefix="smallcode-sandbox-") as tmp:
        script = os.path.join(tmp, "program.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(program)
        if ids is not None:
            os.chown(tmp, ids[0], ids[1])
            os.chown(script, ids[0], ids[1])
        started = time.perf_counter()
        process = subprocess.Popen(
            [python, "-I", "-B", script],
            cwd=tmp,
            env=_scrubbed_env(tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_limiter(cpu_s, memory_bytes, ids),
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=wall_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            timed_out = True
        seconds = time.perf_counter() - started
        _kill_group(process)  # leftovers of a program that forked and exited
    text = output.decode("utf-8", "replace")[-_OUTPUT_CHARS:]
    code = process.returncode
    # Killed by SIGXCPU / SIGKILL after exhausting its CPU seconds counts as a timeout too.
    if timed_out or code in (-signal.SIGXCPU, -signal.SIGKILL):
        return SandboxResult(False, "timeout", code, seconds, text)
    return SandboxResult(code == 0, "passed" if code == 0 else "failed", code, seconds, text)


def humaneval_program(completed_function: str, test: str, entry_point: str) -> str:
    """The completed function, the problem's `check` and the call that runs it."""
    return f"{completed_function}\n\n{test}\n\ncheck({entry_point})\n"
