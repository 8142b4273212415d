"""A client for an OpenAI-compatible endpoint: fill-in-the-middle via `/v1/completions`, fix and
test turns via `/v1/chat/completions`, both streamed.

Streaming lets an inline completion stop reading (and the server stop generating) as soon as the
stop rules say the suggestion is complete, instead of paying for `max_tokens` of text that the
editor would cut. Servers that ignore `stream` and answer with one JSON object work too.

Only the router calls it, and only for requests it judged too hard for the local model (router.py).
Every call is bounded by a deadline; connection failures are retried with a short backoff while the
deadline allows, HTTP errors and bad answers are not. A circuit breaker stops calling an endpoint
that keeps failing, for a while, so a dead server costs each keystroke nothing. The API key is read
from the environment variable the settings name, at call time; it is never stored, logged or shown.
"""

from __future__ import annotations

import dataclasses
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
from smallcode_lsp.engine.fim import KNOWN_TEMPLATES

log = logging.getLogger(__name__)

FAILURES_TO_OPEN = 3  # consecutive failures that open the circuit
OPEN_SECONDS = 30.0  # how long an open circuit refuses calls before trying again
_RETRY_BACKOFF_S = (0.05, 0.15)
_CONNECTION_ERRORS = (ConnectionError, socket.timeout, OSError)
MAX_STOP_SEQUENCES = 4  # OpenAI's limit; the rest are applied here, on the streamed text
_MAX_ANSWER_BYTES = 4 << 20


class CloudError(RuntimeError):
    """The endpoint gave no usable answer; the message says why (never the key or the code)."""


