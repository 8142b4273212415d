"""The sandbox's launcher: run as a fresh `python -I` process, it fences itself in and then execs the command.

Why a separate process instead of `preexec_fn`: the language server is multi-threaded, and code run
between fork and exec in a threaded parent can deadlock. This script starts single-threaded, so it may
call `unshare`, mount and fork freely.

On Linux, when user namespaces are allowed, it enters new user, mount, network, PID and IPC namespaces:
- the network namespace has only a loopback device, so nothing can leave the machine;
- every mount except the work directory is remounted read-only, `/dev/shm` is fresh, and the secret
  paths it is given (`~/.ssh`, `.env` files, ...) are covered by empty, unreadable mounts;
- `/proc` is fresh and shows the run's own processes only, not the command lines of the user's other
  processes (the user namespace already keeps their environments unreadable); where the kernel
  refuses a fresh one, an empty one covers the host's;
- the command runs as a non-root user inside the namespace, so it holds no capabilities to undo this;
- the loopback device is brought up, so code may talk to servers it starts itself, inside the namespace;
- the command is PID 1 of its PID namespace, so when it ends the kernel kills every process it left.
Without namespaces the launcher stays as the command's parent and a child subreaper (Linux), so
processes that detach (double fork, `setsid`) are still its children and are killed when the command
ends. SIGTERM (sent by the sandbox on timeout or cancel, or by the kernel when the server dies) makes
it kill the command and all that is left, then exit.
Resource limits (CPU seconds, address space, file size, processes, no core dumps) apply in every case.
The kernel does not apply the process limit to root, so a root caller passes a `pids` cgroup to join.

Usage: python -I jail.py CONFIG_JSON -- COMMAND... (exit status 125 + a `sandbox:` message on setup errors)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1
SETUP_FAILED = 125
INNER_ID = 1000  # the uid/gid the command has inside the namespace: not 0, so no capabilities survive exec

# Flags a remount must keep: the kernel refuses to clear them on a mount inherited from the parent.
_LOCKED_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

_libc = ctypes.CDLL(None, use_errno=True)
_child = 0  # the command's process, once forked: what SIGTERM kills


def _prctl(option: int, value: int) -> bool:
    """`prctl(2)` where the C library has it (Linux); elsewhere a no-op that says so."""
    prctl = getattr(_libc, "prctl", None)
    return prctl is not None and prctl(option, value, 0, 0, 0) == 0


def _fail(message: str) -> None:
    sys.stderr.write(f"sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(SETUP_FAILED)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every mount, parents before children."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")  # octal escapes such as \040
            flags = 0
            for option in fields[5].split(","):
                flags |= _LOCKED_FLAGS.get(option, 0)
            points.append((point, flags))
    return sorted(set(points), key=lambda item: item[0].count("/") if item[0] != "/" else 0)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _enter_namespaces(workdir: str, hidden: list[str]) -> None:
    uid, gid = os.getuid(), os.getgid()
    _check(
        _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC),
        "unshare",
    )
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{INNER_ID} {uid} 1")
    _write("/proc/self/gid_map", f"{INNER_ID} {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(workdir, workdir, None, MS_BIND | MS_REC)
    for point, flags in _mounts():
        if _inside(point, workdir) or _inside(point, "/proc"):
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            if point == "/":
                raise
    for shm in ("/dev/shm",):
        if os.path.isdir(shm):
            _mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m")
    for path in hidden:
        if not os.path.lexists(path) or _inside(workdir, path):
            continue
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=000")
        else:
            _mount("/dev/null", path, None, MS_BIND)
    with contextlib.suppress(OSError):  # without it the code only loses its own loopback
        _loopback_up()


def _loopback_up() -> None:
    """A new network namespace starts with `lo` down: even 127.0.0.1 is unreachable."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        reply = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH", reply[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _fresh_proc() -> None:
    """Mount a `/proc` of the new PID namespace. Where the kernel refuses (a container that masks
    parts of its own `/proc`), cover the host's with an empty one: it shows every process on the
    machine, command lines (tokens passed as arguments) included."""
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        with contextlib.suppress(OSError):
            flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            _mount("tmpfs", "/proc", "tmpfs", flags, "size=4k,mode=555")


def _apply_limits(limits: dict[str, int]) -> None:
    import resource

    names = {
        "cpu_seconds": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "file_bytes": resource.RLIMIT_FSIZE,
        "processes": resource.RLIMIT_NPROC,
    }
    for key, which in names.items():
        value = limits.get(key)
        if value:
            hard = value + 1 if key == "cpu_seconds" else value
            resource.setrlimit(which, (value, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _on_term(signum: int, frame: object) -> None:
    """Timeout, cancel or a dead server: kill the command; the code after the wait kills the rest."""
    if not _child:
        os._exit(SETUP_FAILED)
    with contextlib.suppress(ProcessLookupError):
        os.kill(_child, signal.SIGKILL)


def _die_with(parent: int) -> None:
    """Be told (SIGTERM) when `parent` dies, so that a server killed mid-run does not leave its
    sandbox running; if it is already gone, stop now."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(SETUP_FAILED)


def _run_child(command: list[str], config: dict, *, isolated: bool) -> None:
    """Fork the command (PID 1 of the new namespace when `isolated`), wait for it, kill whatever it
    left behind, and mirror its exit status."""
    global _child
    reaper = not isolated and _prctl(PR_SET_CHILD_SUBREAPER, 1)
    alive_read, alive_write = os.pipe()
    child = os.fork()
    if child == 0:
        # The pipe tells whether the launcher lived past the prctl: an isolated child's parent is
        # outside its namespace (getppid() says 0).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(alive_write)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.read(alive_read, 1) != b"+":
            os._exit(SETUP_FAILED)
        os.close(alive_read)
        if isolated:
            _fresh_proc()
        _exec(command, config)
    _child = child
    os.close(alive_read)
    os.write(alive_write, b"+")
    os.close(alive_write)
    _, status = os.waitpid(child, 0)
    if reaper:
        _kill_descendants()
    # A signal death is reported shell-style (128 + signal): the launcher cannot die of SIGKILL itself.
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status))


def _kill_descendants(seconds: float = 5.0) -> None:
    """Kill and reap every process left below this subreaper: detached ones were reparented to it,
    and killing a child hands its own children to it in turn."""
    me = str(os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in _children(me):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def _children(parent: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1].decode() == parent:
            found.append(int(name))
    return found


def _exec(command: list[str], config: dict) -> None:
    try:
        _apply_limits(config.get("limits", {}))
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(config["workdir"])
        os.execvpe(command[0], command, config["env"])  # PATH from the scrubbed env
    except OSError as error:
        _fail(f"cannot start {command[0]}: {error}")


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        _fail("usage: jail.py CONFIG_JSON -- COMMAND...")
    config = json.loads(argv[1])
    command = argv[3:]
    signal.signal(signal.SIGTERM, _on_term)
    if config.get("parent"):
        _die_with(int(config["parent"]))
    if config.get("cgroup"):
        try:
            _write(os.path.join(config["cgroup"], "cgroup.procs"), str(os.getpid()))
        except OSError as error:
            _fail(f"cannot enter the process-limit cgroup: {error}")
    if config.get("isolate"):
        try:
            _enter_namespaces(os.path.realpath(config["workdir"]), config.get("hidden", []))
        except OSError as error:
            _fail(f"isolation unavailable: {error}")
    _run_child(command, config, isolated=bool(config.get("isolate")))


if __name__ == "__main__":
    main(sys.argv)
