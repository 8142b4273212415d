"""The sandbox against hostile code: every escape attempt fails, and nothing is left behind."""

from __future__ import annotations

import dataclasses
import glob
import os
import pwd
import re
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from smallcode_lsp.agent import live_runs
from smallcode_lsp.agent.sandbox import Isolation, RunResult, Sandbox, SandboxLimits

REPO = str(Path(__file__).resolve().parent.parent)

LIMITS = SandboxLimits(cpu_seconds=3, wall_seconds=6.0, memory_bytes=1 << 30, processes=32)


@pytest.fixture(scope="module")
def secret_dir() -> str:
    folder = tempfile.mkdtemp(prefix="smallcode-secret-")
    with open(os.path.join(folder, "id_rsa"), "w", encoding="utf-8") as handle:
        handle.write("PRIVATE KEY\n")
    return folder


@pytest.fixture(scope="module")
def sandbox(secret_dir: str) -> Sandbox:
    return Sandbox(LIMITS, hidden=[secret_dir])


def run(sandbox: Sandbox, program: str, **files: str):
    return sandbox.run(["{python}", "prog.py"], {"prog.py": program, **files})


def require_isolation(sandbox: Sandbox) -> None:
    if not sandbox.isolation.network:
        pytest.skip(f"namespaces unavailable here: {sandbox.isolation.reason}")


def sandbox_like(sandbox: Sandbox, limits: SandboxLimits, *, fenced: bool = True) -> Sandbox:
    """A sandbox with other limits that skips the isolation probe; `fenced=False` turns the jail's
    namespaces and the root-only pids cgroup off, to test what holds without them."""
    box = Sandbox(limits, hidden=sandbox.hidden)
    if fenced:
        box.__dict__["isolation"] = sandbox.isolation
    else:
        box.__dict__["isolation"] = Isolation(False, False, "turned off by the test")
        box.__dict__["_pids_cgroup_parent"] = None
    return box


def own_sandbox_dirs() -> set[str]:
    """Temp dirs of this process's runs (other checkouts on the machine may run sandboxes too)."""
    return set(glob.glob(os.path.join(tempfile.gettempdir(), f"smallcode-sandbox-{os.getpid()}-*")))


def test_a_good_program_passes_and_sees_its_files(sandbox: Sandbox) -> None:
    result = run(sandbox, "import helper\nprint(helper.VALUE)", **{"helper.py": "VALUE = 41 + 1\n"})
    assert result.passed, result.output
    assert result.output.strip() == "42"


def test_a_failing_program_reports_its_error(sandbox: Sandbox) -> None:
    result = run(sandbox, "assert 1 + 1 == 3, 'arithmetic'")
    assert result.status == "failed"
    assert "AssertionError: arithmetic" in result.output


def test_an_infinite_loop_is_stopped(sandbox: Sandbox) -> None:
    started = time.perf_counter()
    result = run(sandbox, "while True:\n    pass\n")
    assert result.status == "timeout"
    assert time.perf_counter() - started < LIMITS.wall_seconds + 3


def test_a_sleeping_program_hits_the_wall_clock(sandbox: Sandbox) -> None:
    result = sandbox.run(["{python}", "-I", "-c", "import time; time.sleep(60)"], {})
    assert result.status == "timeout"
    assert result.seconds < LIMITS.wall_seconds + 2


def test_a_fork_bomb_is_contained_and_cleaned_up(sandbox: Sandbox) -> None:
    if not sandbox.isolation.process_limit:
        pytest.skip("no process limit here: root without a writable pids cgroup")
    program = (
        "import os\ncount = 0\n"
        "for _ in range(500):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        import time\n        time.sleep(30)\n        os._exit(0)\n"
        "    count += 1\n"
        "print('forked', count, flush=True)\n"
    )
    result = run(sandbox, program)
    forked = int(result.output.split("forked", 1)[1].split()[0])
    assert forked < LIMITS.processes  # the process limit stopped it
    time.sleep(0.2)
    leftovers = [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs_in_a_sandbox_dir(pid)]
    assert leftovers == []  # the sleeping children died with the run


def _runs_in_a_sandbox_dir(pid: str) -> bool:
    """Only this process's runs: other checkouts on the machine may be running sandboxes too."""
    try:
        return f"smallcode-sandbox-{os.getpid()}-" in os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False


def test_a_memory_hog_fails(sandbox: Sandbox) -> None:
    result = run(sandbox, "blob = bytearray(4 << 30)\nprint('allocated')")
    assert result.status == "failed"
    assert "MemoryError" in result.output


