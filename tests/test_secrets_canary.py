"""Canary secrets: planted in a workspace (and in the server's environment), then looked for everywhere
a session leaves traces.

One session with completions (some sent to a loopback "cloud"), a fix and a test generation whose
cloud turn runs code that dumps its environment in the sandbox. Afterwards no canary may be in the
server's logs (window/logMessage, window/showMessage, a DEBUG log file in the cache dir, stderr),
`smallcode.status`, the files of the cache dir (SQLite index with its WAL, routing.jsonl, token
ledger), the bodies the endpoint received, or what the sandboxed code could read.

Every canary is random per run, and every search has a positive control (the canary is in the file
it was planted in; the haystack holds what it should), so a search that sees nothing cannot pass.
Assertion messages name canaries, never print the text searched (it may hold the values).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sqlite3
import string
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

from smallcode_lsp.engine.scrub import REDACTED
from tests.fake_endpoint import FakeEndpoint
from tests.server_harness import (
    inline,
    open_document,
    status,
    stop_server,
    uri,
    wait_for_index,
    wait_for_model,
)

KEY_ENV = "SMALLCODE_CANARY_API_KEY"
DUMP = "SANDBOXDUMP"


def _aws_key_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def _pem_lines(n: int) -> list[str]:
    """`n` random base64 lines of a PEM body, 64 characters each: every one is a canary."""
    return [base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(n)]


class Canaries:
    """Every value that must not leak, by a name safe to print."""

    def __init__(self) -> None:
        self.aws_id = _aws_key_id()
        self.aws_secret = base64.b64encode(secrets.token_bytes(30)).decode()  # 40 chars, AWS-shaped
        self.pem_py = _pem_lines(24)  # a multi-line PEM string in settings.py
        self.pem_inline = _pem_lines(2)  # a one-line "...\n..." PEM string in billing.py
        self.pem_file = _pem_lines(8)  # deploy_key.pem
        self.env_token = secrets.token_hex(20)  # .env: API_TOKEN=...
        self.credentials = secrets.token_hex(20)  # credentials.py: a DSN password no pattern catches
        self.api_key = "ck-" + secrets.token_hex(24)  # the server's environment (cloud.apiKeyEnv)

    def in_source(self) -> dict[str, str]:
        """Planted in ordinary source files: indexed like any code, scrubbed when sent."""
        named = {"aws_id": self.aws_id, "aws_secret": self.aws_secret}
        named |= {f"pem_py[{n}]": v for n, v in enumerate(self.pem_py)}
        named |= {f"pem_inline[{n}]": v for n, v in enumerate(self.pem_inline)}
        return named

    def never_read(self) -> dict[str, str]:
        """In secret files (never indexed, sent or copied to the sandbox) or in the environment."""
        named = {"env_token": self.env_token, "credentials": self.credentials, "api_key": self.api_key}
        named |= {f"pem_file[{n}]": v for n, v in enumerate(self.pem_file)}
        return named

    def all(self) -> dict[str, str]:
        return self.in_source() | self.never_read()


def found(text: str, canaries: dict[str, str]) -> list[str]:
    return [name for name, value in canaries.items() if value in text]


# settings.py: the PEM body is lines 3..26, END on 27, the AWS keys on 28-29. A completion at line 40
# sends the window from line 0 (the whole block); one at line 76 sends it from line 16: the window
# (completion/service.py, 60 lines back in steps of 16) starts inside the key, after its BEGIN line.
HOLE_WHOLE_BLOCK = 40
HOLE_CUT_BLOCK = 76
HOLE_IN_KEY = 14  # the end of a line of the key: its BEGIN before the cursor, no END in the 10 after


def settings_py(c: Canaries) -> str:
    lines = ['"""Deployment settings."""', ""]
    lines += [
        'DEPLOY_KEY = """-----BEGIN RSA PRIVATE KEY-----',
        *c.pem_py,
        '-----END RSA PRIVATE KEY-----"""',
    ]
    lines += [f'AWS_ACCESS_KEY_ID = "{c.aws_id}"', f'AWS_SECRET_ACCESS_KEY = "{c.aws_secret}"', ""]
    n = 0
    while len(lines) < 90:
        if len(lines) in (HOLE_WHOLE_BLOCK, HOLE_CUT_BLOCK):
            lines.append(f"# region_{n} retries up to ")  # valid Python: calc.py imports this module
        else:
            lines.append(f'region_{n} = "eu-west-{n}"')
        n += 1
    return "\n".join(lines) + "\n"


