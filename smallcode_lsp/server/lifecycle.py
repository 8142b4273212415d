"""How the server process ends: exit codes, the editor dying, signals, and the children it leaves.

The LSP contract: `exit` after `shutdown` exits 0, `exit` without it exits 1, and a server whose
editor (`processId`) died exits on its own. pygls raises SystemExit inside the event loop and then
lets `asyncio.run` wait for every executor thread, so a running index build, a generation or a
sandbox run could hold the process for minutes and the exit code came out 0 either way. Every way
out therefore goes through `exit_now`: kill our child processes (sandbox runs, index workers), give
the atexit hooks a bounded moment (sandbox temp dirs, log flushing), then `os._exit` with the code.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from lsprotocol import types

from smallcode_lsp.process_tree import descendants, process_alive

log = logging.getLogger(__name__)

PARENT_POLL_S = 1.0
_ATEXIT_BUDGET_S = 2.0
_exiting = threading.Lock()


def exit_code(server: Any) -> int:
    """0 once `shutdown` was answered, else 1 (pygls tracks it on the protocol)."""
    return 0 if getattr(server.protocol, "_shutdown", False) else 1


def register(server: Any) -> None:
    """Handle `exit` ourselves (pygls would wait on executor threads and exit 0 regardless)."""

    @server.feature(types.EXIT)
    def on_exit(ls: Any, *args: Any) -> None:
        exit_now(ls, exit_code(ls), "exit notification")


def install(server: Any) -> BinaryIO:
    """Signal handlers and the editor watch; returns the stdin to serve (it exits the process at EOF)."""
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread / not on this platform
            signal.signal(signum, lambda number, _frame: exit_now(server, 128 + number, f"signal {number}"))
    threading.Thread(target=_watch_editor, args=(server,), name="smallcode-editor-watch", daemon=True).start()
    return _EofExit(sys.stdin.buffer, lambda: exit_now(server, exit_code(server), "stdin closed"))


class _EofExit:
    """stdin for pygls: the editor closing the pipe ends the process at once (nothing to serve)."""

    def __init__(self, stream: BinaryIO, on_eof: Callable[[], None]) -> None:
        self._stream = stream
        self._on_eof = on_eof

    def readline(self) -> bytes:
        data = self._stream.readline()
        if not data:
            self._on_eof()
        return data

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if not data and size:
            self._on_eof()
        return data


def _watch_editor(server: Any) -> None:
    """Poll the editor's process id (known once `initialize` arrived); exit when it is gone."""
    stop = threading.Event()
    while not stop.wait(PARENT_POLL_S):
        pid = getattr(server, "process_id", None)
        if isinstance(pid, int) and pid > 0 and pid != os.getpid() and not process_alive(pid):
            exit_now(server, exit_code(server), f"the editor (process {pid}) is gone")


def kill_descendants() -> list[int]:
    """SIGKILL our process tree (and the process groups our children lead, e.g. sandbox runs)."""
    own_group = os.getpgrp()
    killed = descendants()
    for pid in killed:
        with contextlib.suppress(OSError):
            group = os.getpgid(pid)
            if group == pid and group != own_group:
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return killed


def _cancel_work(server: Any) -> None:
    """Ask running work to stop (generations, index builds) so the atexit hooks find little to do."""
    from smallcode_lsp.server.indexing import cancel_indexing

    for event in list(getattr(server, "inflight", {}).values()):
        event.set()
    cancel_indexing(server)


def exit_now(server: Any, code: int, reason: str) -> None:
    """End the process with `code` now, from any thread, leaving no child process behind."""
    if not _exiting.acquire(blocking=False):
        return  # another thread is already on its way out
    log.info("exiting (%s) with code %d", reason, code)
    with contextlib.suppress(Exception):
        _cancel_work(server)
    with contextlib.suppress(Exception):
        kill_descendants()
    # Hooks such as the sandbox's temp-dir cleanup; some (executor joins) can block on busy threads,
    # so they get a bounded moment on a thread of their own.
    hooks = threading.Thread(target=atexit._run_exitfuncs, name="smallcode-atexit", daemon=True)
    hooks.start()
    hooks.join(_ATEXIT_BUDGET_S)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)
