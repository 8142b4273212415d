"""A loopback OpenAI-compatible endpoint whose behaviour a test chooses: a good answer or a fault."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "cloud_answer_42"


class FakeEndpoint:
    """modes: ok | 500 | 429 | hang | reset | garbage | empty

    In mode "ok" a request with `"stream": true` is answered as server-sent events, one event per
    piece of `fim_pieces` (or of the chat answer), unless `honour_stream` is False (a server that
    ignores the flag and sends one JSON object). `events_sent` counts the events that went out.
    """

    def __init__(self, mode: str = "ok", hang_s: float = 3.0) -> None:
        self.mode = mode
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body"}
        self.chat_answer = "```python\npass\n```"  # what /v1/chat/completions says in mode "ok"
        self.fim_pieces: list[str] = [ANSWER[:5], ANSWER[5:]]  # what /v1/completions streams
        self.honour_stream = True
        self.event_delay_s = 0.0
        self.events_sent = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                mode = endpoint.mode
                if mode == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if mode == "hang":
                    time.sleep(endpoint.hang_s)
                if mode in ("500", "429"):
                    self._send(int(mode), b'{"error": "nope"}')
                elif mode == "garbage":
                    self._send(200, b"<html>not json")
                elif mode == "empty":
                    self._send(200, json.dumps({"choices": []}).encode())
                elif body.get("stream") and endpoint.honour_stream:
                    self._stream(self.path.endswith("/chat/completions"))
                elif self.path.endswith("/chat/completions"):
                    message = {"role": "assistant", "content": endpoint.chat_answer}
                    answer = {
                        "choices": [{"message": message, "index": 0}],
                        "usage": {"completion_tokens": 9},
                    }
                    self._send(200, json.dumps(answer).encode())
                else:
                    text = "".join(endpoint.fim_pieces)
                    answer = {"choices": [{"text": text, "index": 0}], "usage": {"completion_tokens": 5}}
                    self._send(200, json.dumps(answer).encode())

            def _stream(self, chat: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = [endpoint.chat_answer[i : i + 7] for i in range(0, len(endpoint.chat_answer), 7)]
                try:
                    for piece in pieces if chat else endpoint.fim_pieces:
                        choice = {"delta": {"content": piece}} if chat else {"text": piece}
                        self._event(json.dumps({"choices": [{**choice, "index": 0}]}))
                        endpoint.events_sent += 1
                        time.sleep(endpoint.event_delay_s)
                    self._event(json.dumps({"choices": [], "usage": {"prompt_tokens": 11}}))
                    self._event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client stopped reading and closed the connection
                    self.close_connection = True

            def _event(self, data: str) -> None:
                payload = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                self.wfile.flush()

            def _send(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received_text(self) -> str:
        return json.dumps([r["body"] for r in self.requests])
