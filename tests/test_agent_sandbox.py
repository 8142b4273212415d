"""The sandbox against hostile code: every escape attempt fails, and nothing is left behind."""

from __future__ import annotations

import glob
import os
import tempfile
import time

import pytest

from smallcode_lsp.agent.sandbox import Sandbox, SandboxLimits

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
    try:
        return "smallcode-sandbox-" in os.readlink(f"/proc/{pid}/cwd")
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
    import smallcode_lsp.agent.sandbox as module

    module._swept.clear()
    Sandbox(LIMITS).run(["{python}", "-I", "-c", "pass"], {})
    assert not glob.glob(pattern)