def test_writing_outside_the_temp_dir_fails(sandbox: Sandbox) -> None:
    require_isolation(sandbox)
    target = os.path.join(tempfile.gettempdir(), f"smallcode-escape-{os.getpid()}.txt")
    result = run(sandbox, f"open({target!r}, 'w').write('escaped')")
    assert result.status == "failed"
    assert "Read-only file system" in result.output or "Permission denied" in result.output
    assert not os.path.exists(target)


def test_writing_inside_the_temp_dir_works_and_can_be_read_back(sandbox: Sandbox) -> None:
    result = sandbox.run(
        ["{python}", "-I", "-c", "open('out.txt', 'w').write('made here')"], {}, read_back=["out.txt"]
    )
    assert result.passed, result.output
    assert result.files == {"out.txt": "made here"}


def test_a_socket_cannot_reach_the_network(sandbox: Sandbox) -> None:
    require_isolation(sandbox)
    program = (
        "import socket\n"
        "print([name for _, name in socket.if_nameindex()])\n"
        "socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
    )
    result = run(sandbox, program)
    assert result.status == "failed"
    assert "['lo']" in result.output
    assert "unreachable" in result.output.lower()


def test_secrets_are_hidden(sandbox: Sandbox, secret_dir: str) -> None:
    require_isolation(sandbox)
    result = run(sandbox, f"print(open({os.path.join(secret_dir, 'id_rsa')!r}).read())")
    assert result.status == "failed"
    assert "PRIVATE KEY" not in result.output
    home = run(sandbox, "import os; print(os.path.expanduser('~') == os.getcwd())")
    assert home.output.strip() == "True"  # `~/.ssh` means the empty temp dir's


def test_the_environment_is_scrubbed(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-be-seen")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    result = run(sandbox, "import os; print(sorted(os.environ)); print(os.environ.get('OPENAI_API_KEY'))")
    assert result.passed
    assert "sk-should-never-be-seen" not in result.output
    assert "AWS_SECRET_ACCESS_KEY" not in result.output


def test_the_temp_dir_is_deleted_even_when_the_code_locks_it(sandbox: Sandbox) -> None:
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "smallcode-sandbox-*")))
    locker = [
        "import os",
        "os.makedirs('locked/inner')",
        "open('locked/inner/f', 'w').write('x')",
        "os.chmod('locked', 0)",
    ]
    run(sandbox, "\n".join(locker))
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "smallcode-sandbox-*")))
    assert after <= before


def test_files_outside_the_sandbox_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="outside the sandbox"):
        sandbox.run(["{python}", "-c", "pass"], {"../escape.py": "x = 1"})
    with pytest.raises(ValueError, match="outside the sandbox"):
        sandbox.run(["{python}", "-c", "pass"], {"/etc/evil.py": "x = 1"})


def test_a_cancelled_run_stops_at_once(sandbox: Sandbox) -> None:
    import threading

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    result = sandbox.run(["{python}", "-I", "-c", "import time; time.sleep(30)"], {}, cancel=cancel)
    assert result.status == "cancelled"
    assert time.perf_counter() - started < 2


def test_isolation_is_reported(sandbox: Sandbox) -> None:
    report = sandbox.isolation.to_dict()
    assert set(report) >= {"network", "filesystem", "processLimit"}
    if not report["network"]:
        assert report["reason"]


OWNER = """
import sys, threading
from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits
box = Sandbox(SandboxLimits(wall_seconds=120, cpu_seconds=60))
print(box.isolation.network, flush=True)
box.run(["{python}", "-I", "-c", "import time; time.sleep(120)", sys.argv[1]], {})
"""


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(entry, "rb") as handle:
                if token.encode() in handle.read():
                    found.append(int(entry.split("/")[2]))
        except OSError:
            continue
    return found


def test_a_killed_server_leaves_no_run_behind(tmp_path) -> None:
    """SIGKILL the process that owns a run: the run dies with it, and the next sandbox deletes the
    temp dir the dead process could not."""
    import signal
    import subprocess
    import sys

    token = f"smallcode-orphan-{os.getpid()}-{time.time_ns()}"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, token],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert owner.stdout is not None
    owner.stdout.readline()  # the isolation probe has run
    pattern = os.path.join(tempfile.gettempdir(), f"smallcode-sandbox-{owner.pid}-*")

    def sleeper_running() -> bool:  # the owner's own command line holds the token too
        return bool(set(_processes_with(token)) - {owner.pid}) and bool(glob.glob(pattern))

    deadline = time.monotonic() + 20
    while not sleeper_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sleeper_running(), "the sleeper never started"
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 10
    while _processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_with(token), "the sandboxed process outlived its owner"
    assert glob.glob(pattern), "nothing to sweep: the test proves nothing"
    live_runs.sweep_orphans(again=True)
    assert not glob.glob(pattern)


