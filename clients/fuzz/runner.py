"""Run sessions against fresh server processes and judge every answer with the oracle.

Per action: write its frames (holding the write lock, so the driver's answers to server requests
never land inside a partial frame), then wait for each expected response within its timeout. After
a fault action a sync request (`fuzz/ping`) acts as a barrier: the server handles messages in order,
so by the time the ping is answered every id-null error the fault must cause has arrived, and
anything else that arrived is a violation.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.fuzz.driver import Driver
from clients.fuzz.frames import Action, Msg, Raw, encode
from clients.fuzz.oracle import Expect, SessionModel, error
from clients.fuzz.workspace import HEALTH_SOURCE, MARKER_SYMBOL, World

EXIT_TIMEOUT_S = 15.0
STUCK_AFTER_HANGS = 3  # consecutive unanswered requests: the server is stuck, end the session


@dataclass
class Violation:
    """One broken promise; `signature` is what a minimized case must still reproduce."""

    # crash | hang | wrong_answer | unexpected_response | null_errors | bad_output | exit | health | canary
    kind: str
    method: str
    detail: str
    session: int = -1
    action: int = -1
    action_kind: str = ""

    @property
    def signature(self) -> tuple[str, str]:
        return self.kind, self.method

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "detail": self.detail[:2000],
            "session": self.session,
            "action": self.action,
            "actionKind": self.action_kind,
        }


@dataclass
class Stats:
    messages: Counter[str] = field(default_factory=Counter)  # frames sent, by category
    kinds: Counter[str] = field(default_factory=Counter)  # actions run, by kind
    requests: int = 0
    answered: int = 0
    results: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    null_errors: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    latencies_by_method: dict[str, list[float]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    server_notifications: int = 0
    server_requests: int = 0
    bytes_sent: int = 0
    tracebacks: int = 0
    sessions: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for v in self.violations if v.kind == kind)


@dataclass
class _Pending:
    msg_id: Any
    expect: Expect
    future: asyncio.Future[dict[str, Any]]
    sent: float = 0.0


class SessionRunner:
    """One server process from start to exit."""

    def __init__(self, world: World, stats: Stats, index: int, verbose: bool = False) -> None:
        self.verbose = verbose
        self.world = world
        self.stats = stats
        self.index = index
        self.model = SessionModel()
        self.driver: Driver | None = None
        self.action_index = -1
        self.action_kind = "start"
        self.pings = 0
        self.hangs_in_a_row = 0

    @property
    def stderr_path(self):
        return self.world.workdir / f"server-stderr-{self.index}.log"

    def violate(self, kind: str, method: str, detail: str) -> None:
        violation = Violation(kind, method, detail, self.index, self.action_index, self.action_kind)
        self.stats.violations.append(violation)
        if self.verbose:
            print(f"! {violation.to_json()}"[:1500], file=sys.stderr, flush=True)

    async def run(
        self,
        actions: list[Action],
        *,
        final: bool = False,
        teardown: str = "exit",
        stop_when: Callable[[Violation], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Run `actions`; the health check when `final`; then shut down as `teardown` says.
        `stop_when` ends the actions early once a violation satisfies it (the minimizer's replays)."""
        self.stats.sessions += 1
        self.world.cache_dir(self.index).mkdir(parents=True, exist_ok=True)
        self.stderr_path.write_bytes(b"")
        driver = self.driver = await Driver.start(
            self.world.server_command(),
            self.world.server_env(self.index),
            self.world.workdir,
            self.stderr_path,
        )
        health = None
        try:
            alive = True
            for index, action in enumerate(actions):
                self.action_index, self.action_kind = index, action.kind
                self.stats.kinds[action.kind] += 1
                if self.verbose:
                    print(f"[{self.index}:{index}] {action.kind}", file=sys.stderr, flush=True)
                alive = await self._action(action)
                if not alive or (stop_when is not None and any(map(stop_when, self.stats.violations))):
                    break
            if alive and final:
                self.action_index, self.action_kind = len(actions), "health"
                health = await self._health()
            if alive:
                self.action_index, self.action_kind = len(actions) + 1, f"teardown.{teardown}"
                await self._teardown(teardown)
        finally:
            self.stats.server_notifications += driver.notifications
            self.stats.server_requests += driver.server_requests
            self.stats.bytes_sent += driver.bytes_sent
            await driver.kill()
            self.stats.tracebacks += self.stderr_path.read_bytes().count(b"Traceback (most recent call last)")
        return health

    # ----------------------------------------------------------------- one action

    async def _action(self, action: Action) -> bool:
        driver = self.driver
        assert driver is not None
        pending: list[_Pending] = []
        null_expected: Counter[int] = Counter()
        barrier = action.category != "valid"
        async with driver.write_lock:
            for frame in action.frames:
                added: list[_Pending] = []
                if isinstance(frame, Msg):
                    outcome = self.model.on_message(frame.body, frame.hint)
                    if outcome is not None:
                        msg_id, expect = outcome
                        if msg_id is None:
                            null_expected.update(expect.errors)
                            barrier = True
                        else:
                            added.append(_Pending(msg_id, expect, driver.expect(msg_id)))
                else:
                    null_expected.update(frame.null_errors)
                    for msg_id, code in frame.id_errors:
                        added.append(_Pending(msg_id, error("raw frame", code), driver.expect(msg_id)))
                    barrier = True
                if not await self._write(encode(frame), action.category):
                    return False
                now = time.perf_counter()
                for item in added:
                    item.sent = now
                pending += added
                if isinstance(frame, Raw) and frame.delay:
                    await asyncio.sleep(frame.delay)
        for item in pending:
            if not await self._settle(item):
                return False
        if barrier and not await self._ping():
            return False
        return self._check_stray(null_expected)

    async def _write(self, data: bytes, category: str) -> bool:
        driver = self.driver
        assert driver is not None
        try:
            await driver.write(data)
        except (ConnectionError, RuntimeError) as exc:
            await self._crashed(f"writing failed: {exc}")
            return False
        self.stats.messages[category] += 1
        return True

    async def _settle(self, item: _Pending) -> bool:
        """Wait for one response and judge it; False when the server is gone or stuck."""
        driver = self.driver
        assert driver is not None
        self.stats.requests += 1
        reader = driver._reader
        done, _ = await asyncio.wait(
            {item.future, reader}, timeout=item.expect.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if item.future not in done:
            if not driver.alive() or reader in done:
                await self._crashed(
                    f"no answer to {item.expect.method} (id {item.msg_id!r}): the server is gone"
                )
                return False
            driver.give_up(item.msg_id, item.future)
            self.violate(
                "hang", item.expect.method, f"no answer to id {item.msg_id!r} within {item.expect.timeout} s"
            )
            self.hangs_in_a_row += 1
            return self.hangs_in_a_row < STUCK_AFTER_HANGS  # else the server is stuck: end the session
        self.hangs_in_a_row = 0
        response = item.future.result()
        self.stats.answered += 1
        latency = response["_received"] - item.sent
        self.stats.latencies.append(latency)
        self.stats.latencies_by_method.setdefault(item.expect.method, []).append(latency)
        if "error" in response:
            code = response["error"].get("code") if isinstance(response["error"], dict) else None
            self.stats.errors[code] += 1
        else:
            self.stats.results += 1
        problem = item.expect.judge(response)
        if problem:
            self.violate("wrong_answer", item.expect.method, f"id {item.msg_id!r}: {problem}")
        return True

    async def _ping(self) -> bool:
        """A barrier: an unknown-method request whose answer the lifecycle state decides."""
        self.pings += 1
        body = {"jsonrpc": "2.0", "id": f"sync-{self.pings}", "method": "fuzz/ping"}
        return await self._send_and_settle(body, "sync") is not None

    async def _send_and_settle(
        self, body: dict[str, Any], category: str, hint: dict | None = None
    ) -> dict | None:
        """Send one message and (for a request) wait for its judged answer; None if the server died."""
        driver = self.driver
        assert driver is not None
        outcome = self.model.on_message(body, hint)
        item = None
        async with driver.write_lock:
            if outcome is not None and outcome[0] is not None:
                item = _Pending(outcome[0], outcome[1], driver.expect(outcome[0]))
            if not await self._write(encode(Msg(body)), category):
                return None
            if item is not None:
                item.sent = time.perf_counter()
        if item is None:
            return {}
        if not await self._settle(item):
            return None
        return item.future.result() if item.future.done() else {}

    def _check_stray(self, null_expected: Counter[int]) -> bool:
        """Id-null errors must be exactly the expected ones; no response may come unasked."""
        driver = self.driver
        assert driver is not None
        got: Counter[int] = Counter()
        for response in driver.null_responses:
            error_part = response.get("error")
            got[error_part.get("code") if isinstance(error_part, dict) else "result"] += 1  # type: ignore[index]
        driver.null_responses.clear()
        self.stats.null_errors.update(got)
        if got != null_expected:
            self.violate("null_errors", "id null", f"expected {dict(null_expected)}, got {dict(got)}")
        for response in driver.unexpected:
            response.pop("_received", None)
            self.violate("unexpected_response", "response", str(response)[:500])
        driver.unexpected.clear()
        if driver.bad_output:
            self.violate("bad_output", "output", driver.bad_output)
            return False
        return True

    async def _crashed(self, detail: str) -> None:
        driver = self.driver
        assert driver is not None
        code = await driver.wait_exit(2.0)
        tail = self.stderr_path.read_bytes()[-3000:].decode("utf-8", "replace")
        self.violate("crash", "process", f"{detail}; exit code {code}; stderr tail:\n{tail}")

    # ----------------------------------------------------------------- health and teardown

    async def _health(self) -> dict[str, Any]:
        """After everything: the server still completes and still finds symbols."""
        result: dict[str, Any] = {"ok": False}
        root = self.world.root_uri
        call = self._health_call
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = await call("workspace/executeCommand", {"command": "smallcode.status"})
            state = (status or {}).get("result") or {}
            if state.get("model", {}).get("state") in ("ready", "error") and state.get("index", {}).get(
                "state"
            ) in ("ready", "error"):
                break
            await asyncio.sleep(0.2)
        result["model"] = state.get("model", {}).get("state")
        result["index"] = state.get("index", {}).get("state")
        uri = f"{root}/zz_health_check.py"
        item = {"uri": uri, "languageId": "python", "version": 1, "text": HEALTH_SOURCE}
        await self._send_and_settle(
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}}, "health"
        )
        inline = await call(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 5, "character": 11},
                "context": {"triggerKind": 1},
            },
        )
        items = ((inline or {}).get("result") or {}).get("items") or []
        result["completion"] = items[0].get("insertText") if items else None
        symbols = await call("workspace/symbol", {"query": MARKER_SYMBOL})
        found = [s for s in (symbols or {}).get("result") or [] if s.get("name") == MARKER_SYMBOL]
        result["symbol"] = found[0]["location"]["uri"] if found else None
        outline = await call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        result["documentSymbols"] = [s.get("name") for s in (outline or {}).get("result") or []]
        result["ok"] = bool(
            result["completion"]
            and result["symbol"] == self.world.marker_uri
            and "greet" in result["documentSymbols"]
        )
        if not result["ok"]:
            self.violate("health", "health", str(result))
        return result

    async def _health_call(self, method: str, params: Any) -> dict[str, Any] | None:
        self.pings += 1
        body = {"jsonrpc": "2.0", "id": f"health-{self.pings}", "method": method, "params": params}
        return await self._send_and_settle(body, "health")

    async def _teardown(self, how: str) -> None:
        driver = self.driver
        assert driver is not None
        if how == "eof":  # stdin ends in the middle of a body: the server must notice and exit
            async with driver.write_lock:
                await self._write(b'Content-Length: 100\r\n\r\n{"jsonrpc":"2.0","id":', "framing")
            await driver.close_stdin()
            code = await driver.wait_exit(EXIT_TIMEOUT_S)
            self.stats.exit_codes.append(code)
            if code is None:
                self.violate("hang", "end of input", f"still running {EXIT_TIMEOUT_S} s after stdin closed")
            return
        shutdown = {"jsonrpc": "2.0", "id": "teardown", "method": "shutdown"}
        if self.model.state == "running" and await self._send_and_settle(shutdown, "valid") is None:
            return
        expected = 0 if self.model.state == "shutdown" else 1
        await self._send_and_settle({"jsonrpc": "2.0", "method": "exit"}, "valid")
        code = await driver.wait_exit(EXIT_TIMEOUT_S)
        self.stats.exit_codes.append(code)
        if code is None:
            self.violate("hang", "exit", f"still running {EXIT_TIMEOUT_S} s after exit")
        elif code != expected:
            self.violate(
                "exit",
                "exit",
                f"exit code {code}, expected {expected} (shutdown {'sent' if expected == 0 else 'not sent'})",
            )
