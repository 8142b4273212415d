"""A raw stdio driver: writes arbitrary bytes to the server and reads its answers strictly.

`clients/lsp_client.py` (and pygls's client) can only send well-formed messages; framing faults need
the bytes under our control. The reader, in turn, holds the server to the protocol on its side:
every frame it writes must have an exact Content-Length and a strict JSON body (no NaN), or the run
records `bad output`. Requests from the server get neutral answers, written between actions so
they never land inside a fault that spans several writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def id_key(value: Any) -> str:
    """A dictionary key that tells 1 from "1"."""
    return json.dumps(value, sort_keys=True)


def _answer_for(method: str, params: Any) -> Any:
    """A neutral client answer: no settings, edits declined, everything else acknowledged."""
    if method == "workspace/configuration":
        items = params.get("items", []) if isinstance(params, dict) else []
        return [None] * len(items)
    if method == "workspace/applyEdit":
        return {"applied": False, "failureReason": "the fuzzer never edits files"}
    return None


class Driver:
    """One server process; responses are matched to waiters by id (duplicates in order)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.write_lock = asyncio.Lock()
        self.waiters: dict[str, deque[asyncio.Future[dict[str, Any]]]] = defaultdict(deque)
        self.null_responses: list[dict[str, Any]] = []
        self.unexpected: list[dict[str, Any]] = []
        self.late: set[str] = set()
        self.bad_output: str | None = None
        self.notifications = 0
        self.server_requests = 0
        self.bytes_sent = 0
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def start(cls, command: list[str], env: dict[str, str], cwd: Path, stderr_path: Path) -> Driver:
        with open(stderr_path, "ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=str(cwd),
                limit=1 << 20,
            )
        return cls(process)

    # ----------------------------------------------------------------- writing

    def alive(self) -> bool:
        return self.process.returncode is None and not self._reader.done()

    async def write(self, data: bytes) -> None:
        """Write and drain (the caller holds `write_lock` when the bytes are a partial frame)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)
        self.bytes_sent += len(data)
        await stdin.drain()

    def expect(self, msg_id: Any) -> asyncio.Future[dict[str, Any]]:
        """Register interest in the next response with this id (before sending the request)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[id_key(msg_id)].append(future)
        return future

    def give_up(self, msg_id: Any, future: asyncio.Future[dict[str, Any]]) -> None:
        """A waiter timed out: a response that still comes for it is late, not unexpected."""
        key = id_key(msg_id)
        with contextlib.suppress(ValueError):
            self.waiters[key].remove(future)
        self.late.add(key)

    async def close_stdin(self) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
            with contextlib.suppress(Exception):
                await stdin.wait_closed()

    async def wait_exit(self, timeout: float) -> int | None:
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            return None

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    # ----------------------------------------------------------------- reading

    async def _read_frame(self) -> dict[str, Any] | None:
        stdout = self.process.stdout
        assert stdout is not None
        length = None
        while True:
            line = await stdout.readline()
            if not line:
                return None
            if not line.endswith(b"\r\n"):
                raise ValueError(f"header line not ended by CRLF: {line[:80]!r}")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise ValueError("a frame without Content-Length")
        body = await stdout.readexactly(length)
        message = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            raise ValueError(f"not a JSON-RPC 2.0 message: {body[:200]!r}")
        return message

    async def _read_loop(self) -> None:
        try:
            while (message := await self._read_frame()) is not None:
                self._dispatch(message)
        except asyncio.IncompleteReadError:
            self.bad_output = "the server's output ended inside a frame"
        except (ValueError, UnicodeDecodeError) as exc:
            self.bad_output = f"malformed output from the server: {exc}"

    def _dispatch(self, message: dict[str, Any]) -> None:
        message["_received"] = time.perf_counter()
        if "method" in message:
            if "id" in message:
                self.server_requests += 1
                answer = {"jsonrpc": "2.0", "id": message["id"]}
                answer["result"] = _answer_for(message["method"], message.get("params"))
                asyncio.ensure_future(self._send_answer(answer))
            else:
                self.notifications += 1
            return
        if message.get("id") is None:
            self.null_responses.append(message)
            return
        key = id_key(message["id"])
        queue = self.waiters.get(key)
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(message)
                return
        if key in self.late:
            return
        self.unexpected.append(message)

    async def _send_answer(self, answer: dict[str, Any]) -> None:
        body = json.dumps(answer, separators=(",", ":")).encode("utf-8")
        async with self.write_lock:
            if self.alive():
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
