"""What the fuzzer sends: actions made of frames, and how a frame becomes bytes on the wire.

A `Msg` is a JSON value the server will parse and process; the oracle works out at send time what the
server must answer (from the session model, so any subsequence of actions is still a valid test).
A `Raw` frame is bytes the server cannot process as a message (broken framing, invalid JSON...); it
carries its own expectation, because the model cannot derive one from bytes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("valid", "framing", "protocol", "document", "command")
STYLES = ("plain", "utf8", "bom", "bom_header", "lower", "lf", "extra", "spaces", "type_first")


@dataclass
class Msg:
    """A JSON-RPC message (or any JSON value) framed correctly, in one of the accepted header styles."""

    body: Any
    style: str = "plain"
    hint: dict[str, Any] | None = None  # expectations the model cannot derive (never sent)


@dataclass
class Raw:
    """Bytes with their own expectation: error responses with id null, or with a recovered id."""

    data: bytes
    null_errors: dict[int, int] = field(default_factory=dict)  # code -> count
    id_errors: list[tuple[Any, int]] = field(default_factory=list)  # (id, code)
    delay: float = 0.0  # pause after writing, so a partial frame sits in the pipe
    note: str = ""


Frame = Msg | Raw


@dataclass
class Action:
    """One step of a session; the unit the minimizer removes or keeps."""

    category: str
    kind: str
    frames: list[Frame]


def _body_bytes(msg: Msg) -> bytes:
    if msg.style == "utf8":
        try:
            return json.dumps(msg.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only its \\u escape is valid UTF-8
            pass
    return json.dumps(msg.body, separators=(",", ":")).encode("ascii")


def frame_bytes(body: bytes, style: str = "plain") -> bytes:
    """`body` behind a Content-Length header written in `style` (all of them are accepted)."""
    if style == "bom":
        body = b"\xef\xbb\xbf" + body
    n = len(body)
    headers = {
        "plain": b"Content-Length: %d\r\n\r\n" % n,
        "utf8": b"Content-Length: %d\r\n\r\n" % n,
        "bom": b"Content-Length: %d\r\n\r\n" % n,
        "bom_header": b"\xef\xbb\xbfContent-Length: %d\r\n\r\n" % n,
        "lower": b"content-length: %d\r\n\r\n" % n,
        "lf": b"Content-Length: %d\n\n" % n,
        "extra": b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
        b"X-Fuzz: yes\r\n\r\n" % n,
        "spaces": b"Content-Length:   %d  \r\n\r\n" % n,
        "type_first": b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
        % n,
    }
    return headers[style] + body


def encode(frame: Frame) -> bytes:
    if isinstance(frame, Raw):
        return frame.data
    return frame_bytes(_body_bytes(frame), frame.style)


# ----------------------------------------------------------------- replay files


def _frame_to_json(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, Msg):
        out: dict[str, Any] = {"msg": frame.body, "style": frame.style}
        if frame.hint:
            out["hint"] = frame.hint
        return out
    return {
        "raw": base64.b64encode(frame.data).decode("ascii"),
        "nullErrors": {str(code): count for code, count in frame.null_errors.items()},
        "idErrors": [list(pair) for pair in frame.id_errors],
        "delay": frame.delay,
        "note": frame.note,
    }


def _frame_from_json(data: dict[str, Any]) -> Frame:
    if "msg" in data:
        return Msg(data["msg"], data.get("style", "plain"), data.get("hint"))
    return Raw(
        base64.b64decode(data["raw"]),
        {int(code): count for code, count in data.get("nullErrors", {}).items()},
        [(pair[0], pair[1]) for pair in data.get("idErrors", [])],
        data.get("delay", 0.0),
        data.get("note", ""),
    )


def actions_to_json(actions: list[Action]) -> list[dict[str, Any]]:
    """A replayable description (large frames included: a minimized case is usually small)."""
    return [
        {"category": a.category, "kind": a.kind, "frames": [_frame_to_json(f) for f in a.frames]}
        for a in actions
    ]


def actions_from_json(data: list[dict[str, Any]]) -> list[Action]:
    return [Action(a["category"], a["kind"], [_frame_from_json(f) for f in a["frames"]]) for a in data]