# --- Environment: neither the run's own /proc entry nor any parent's holds the server's secrets.

ENVIRON_SPY = """
import os, sys
def environ(pid, name="environ"):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read().split(b"\\0")
    except OSError:
        return []
pids = ["self", sys.argv[1], str(os.getppid())]
pid = os.getpid()
while pid > 1:  # the parent chain, as far as /proc shows it
    try:
        with open(f"/proc/{pid}/status") as handle:
            pid = int(next(line for line in handle if line.startswith("PPid:")).split()[1])
    except (OSError, StopIteration):
        break
    pids.append(str(pid))
pids += [name for name in os.listdir("/proc") if name.isdigit()]
found = [entry for pid in pids for entry in environ(pid) if b"AKIA" in entry]
found += [entry for pid in pids for entry in environ(pid, "cmdline") if b"AKIA" in entry]
print("environ files read:", sum(1 for pid in pids if environ(pid)))
print("found:", b" ".join(found).decode("latin-1"))
"""

ENVIRON_OWNER = """
import os, sys
from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits
with open("/proc/self/environ", "rb") as handle:
    print("armed" if sys.argv[1].encode() in handle.read() else "not armed", flush=True)
box = Sandbox(SandboxLimits(wall_seconds=20))
print("fenced" if box.isolation.network else "bare", flush=True)
result = box.run(["{python}", "spy.py", str(os.getpid())], {"spy.py": sys.argv[2]})
print(result.status, result.output, flush=True)
"""


