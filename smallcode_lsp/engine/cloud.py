"""A client for an OpenAI-compatible endpoint: fill-in-the-middle via `/v1/completions`.

Only the router calls it, and only for requests it judged too hard for the local model (router.py).
Every call is bounded by a deadline; connection failures are retried with a short backoff while the
deadline allows, HTTP errors and bad answers are not. A circuit breaker stops calling an endpoint
that keeps failing, for a while, so a dead server costs each keystroke nothing. The API key is read
from the environment variable the settings name, at call time; it is never stored, logged or shown.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from smallcode_lsp.config import CloudSettings

log = logging.getLogger(__name__)

FAILURES_TO_OPEN = 3  # consecutive failures that open the circuit
OPEN_SECONDS = 30.0  # how long an open circuit refuses calls before trying again
_RETRY_BACKOFF_S = (0.05, 0.15)
_CONNECTION_ERRORS = (ConnectionError, socket.timeout, OSError)


class CloudError(RuntimeError):
    """The endpoint gave no usable answer; the message says why (never the key or the code)."""


@dataclass(frozen=True)
class CloudAnswer:
    text: str
    tokens: int  # completion tokens, as the endpoint reported them (0 when it did not)
    seconds: float


class CircuitBreaker:
    """Closed -> open after `FAILURES_TO_OPEN` failures in a row -> half-open after `OPEN_SECONDS`
    (one trial call) -> closed on success. `on_open` is told the first time it opens in a row."""

    def __init__(self, on_open: Callable[[str], None] | None = None, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._on_open = on_open
        self._clock = clock

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._clock() - self._opened_at >= OPEN_SECONDS else "open"

    def allows(self) -> bool:
        return self.state != "open"

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._opened_at = 0, None

    def failed(self, reason: str) -> None:
        notify = False
        with self._lock:
            self._failures += 1
            if self._failures >= FAILURES_TO_OPEN:
                notify = self._opened_at is None
                self._opened_at = self._clock()
        if notify and self._on_open is not None:
            self._on_open(reason)


class CloudClient:
    def __init__(self, settings: CloudSettings, on_open: Callable[[str], None] | None = None) -> None:
        if not settings.endpoint:
            raise ValueError("no cloud.endpoint configured")
        parts = urlsplit(settings.endpoint.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"cloud.endpoint must be an http(s) URL, not {settings.endpoint!r}")
        self.settings = settings
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        base = parts.path.rstrip("/")
        version = base if base.endswith("/v1") else base + "/v1"
        self._completions_path = version + "/completions"
        self._chat_path = version + "/chat/completions"
        self.breaker = CircuitBreaker(on_open)
        self._lock = threading.Lock()  # one kept-alive connection, one request at a time
        self._connection: http.client.HTTPConnection | None = None

    def complete_fim(self, prefix: str, suffix: str, *, max_tokens: int, deadline_s: float) -> CloudAnswer:
        """The endpoint's infill between `prefix` and `suffix`; raises CloudError."""
        body = {
            "prompt": prefix,
            "suffix": suffix,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": False,
        }
        return self._call(self._completions_path, body, _first_choice_text, deadline_s)

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int, deadline_s: float) -> CloudAnswer:
        """The endpoint's next assistant turn after `messages` (fix and tests); raises CloudError."""
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": False}
        return self._call(self._chat_path, body, _first_message_text, deadline_s)

    def _call(
        self, path: str, body: dict, answer_text: Callable[[dict], str], deadline_s: float
    ) -> CloudAnswer:
        """POST `body` through the circuit breaker; the answer's text and reported token count."""
        if not self.breaker.allows():
            raise CloudError("circuit open: the endpoint failed repeatedly")
        if self.settings.model:
            body = {**body, "model": self.settings.model}
        started = time.monotonic()
        try:
            payload = self._post(path, body, started + deadline_s)
            text = answer_text(payload)
        except CloudError as exc:
            self.breaker.failed(str(exc))
            raise
        self.breaker.succeeded()
        usage = payload.get("usage")
        tokens = usage.get("completion_tokens", 0) if isinstance(usage, dict) else 0
        return CloudAnswer(text, int(tokens) if isinstance(tokens, int) else 0, time.monotonic() - started)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        name = self.settings.api_key_env
        key = os.environ.get(name) if name else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, path: str, body: dict, deadline: float) -> dict:
        data = json.dumps(body).encode("utf-8")
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CloudError("timed out")
            try:
                with self._lock:
                    return self._exchange(path, data, remaining)
            except CloudError:
                raise
            except http.client.HTTPException as exc:  # not HTTP at all, or cut short
                self._drop_connection()
                if isinstance(exc, http.client.RemoteDisconnected) and attempt < len(_RETRY_BACKOFF_S):
                    time.sleep(_RETRY_BACKOFF_S[attempt])  # a kept-alive connection the server closed
                    attempt += 1
                    continue
                raise CloudError(f"bad HTTP response: {type(exc).__name__}") from None
            except _CONNECTION_ERRORS as exc:
                self._drop_connection()
                if isinstance(exc, socket.timeout) or attempt >= len(_RETRY_BACKOFF_S):
                    raise CloudError(f"connection failed: {type(exc).__name__}") from None
                pause = _RETRY_BACKOFF_S[attempt]
                attempt += 1
                if time.monotonic() + pause >= deadline:
                    raise CloudError(f"connection failed: {type(exc).__name__}") from None
                time.sleep(pause)

    def _exchange(self, path: str, data: bytes, timeout: float) -> dict:
        connection = self._connection
        if connection is None:
            kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            connection = self._connection = kind(self._host, self._port, timeout=timeout)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", path, body=data, headers=self._headers())
        response = connection.getresponse()
        raw = response.read(4 << 20)
        if response.status != 200:
            if response.getheader("connection", "").lower() == "close":
                self._drop_connection_locked()
            raise CloudError(f"HTTP {response.status}")
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise CloudError("the answer is not JSON") from None
        if not isinstance(payload, dict):
            raise CloudError("the answer is not a JSON object")
        return payload

    def _drop_connection(self) -> None:
        with self._lock:
            self._drop_connection_locked()

    def _drop_connection_locked(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._drop_connection()


def _first_choice_text(payload: dict) -> str:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CloudError("the answer has no choices")
    text = choices[0].get("text")
    if not isinstance(text, str):
        raise CloudError("the first choice has no text")
    return text


def _first_message_text(payload: dict) -> str:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CloudError("the answer has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise CloudError("the first choice has no message content")
    return content