@dataclass(frozen=True)
class CloudAnswer:
    text: str
    tokens: int  # answer tokens, as reported (or streamed chunks counted) by the endpoint
    seconds: float
    prompt_tokens: int = 0  # as reported; estimated from the characters sent when not
    stopped_early: bool = False  # the caller's stop rule ended the stream before the endpoint did


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

    def complete_fim(
        self,
        prefix: str,
        suffix: str,
        context: str = "",
        *,
        max_tokens: int,
        deadline_s: float,
        should_stop: Callable[[str], bool] | None = None,
    ) -> CloudAnswer:
        """The endpoint's infill between `prefix` and `suffix`, with `context` (snippets of other
        files, already scrubbed) ahead of them; raises CloudError."""
        template = KNOWN_TEMPLATES.get(self.settings.fim_template)
        body: dict = {"max_tokens": max_tokens, "temperature": 0, "stream": True}
        stops: tuple[str, ...] = ()
        if template is None:  # OpenAI's own infill parameters
            body.update(prompt=context + prefix, suffix=suffix)
        else:
            body["prompt"] = f"{context}{template.prefix}{prefix}{template.suffix}{suffix}{template.middle}"
            stops = template.stop
            body["stop"] = list(stops[:MAX_STOP_SEQUENCES])
        sent_chars = len(body["prompt"]) + len(body.get("suffix", ""))
        answer = self._call(self._completions_path, body, "text", deadline_s, should_stop, sent_chars)
        return _cut_at_stops(answer, stops)

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int, deadline_s: float) -> CloudAnswer:
        """The endpoint's next assistant turn after `messages` (fix and tests); raises CloudError."""
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
        sent_chars = sum(len(m.get("content", "")) for m in messages)
        return self._call(self._chat_path, body, "message", deadline_s, None, sent_chars)

    def _call(
        self,
        path: str,
        body: dict,
        kind: str,
        deadline_s: float,
        should_stop: Callable[[str], bool] | None,
        sent_chars: int,
    ) -> CloudAnswer:
        """POST `body` through the circuit breaker; the answer's text and token counts."""
        if not self.breaker.allows():
            raise CloudError("circuit open: the endpoint failed repeatedly")
        if self.settings.model:
            body = {**body, "model": self.settings.model}
        started = time.monotonic()
        try:
            reply = self._post(path, body, started + deadline_s, kind, should_stop)
        except CloudError as exc:
            self.breaker.failed(str(exc))
            raise
        self.breaker.succeeded()
        prompt_tokens = reply.prompt_tokens or -(-sent_chars // 4)  # ~4 characters per token
        return CloudAnswer(
            reply.text, reply.tokens, time.monotonic() - started, prompt_tokens, reply.stopped_early
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        name = self.settings.api_key_env
        key = os.environ.get(name) if name else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(
        self, path: str, body: dict, deadline: float, kind: str, should_stop: Callable[[str], bool] | None
    ) -> _Reply:
        data = json.dumps(body).encode("utf-8")
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CloudError("timed out")
            try:
                with self._lock:
                    return self._exchange(path, data, deadline, kind, should_stop)
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
                if isinstance(exc, socket.timeout):
                    raise CloudError("timed out") from None  # the deadline, not the network
                if attempt >= len(_RETRY_BACKOFF_S):
                    raise CloudError(f"connection failed: {type(exc).__name__}") from None
                pause = _RETRY_BACKOFF_S[attempt]
                attempt += 1
                if time.monotonic() + pause >= deadline:
                    raise CloudError(f"connection failed: {type(exc).__name__}") from None
                time.sleep(pause)

    def _exchange(
        self, path: str, data: bytes, deadline: float, kind: str, should_stop: Callable[[str], bool] | None
    ) -> _Reply:
        timeout = max(deadline - time.monotonic(), 0.001)
        connection = self._connection
        if connection is None:
            factory = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            connection = self._connection = factory(self._host, self._port, timeout=timeout)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", path, body=data, headers=self._headers())
        response = connection.getresponse()
        if response.status != 200:
            response.read(_MAX_ANSWER_BYTES)
            if response.getheader("connection", "").lower() == "close":
                self._drop_connection_locked()
            raise CloudError(f"HTTP {response.status}")
        if response.getheader("content-type", "").startswith("text/event-stream"):
            reply = _read_stream(response, connection, deadline, kind, should_stop)
            if reply.stopped_early:
                self._drop_connection_locked()  # unread events remain; closing also stops the server
            return reply
        return _reply_from_payload(_json_object(response.read(_MAX_ANSWER_BYTES)), kind)

    def _drop_connection(self) -> None:
        with self._lock:
            self._drop_connection_locked()

    def _drop_connection_locked(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._drop_connection()


@dataclass(frozen=True)
class _Reply:
    text: str
    tokens: int
    prompt_tokens: int
    stopped_early: bool = False


def _json_object(raw: bytes) -> dict:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CloudError("the answer is not JSON") from None
    if not isinstance(payload, dict):
        raise CloudError("the answer is not a JSON object")
    return payload


def _first_choice(payload: dict) -> dict:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CloudError("the answer has no choices")
    return choices[0]


def _usage(payload: dict) -> tuple[int, int]:
    """(completion, prompt) tokens from an answer's `usage`, 0 where absent."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return 0, 0
    counts = [usage.get("completion_tokens"), usage.get("prompt_tokens")]
    completion, prompt = (c if isinstance(c, int) and not isinstance(c, bool) else 0 for c in counts)
    return completion, prompt


def _reply_from_payload(payload: dict, kind: str) -> _Reply:
    choice = _first_choice(payload)
    if kind == "text":
        text = choice.get("text")
        if not isinstance(text, str):
            raise CloudError("the first choice has no text")
    else:
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        if not isinstance(text, str):
            raise CloudError("the first choice has no message content")
    completion, prompt = _usage(payload)
    return _Reply(text, completion, prompt)


def _read_stream(
    response: http.client.HTTPResponse,
    connection: http.client.HTTPConnection,
    deadline: float,
    kind: str,
    should_stop: Callable[[str], bool] | None,
) -> _Reply:
    """Server-sent events of an OpenAI stream: each `data:` line one chunk, `[DONE]` the end."""
    parts: list[str] = []
    chunks = completion = prompt = 0
    received = 0
    saw_choice = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CloudError("timed out")
        if connection.sock is not None:
            connection.sock.settimeout(remaining)
        line = response.readline(1 << 20)
        if not line:
            break  # the server closed the stream without [DONE]: keep what arrived
        received += len(line)
        if received > _MAX_ANSWER_BYTES:
            raise CloudError("the answer is too long")
        line = line.strip()
        if not line.startswith(b"data:"):
            continue  # blank separators, comments, `event:` lines
        data = line[5:].strip()
        if data == b"[DONE]":
            response.read(_MAX_ANSWER_BYTES)  # the stream's end, so the connection can be reused
            break
        event = _json_object(data)
        if "error" in event:
            raise CloudError("the endpoint reported an error mid-stream")
        counts = _usage(event)
        completion, prompt = counts[0] or completion, counts[1] or prompt
        choices = event.get("choices")
        if not choices:
            continue  # e.g. a final usage-only event
        choice = _first_choice(event)
        saw_choice = True
        piece = choice.get("text") if kind == "text" else (choice.get("delta") or {}).get("content")
        if isinstance(piece, str) and piece:
            parts.append(piece)
            chunks += 1
            if should_stop is not None and should_stop("".join(parts)):
                return _Reply("".join(parts), completion or chunks, prompt, stopped_early=True)
    if not saw_choice:
        raise CloudError("the answer has no choices")
    return _Reply("".join(parts), completion or chunks, prompt)


def _cut_at_stops(answer: CloudAnswer, stops: tuple[str, ...]) -> CloudAnswer:
    """The answer up to the first stop marker: an endpoint honours only a few `stop` strings."""
    cut = min((i for i in (answer.text.find(s) for s in stops) if i >= 0), default=-1)
    if cut < 0:
        return answer
    return dataclasses.replace(answer, text=answer.text[:cut])
