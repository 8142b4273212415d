"""The LSP byte stream on stdin: frames read leniently, bodies parsed strictly, one reader thread.

pygls's own reader matches `Content-Length: N\\r\\n` exactly and never resynchronises: a lowercase
header, a missing length or a body that is not JSON leaves the stream misaligned and every later
message is lost, which to the editor looks like a hung server. What this reader guarantees:

- Header lines end in "\\r\\n" or "\\n" and run up to a blank line. `Content-Length` is matched
  case-insensitively at the end of a line, so bytes left over from a broken frame in front of the
  next header are skipped (that is how the stream resynchronises). Other headers are ignored.
- A header block without a usable length (missing, not a decimal number, over 64 MiB) is dropped
  silently: nothing says which id to answer. Its body is then skipped as header garbage.
- A body is taken as exactly Content-Length bytes. A leading UTF-8 byte-order mark is ignored.
  A body that is not UTF-8 or not strict JSON (NaN, trailing data, nesting too deep) gets a Parse
  error (-32700) with id null, or with the request's id when the body is JSON in every other
  respect, and the stream continues. A wrong Content-Length therefore loses the frames it
  swallows and nothing more.
- End of input (stdin closed, even inside a body) ends the server.

Reading happens on a daemon thread, so `exit` never waits for a blocked read; messages are handled
on the event loop in arrival order, and each handler takes its first step before the next message
is handled (a request sees the document as it was when the request arrived).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*?)[ \t]*$", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
_END = object()


class Dispatcher(Protocol):
    def dispatch(self, data: Any) -> None: ...

    def send_parse_error(self, message: str, msg_id: Any) -> None: ...


@dataclass(frozen=True)
class Unparsable:
    """A frame whose body could not be parsed, and the id to answer it with (None: null)."""

    reason: str
    msg_id: Any = None


class FrameReader:
    """Frames from a blocking binary stream, resynchronising after garbage (see the module doc)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def read_body(self) -> bytes | None:
        """The next frame's body; None at the end of input."""
        length: int | None = None
        header_seen = False
        while True:
            line = self.stream.readline()
            if not line:
                return None
            content = line.rstrip(b"\r\n")
            if not content.strip():
                if length is not None:
                    break
                if header_seen:
                    log.warning("dropping a header block without a usable Content-Length")
                header_seen = False
                continue
            header_seen = True
            match = _LENGTH.search(content)
            if match is None:
                continue
            value = match.group(1)
            if value.isdigit() and int(value) <= MAX_BODY_BYTES:
                length = int(value)
            else:
                length = None
                log.warning("ignoring Content-Length %r", value[:40])
        return self._read_exactly(length)

    def _read_exactly(self, length: int) -> bytes | None:
        chunks = []
        remaining = length
        while remaining:
            chunk = self.stream.read(remaining)
            if not chunk:
                log.warning("input ended inside a frame (%d of %d bytes)", length - remaining, length)
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _recover_id(text: str) -> Any:
    """The request id of a body that is valid JSON once its bad bytes are replaced, else None."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    msg_id = data.get("id") if isinstance(data, dict) else None
    return msg_id if _valid_id(msg_id) else None


def parse_body(body: bytes) -> Any:
    """The JSON value of a body, or `Unparsable`."""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Unparsable(
            f"the message is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            _recover_id(body.decode("utf-8", "replace")),
        )
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return Unparsable("the message nests JSON too deeply")
    except ValueError as exc:
        return Unparsable(f"the message is not valid JSON: {str(exc)[:200]}")


async def serve(dispatcher: Dispatcher, stream: BinaryIO, stop: threading.Event) -> int | None:
    """Handle messages from `stream` until it ends or `exit` arrives (returns the code pygls's
    `exit` asked for, if it raised SystemExit rather than ending the process itself)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def post(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is exiting
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        reader = FrameReader(stream)
        try:
            while not stop.is_set():
                body = reader.read_body()
                if body is None:
                    break
                post(parse_body(body))
        except Exception:
            log.exception("reading the LSP stream failed")
        finally:
            post(_END)

    threading.Thread(target=pump, name="lsp-stdin", daemon=True).start()
    while True:
        item = await queue.get()
        if item is _END:
            return None
        try:
            if isinstance(item, Unparsable):
                dispatcher.send_parse_error(item.reason, item.msg_id)
            else:
                dispatcher.dispatch(item)
        except SystemExit as exc:  # the `exit` notification
            return exc.code if isinstance(exc.code, int) else 0
        except BrokenPipeError:
            log.error("the client closed the connection")
            return None
        except Exception:
            log.exception("failed to handle a message")
        await asyncio.sleep(0)  # the handler just scheduled takes its first step now