def billing_py(c: Canaries) -> str:
    pem = "\\n".join(["-----BEGIN RSA PRIVATE KEY-----", *c.pem_inline, "-----END RSA PRIVATE KEY-----"])
    return (
        "import hmac\n\n\n"
        "def signature(payload):\n"
        f'    pem = "{pem}\\n"\n'
        '    return hmac.new(pem.encode(), payload, "sha256").hexdigest() +\n'
    )


CALC = (
    "from settings import AWS_SECRET_ACCESS_KEY, DEPLOY_KEY\n\n\n"
    "def fingerprint():\n"
    "    return len(AWS_SECRET_ACCESS_KEY) + len(DEPLOY_KEY)\n"
)
CLIENT = (
    "from settings import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, DEPLOY_KEY\n\n\n"
    "def connect(session):\n"
    "    key = AWS_ACCESS_KEY_ID\n"
    "    secret = AWS_SECRET_ACCESS_KEY\n"
    "    pem = DEPLOY_KEY\n"
    "    return \n"
)
FIX_ANSWER = (
    "Fixed:\n```python\ndef signature(payload):\n"
    '    return hmac.new(b"k", payload, "sha256").hexdigest()\n```\n'
)


def plant(root: Path, c: Canaries) -> dict[str, str]:
    """Write the workspace; returns {relative path: text}."""
    files = {
        "settings.py": settings_py(c),
        "billing.py": billing_py(c),
        "calc.py": CALC,
        "client.py": CLIENT,
        ".env": f"DEBUG=1\nAPI_TOKEN={c.env_token}\n",
        "credentials.py": f'DATABASE_URL = "postgresql://app:{c.credentials}@db.internal/prod"\n',
        "deploy_key.pem": "\n".join(
            ["-----BEGIN RSA PRIVATE KEY-----", *c.pem_file, "-----END RSA PRIVATE KEY-----", ""]
        ),
    }
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    # Positive control: each canary is where it was planted (so a broken search would show).
    planted = "".join(files.values())
    in_files = {k: v for k, v in c.all().items() if k != "api_key"}  # that one is in the environment
    assert found(planted, in_files) == list(in_files), "a canary was not planted"
    return files


# The cloud's "tests": one that passes, one that dumps what sandboxed code can see and fails on an
# assertion, so its output comes back through the LSP as a possible bug.
DUMP_TEST = """
def test_sandbox_environment():
    import os

    def read(path):
        try:
            with open(path, "rb") as handle:
                return handle.read().decode("utf-8", "replace").replace("\\0", " ")
        except OSError as error:
            return "unreadable:" + type(error).__name__

    parts = ["ENV=" + repr(dict(os.environ))]
    for pid in ("self", str(os.getppid()), "SERVER_PID"):  # itself, its launcher, the server
        parts.append("PROC" + pid + "=" + repr(read("/proc/" + pid + "/environ")))
    for name in (".env", "credentials.py", "deploy_key.pem"):
        for path in (name, os.path.join("WORKSPACE", name)):
            parts.append("FILE:" + path + "=" + repr(read(path)))
    raise AssertionError("SANDBOXDUMP " + " ; ".join(parts))
"""


def cloud_tests_answer(root: Path, server_pid: int) -> str:
    dump = DUMP_TEST.replace("SERVER_PID", str(server_pid)).replace("WORKSPACE", str(root))
    return (
        "```python\nfrom calc import fingerprint\n\n\n"
        "def test_fingerprint():\n    assert fingerprint() > 0\n\n" + dump + "```\n"
    )


