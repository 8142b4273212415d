"""A minimal asyncio LSP client over a subprocess's stdio, for benchmarks that talk to the server as an
editor does (no pytest needed, and every message's timing stays under the caller's control).

    client = await LspClient.start(sys.executable, "-m", "smallcode_lsp", env=env)
    await client.initialize(root)
    client.notify("initialized", {})
    status = await client.request("workspace/executeCommand", {"command": "smallcode.status"})
    await client.stop()

Requests from the server (progress tokens, configuration pulls, registrations) get harmless answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[Any], Any]


class LspError(Exception):
    """An error response from the server."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message')} (code {error.get('code')})")
        self.code = error.get("code")


def _default_answer(method: str, params: Any) -> Any:
    """A neutral reply to a server->client request: no settings, nothing to do."""
    if method == "workspace/configuration":
        return [None] * len((params or {}).get("items", []))
    return None


class LspClient:
    """JSON-RPC with Content-Length framing; one reader task matches responses to requests."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.notifications: list[tuple[str, Any]] = []  # everything the server sent unasked
        self.on_request: dict[str, Handler] = {}  # custom answers to server->client requests
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def start(
        cls,
        *command: str,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stderr: Any = asyncio.subprocess.DEVNULL,
    ) -> LspClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=cwd,
            limit=1 << 20,
        )
        return cls(process)

    # ----------------------------------------------------------------- messages

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}, separators=(",", ":")).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send_request(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[Any]]:
        """Send a request without waiting; the id lets the caller send `$/cancelRequest` for it."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        future.add_done_callback(lambda _: self._pending.pop(request_id, None))
        self._send({"id": request_id, "method": method, "params": params})
        return request_id, future

    async def request(self, method: str, params: Any = None, timeout: float = 60.0) -> Any:
        """Send a request and wait for its result (raises LspError on an error response)."""
        _, future = self.send_request(method, params)
        return await asyncio.wait_for(future, timeout)

    def cancel(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    async def _read_message(self) -> dict[str, Any] | None:
        stdout = self.process.stdout
        assert stdout is not None
        length = None
        while True:
            line = await stdout.readline()
            if not line:
                return None  # the server exited
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("LSP message without Content-Length")
        return json.loads(await stdout.readexactly(length))

    async def _read_loop(self) -> None:
        try:
            while (message := await self._read_message()) is not None:
                self._dispatch(message)
        finally:
            for method, future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{method}: server closed the connection"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:  # a response
            method_and_future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
            if method_and_future is not None and not method_and_future[1].done():
                sent, future = method_and_future
                if "error" in message:
                    future.set_exception(LspError(sent, message["error"]))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:  # a request from the server: always answer, or it may wait forever
            handler = self.on_request.get(method)
            params = message.get("params")
            result = handler(params) if handler else _default_answer(method, params)
            self._send({"id": message["id"], "result": result})
        else:
            self.notifications.append((method, message.get("params")))

    # ----------------------------------------------------------------- session

    async def initialize(
        self, root: Path | None, options: dict[str, Any] | None = None, capabilities: dict | None = None
    ) -> dict[str, Any]:
        """Send `initialize` (not `initialized`: callers time from that one)."""
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "capabilities": capabilities or {},
            "rootUri": root.resolve().as_uri() if root else None,
            "workspaceFolders": [{"uri": root.resolve().as_uri(), "name": root.name}] if root else None,
        }
        if options is not None:
            params["initializationOptions"] = options
        return await self.request("initialize", params)

    async def stop(self, timeout: float = 15.0) -> int | None:
        """shutdown + exit, then wait for the process (killed if it lingers); returns its exit code."""
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout)
            self.notify("exit")
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return self.process.returncode