def test_no_environ_file_shows_the_servers_secrets(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server started with a key in its environment (a child process, because /proc shows a
    process's environment as it started) runs code that reads `/proc/self/environ`, its parents'
    and every other `/proc/<pid>/environ` it can see. The server also has the key on its command
    line, which any process that sees the host's /proc may read."""
    require_isolation(sandbox)  # without namespaces the server's /proc entry is the user's to read
    canary = "AKIA" + secrets.token_hex(8).upper()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", canary)
    owner = subprocess.run(
        [sys.executable, "-c", ENVIRON_OWNER, canary, ENVIRON_SPY],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert owner.stdout.startswith("armed\nfenced\n"), owner.stdout + owner.stderr  # else it proves nothing
    assert "passed" in owner.stdout, owner.stdout + owner.stderr
    assert "environ files read:" in owner.stdout  # /proc/self/environ at least
    assert canary not in owner.stdout


# --- Credentials under the home folder, wherever HOME points.


def test_keys_under_either_home_are_hidden(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOME and the password database may disagree (a service, a test, `sudo -E`): the keys under
    both stay hidden, and `~` inside the run is the empty temp dir."""
    require_isolation(sandbox)
    real_key = os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".ssh", "id_rsa")
    planted = {}
    for name in ("env-home", "passwd-home"):
        folder = tmp_path / name / ".ssh"
        folder.mkdir(parents=True)
        planted[name] = f"{name}-KEY-{secrets.token_hex(8)}"
        (folder / "id_rsa").write_text(planted[name])
    monkeypatch.setenv("HOME", str(tmp_path / "env-home"))
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: SimpleNamespace(pw_dir=str(tmp_path / "passwd-home")))
    box = Sandbox(LIMITS)  # made after the change of home, as a server would be
    monkeypatch.undo()
    box.__dict__["isolation"] = sandbox.isolation  # no need to probe again
    spy = """
import hashlib, os, pwd, sys
paths = [os.path.expanduser("~/.ssh/id_rsa"), *sys.argv[1:]]
try:
    paths.append(os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".ssh", "id_rsa"))
except KeyError:
    pass
for path in paths:
    try:
        with open(path, "rb") as handle:  # a digest, so that a failure does not print a real key
            print("READ", path, hashlib.sha256(handle.read()).hexdigest())
    except OSError as error:
        print("DENIED", path, type(error).__name__)
    try:
        print("LISTED", path, os.listdir(os.path.dirname(path)))
    except OSError:
        pass
"""
    paths = [str(tmp_path / name / ".ssh" / "id_rsa") for name in planted] + [real_key]
    result = box.run(["{python}", "spy.py", *paths], {"spy.py": spy})
    assert result.passed, result.output
    assert "READ" not in result.output and "LISTED" not in result.output, result.output
    for path in paths[:2]:
        assert f"DENIED {path}" in result.output
    for key in planted.values():
        assert key not in result.output


# --- Symbolic links out of the temp dir.


def test_links_out_of_the_temp_dir_change_nothing_outside(
    sandbox: Sandbox, tmp_path: Path, secret_dir: str
) -> None:
    """The guarantee (module docstring): outside the temp dir everything is read-only by any path,
    links included, and hidden paths stay hidden through links; other files may be read."""
    require_isolation(sandbox)
    outside = tmp_path / "outside.txt"
    outside.write_text("ORIGINAL")
    program = f"""
import os
def attempt(label, action):
    try:
        action()
        print(label, "DONE")
    except OSError as error:
        print(label, "REFUSED", error.strerror)
os.symlink({str(outside)!r}, "out")
os.symlink("/etc/passwd", "passwd")
os.symlink({os.path.join(secret_dir, "id_rsa")!r}, "key")
os.symlink({secret_dir!r}, "keys")
attempt("write", lambda: open("out", "w").write("CHANGED"))
attempt("append", lambda: open("out", "a").write("CHANGED"))
attempt("passwd", lambda: os.close(os.open("passwd", os.O_WRONLY | os.O_APPEND)))  # writes nothing
attempt("hardlink", lambda: os.link({str(outside)!r}, "hard"))
attempt("rename", lambda: os.rename({str(outside)!r}, "moved"))
attempt("key", lambda: print(open("key").read()))
attempt("keys", lambda: print(os.listdir("keys")))
print("read", open("out").read())
"""
    result = run(sandbox, program)
    assert result.passed, result.output
    assert outside.read_text() == "ORIGINAL"
    for label in ("write", "append", "passwd", "hardlink", "rename", "keys"):
        assert re.search(rf"^{label} REFUSED", result.output, re.M), result.output
    assert "PRIVATE KEY" not in result.output
    assert "read ORIGINAL" in result.output  # not hidden, so readable: that is all a link gives


def test_the_server_never_follows_the_runs_links(sandbox: Sandbox, tmp_path: Path) -> None:
    """Reading files back and deleting the temp dir happen in the server, outside any jail: a file
    replaced by a link or a FIFO, and links to folders (the caller's own `links` included), must
    not make it read, block on, or change anything outside."""
    modules = tmp_path / "node_modules"
    elsewhere = tmp_path / "elsewhere"
    for folder in (modules, elsewhere):
        folder.mkdir()
        folder.chmod(0o755)
    secret = tmp_path / "secret.txt"
    secret.write_text("SERVER-SIDE SECRET")
    program = f"""
import os
os.remove("out.txt")
os.symlink({str(secret)!r}, "out.txt")
os.symlink({str(elsewhere)!r}, "elsewhere")
os.mkfifo("pipe.txt")
os.makedirs("sub")
os.symlink({str(tmp_path)!r}, "sub/up")
"""
    outcome: dict[str, RunResult | BaseException] = {}

    def go() -> None:
        try:
            outcome["result"] = sandbox.run(
                ["{python}", "prog.py"],
                {"prog.py": program, "out.txt": "placeholder"},
                read_back=["out.txt", "pipe.txt", "sub/up/secret.txt"],
                links={"node_modules": str(modules)},
            )
        except BaseException as error:  # reported below
            outcome["result"] = error

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "reading back a FIFO blocked the server"
    result = outcome["result"]
    assert isinstance(result, RunResult), repr(result)
    assert result.passed, result.output
    assert result.files == {}
    assert secret.read_text() == "SERVER-SIDE SECRET"
    for folder in (modules, elsewhere):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder


# --- Processes that detach to outlive the run.

DETACHER = """
import os, sys, time
token, ending = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper = "import os, time; open('ready.tmp', 'w').write(str(os.getpid())); "
        sleeper += "os.rename('ready.tmp', 'ready'); time.sleep(60)"
        os.execv(sys.executable, [sys.executable, "-c", sleeper, token])
    os._exit(0)
while not os.path.exists("ready"):
    time.sleep(0.01)
print("detached", open("ready").read(), flush=True)
if ending == "hangs":
    time.sleep(60)
"""


@pytest.mark.parametrize("ending", ["exits", "hangs"])
@pytest.mark.parametrize("fenced", [True, False], ids=["fenced", "bare"])
def test_a_detached_grandchild_does_not_outlive_the_run(sandbox: Sandbox, fenced: bool, ending: str) -> None:
    """Double fork and `setsid` leave the process group the sandbox kills; with namespaces the PID
    namespace ends them, without them the launcher reaps them as a subreaper (Linux)."""
    if fenced:
        require_isolation(sandbox)
    elif not sys.platform.startswith("linux"):
        pytest.skip("without namespaces, only Linux lets the launcher adopt detached processes")
    box = sandbox_like(sandbox, dataclasses.replace(LIMITS, wall_seconds=2.0), fenced=fenced)
    token = f"smallcode-detached-{os.getpid()}-{time.time_ns()}"
    try:
        result = box.run(["{python}", "prog.py", token, ending], {"prog.py": DETACHER})
        assert "detached" in result.output, result.output
        assert result.status == ("passed" if ending == "exits" else "timeout"), result.output
        deadline = time.monotonic() + 2
        while _processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_with(token) == [], "a detached process outlived the run"
        if not fenced:  # the printed pid is the real one only outside a PID namespace
            pid = int(result.output.split("detached", 1)[1].split()[0])
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        for pid in _processes_with(token):  # a failed run must not leave sleepers behind
            os.kill(pid, 9)


# --- Filling the disk.


def test_one_huge_file_is_cut_at_the_file_size_limit(sandbox: Sandbox) -> None:
    before = own_sandbox_dirs()
    program = """
written = 0
try:
    with open("big.bin", "wb") as handle:
        chunk = b"x" * (1 << 20)
        while written < (2 << 30):
            handle.write(chunk)
            handle.flush()
            written += len(chunk)
finally:
    print("written", written, flush=True)
"""
    result = run(sandbox, program)
    assert result.status == "failed", result.output
    assert "File too large" in result.output
    assert int(result.output.split("written", 1)[1].split()[0]) <= LIMITS.file_bytes
    assert own_sandbox_dirs() <= before  # and the file went with the temp dir


@pytest.mark.parametrize("kept", ["named", "deleted-but-open"])
def test_many_files_are_stopped_by_the_disk_budget(sandbox: Sandbox, kept: str) -> None:
    """2 GiB in files each under the per-file limit, kept in the temp dir or deleted but held open
    (invisible to a walk of the folder): the disk budget stops the run either way."""
    limits = dataclasses.replace(LIMITS, file_bytes=8 << 20, disk_bytes=32 << 20)
    box = sandbox_like(sandbox, limits, fenced=sandbox.isolation.network)
    before = own_sandbox_dirs()
    program = f"""
import tempfile, time
held = []
chunk = b"x" * (4 << 20)
for number in range(512):
    if {kept!r} == "named":
        handle = open(f"part{{number}}.bin", "wb")
    else:
        handle = tempfile.TemporaryFile()  # TMPDIR is in the temp dir; no name once created
    handle.write(chunk)
    handle.flush()
    held.append(handle)
    print("files", number + 1, flush=True)
    time.sleep(0.002)
"""
    result = box.run(["{python}", "prog.py"], {"prog.py": program})
    assert result.status == "failed", result.output
    assert "disk budget" in result.output
    files = int(re.findall(r"^files (\d+)", result.output, re.M)[-1])
    assert files * 4 < 1024, f"{files * 4} MiB written before the run was stopped"
    assert own_sandbox_dirs() <= before


# --- Network: a loopback of the run's own.


def test_the_loopback_is_the_runs_own(sandbox: Sandbox) -> None:
    """The code may serve and connect on 127.0.0.1 (generated tests start local servers), but it is
    another 127.0.0.1: the port the test holds is free in there, and the test's listeners never
    see a connection."""
    require_isolation(sandbox)
    with socket.socket() as taken, socket.socket() as listener:
        for sock in (taken, listener):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        taken_port, outside_port = taken.getsockname()[1], listener.getsockname()[1]
        program = f"""
import socket
own = socket.socket()
own.bind(("127.0.0.1", {taken_port}))
own.listen()
print("listening", flush=True)
with socket.create_connection(("127.0.0.1", {taken_port}), timeout=2):
    own.accept()[0].close()
print("served itself", flush=True)
try:
    socket.create_connection(("127.0.0.1", {outside_port}), timeout=2)
    print("reached the test's listener")
except OSError as error:
    print("outside:", type(error).__name__)
"""
        result = run(sandbox, program)
        for sock in (taken, listener):
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.accept()
    assert result.passed, result.output
    assert "served itself" in result.output
    assert "outside: ConnectionRefusedError" in result.output