async def start_logged_server(root: Path, cache: Path, options: dict, env: dict[str, str]):
    """`start_server`, plus `--log-file` in the cache dir at DEBUG level: every logger's output."""
    cache.mkdir(parents=True)
    client = make_test_lsp_client()
    await client.start_io(
        sys.executable,
        "-m",
        "smallcode_lsp",
        "--log-file",
        str(cache / "server.log"),
        "--log-level",
        "DEBUG",
        env={**os.environ, "SMALLCODE_CACHE_DIR": str(cache), **env},
    )
    client.init_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uri(root),
            workspace_folders=[types.WorkspaceFolder(uri(root), root.name)],
            initialization_options=options,
        )
    )
    return client


async def command(client, name: str, *arguments):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


async def test_no_canary_leaves_a_session_with_completions_fix_tests_and_a_cloud(
    tmp_path, tiny_model_path, capfd
):
    c = Canaries()
    root, cache = tmp_path / "ws", tmp_path / "cache"
    files = plant(root, c)
    options = {
        "model": {"path": str(tiny_model_path)},
        "completion": {"debounceMs": 0, "maxTokens": 8, "multiline": "never", "prefetch": False},
        "agent": {"maxAttempts": 1, "maxTokens": 32},
        "cloud": {
            "endpoint": "",  # set below, once the endpoint listens
            "timeoutMs": 15000,
            "agentTimeoutMs": 20000,
            "confidenceThreshold": 0.0,  # every completion goes to the cloud
            "apiKeyEnv": KEY_ENV,
        },
    }
    with FakeEndpoint() as endpoint:
        options["cloud"]["endpoint"] = endpoint.url
        client = await start_logged_server(root, cache, options, {KEY_ENV: c.api_key})
        edits: list[types.ApplyWorkspaceEditParams] = []

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def record(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            edits.append(params)
            return types.ApplyWorkspaceEditResult(applied=True)

        results: list = []
        try:
            assert (await wait_for_model(client))["model"]["state"] == "ready"
            assert (await wait_for_index(client))["index"]["state"] == "ready"

            # Completions in the file holding the keys, the whole PEM block in the window, then a
            # window that starts inside the block, then in a file that uses the keys (context).
            settings_uri = open_document(client, root / "settings.py", files["settings.py"])
            for line in (HOLE_WHOLE_BLOCK, HOLE_CUT_BLOCK, HOLE_IN_KEY):
                column = len(files["settings.py"].split("\n")[line])
                results.append(await inline(client, settings_uri, line, column))
            client_uri = open_document(client, root / "client.py", files["client.py"])
            results.append(await inline(client, client_uri, 7, len("    return ")))
            assert [r["path"] for r in endpoint.requests] == ["/v1/completions"] * 4

            # Secret files opened and completed in: answered locally, nothing sent.
            env_uri = open_document(client, root / ".env", files[".env"], language_id="dotenv")
            results.append(await inline(client, env_uri, 1, len("API_TOKEN=")))
            creds_uri = open_document(client, root / "credentials.py", files["credentials.py"])
            results.append(await inline(client, creds_uri, 0, len("DATABASE_URL = ")))
            assert len(endpoint.requests) == 4, "a secret file was sent to the cloud"

            # A fix whose function holds a one-line PEM string: the cloud's turn is verified and applied.
            endpoint.chat_answer = FIX_ANSWER
            billing_uri = open_document(client, root / "billing.py", files["billing.py"])
            fix = await command(
                client, "smallcode.fix", {"uri": billing_uri, "position": {"line": 5, "character": 0}}
            )
            results.append(fix)
            assert fix["verified"] is True and fix["attempts"] == 2, fix.get("error")

            # Tests for a function using the keys; the cloud's tests dump the sandbox's view.
            server_pid = client._server.pid  # the sandboxed code tries to read its environment
            endpoint.chat_answer = cloud_tests_answer(root, server_pid)
            calc_uri = open_document(client, root / "calc.py", files["calc.py"])
            generated = await command(
                client, "smallcode.generateTests", {"uri": calc_uri, "name": "fingerprint"}
            )
            results.append(generated)
            current = await status(client)
        finally:
            await stop_server(client)

    everything = c.all()
    never_read = c.never_read()

    # What the endpoint received: 4 completions and 2 chat turns, every body scrubbed.
    assert [r["path"] for r in endpoint.requests] == ["/v1/completions"] * 4 + ["/v1/chat/completions"] * 2
    bodies = [json.dumps(r["body"]) for r in endpoint.requests]
    assert "AWS_SECRET_ACCESS_KEY" in bodies[0] and "DEPLOY_KEY" in bodies[0]  # the keys' lines went
    # The second window starts inside the PEM block, below DEPLOY_KEY's line: key lines come first.
    cut = endpoint.requests[1]["body"]["prompt"]
    # (Snippets of other files may come first, as comments.)
    assert 'DEPLOY_KEY = """' not in cut and "AWS_ACCESS_KEY_ID = " in cut
    assert "# settings.py" in endpoint.requests[3]["body"]["prompt"]  # its definitions as context
    for n, body in enumerate(bodies):
        assert found(body, everything) == [], f"request {n} ({endpoint.requests[n]['path']}) carried canaries"
    assert all(REDACTED in body for body in bodies)
    assert "\n" + REDACTED + '"""\nAWS_ACCESS_KEY_ID = ' in "\n" + cut  # the cut block's lines, whole
    # The third: the cursor at the end of a line of the key, its END past the suffix's 10 lines.
    in_key = endpoint.requests[2]["body"]
    assert in_key["prompt"].endswith('DEPLOY_KEY = """' + REDACTED) and in_key["suffix"].startswith(REDACTED)
    # Redacting a key keeps the rest: the fix's function and the function under test are still sent.
    assert "def signature" in bodies[4] and "def fingerprint" in bodies[5]
    # The API key: only as the Authorization header, of every request.
    for request in endpoint.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["authorization"] == f"Bearer {c.api_key}"
        others = json.dumps({k: v for k, v in headers.items() if k != "authorization"})
        assert c.api_key not in others

    # The sandboxed code's view came back as a possible bug; it held none of the canaries.
    bugs = generated["possibleBugs"]
    assert [b["test"] for b in bugs] == ["test_sandbox_environment"], generated
    failure = bugs[0]["failure"]
    assert DUMP in failure and "'HOME':" in failure and "PYTHONHASHSEED=0" in failure  # the dump ran
    assert f"PROC{server_pid}=" in failure  # it tried the server's /proc/PID/environ
    assert f"FILE:{root / '.env'}=" in failure and "FILE:deploy_key.pem=" in failure
    assert found(failure, everything) == [], "the sandbox could read canaries"
    assert generated["kept"] == 1 and edits, "the passing cloud test was not applied"

    # The editor's side: command results, completion items, edits, messages, logs, status.
    replies = json.dumps([r if isinstance(r, dict) else str(r) for r in results])
    assert DUMP in replies
    assert found(replies, everything) == [], "a reply to the editor carried canaries"
    applied = json.dumps([str(e) for e in edits])
    assert "signature" in applied and found(applied, everything) == []
    shown = "\n".join(m.message for m in client.messages)
    logged = "\n".join(m.message for m in client.log_messages)
    assert "possible bug in fingerprint" in shown
    assert found(shown, everything) == [] and found(logged, everything) == []
    dumped_status = json.dumps(current)
    assert current["requests"]["route.scrubbed"] >= 4 and current["requests"]["route.cloudServed"] == 4
    assert found(dumped_status, everything) == [], "smallcode.status carried canaries"
    stderr = capfd.readouterr().err
    assert found(stderr, everything) == [], "the server's stderr carried canaries"

    # The cache dir, byte for byte (index database with WAL and shm, routing log, token ledger, log).
    cache_files = {p.relative_to(cache).as_posix(): p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    log_text = cache_files["server.log"].decode("utf-8", "replace")
    assert "DEBUG" in log_text and "smallcode_lsp" in log_text  # the server logged at DEBUG level
    assert b'"outcome": "served"' in cache_files["routing.jsonl"]
    index_files = [name for name in cache_files if name.startswith("index/")]
    assert any(name.endswith(".sqlite3") for name in index_files), sorted(cache_files)
    for name, data in cache_files.items():
        text = data.decode("latin-1")  # raw bytes: canaries are ASCII
        # The index is a cache of the workspace's own code: the keys in ordinary source are in it
        # (checked below, which also shows this scan sees chunk text); nothing else may be anywhere.
        expected_clean = never_read if name in index_files else everything
        assert found(text, expected_clean) == [], f"{name} in the cache dir holds canaries"
    index_bytes = b"".join(cache_files[name] for name in index_files).decode("latin-1")
    assert c.aws_secret in index_bytes and c.pem_py[0] in index_bytes  # positive control of the scan
    [database] = [cache / name for name in index_files if name.endswith(".sqlite3")]
    with contextlib.closing(sqlite3.connect(database)) as conn:
        indexed = {Path(row[0]).name for row in conn.execute("SELECT path FROM files")}
    assert {"settings.py", "billing.py", "calc.py"} <= indexed
    assert not indexed & {".env", "credentials.py", "deploy_key.pem"}  # secret files: not indexed


SANDBOX_DUMP = """
import os, sys
from smallcode_lsp.agent.sandbox import Isolation, Sandbox

sandbox = Sandbox()
if sys.argv[1] == "fallback":  # what a machine without user namespaces gets
    sandbox.__dict__["isolation"] = Isolation(False, False, "forced for the test")
elif not sandbox.isolation.network:
    print("NO-NAMESPACES")
    sys.exit(0)
code = '''
import os
def read(path):
    try:
        return open(path, "rb").read().decode("utf-8", "replace")
    except OSError as error:
        return "unreadable:" + type(error).__name__
def parent(pid):
    try:
        return int(open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0
pids, pid = [], os.getpid()
while pid > 1 and len(pids) < 5:  # up from the run (through the launcher) to the caller, no further
    pids.append(pid)
    if pid == CALLER:
        break
    pid = parent(pid)
print("ENV=" + repr(dict(os.environ)))
for pid in ["self", "CALLER"] + pids:  # the caller by its pid too: the direct way
    print("PROC%s=%r" % (pid, read("/proc/%s/environ" % pid)))
'''
result = sandbox.run(["{python}", "-c", code.replace("CALLER", str(os.getpid()))], {})
print(result.status)
print(result.output)
"""


def _sandbox_output(mode: str, api_key: str) -> str:
    """Run code in `Sandbox` from a process whose environment holds the key from its start (as the
    server's does: /proc/PID/environ shows the environment a process was started with)."""
    done = subprocess.run(
        [sys.executable, "-c", SANDBOX_DUMP, mode],
        env={**os.environ, KEY_ENV: api_key},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_sandbox_sees_no_api_key_from_its_environment_or_its_callers():
    api_key = "ck-" + secrets.token_hex(24)
    out = _sandbox_output("isolated", api_key)
    if out.startswith("NO-NAMESPACES"):
        pytest.skip("user namespaces are not allowed here: see the fallback test")
    assert out.startswith("passed") and "'HOME':" in out and "PROCself=" in out, out[:200]
    assert found(out, {"api_key": api_key}) == [], "sandboxed code read the API key"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="known leak, as root only: without user namespaces (Isolation(network=False)) the sandbox "
    "keeps the host's /proc; the caller makes itself non-dumpable, which keeps /proc/<pid>/environ "
    "from same-user code but not from root (these tests run as root)",
)
def test_without_namespaces_the_sandbox_still_cannot_read_the_callers_environment():
    api_key = "ck-" + secrets.token_hex(24)
    out = _sandbox_output("fallback", api_key)
    # The set-up must work for real (pytest.fail is not the AssertionError this xfail expects).
    if not (out.startswith("passed") and "'HOME':" in out and "PROCCALLER=" not in out):
        pytest.fail(f"the sandbox did not run the dump: {out[:200]}")
    own = out.split("ENV=", 1)[1].split("\nPROC", 1)[0]
    if found(own, {"api_key": api_key}):
        pytest.fail("the sandbox's own environment holds the API key")
    leaked = found(out, {"api_key": api_key})
    assert leaked == [], "sandboxed code read the API key from its caller's /proc/PID/environ"
