"""Framing faults: bytes no JSON-RPC client library can send.

What the server guarantees (README, "Bad input"): a frame whose body is not valid JSON (or not
UTF-8) gets a Parse error (-32700) with id null (with the request's id when the body is JSON in
every other respect) and the stream continues; a header block without a usable Content-Length is
dropped and the reader resynchronises on the next `Content-Length:` that ends a line; a wrong
Content-Length loses the frames it swallows, nothing more."""

from __future__ import annotations

from clients.fuzz.faults.common import (
    EXECUTE,
    INLINE,
    WS_SYMBOL,
    close_msg,
    compact,
    inline_params,
    key_of,
    open_msg,
    status_body,
)
from clients.fuzz.frames import Action, Msg, Raw, frame_bytes
from clients.fuzz.generator import Gen
from clients.fuzz.oracle import PARSE_ERROR

# UTF-8) gets a Parse error (-32700) with id null (with the request's id when the body is JSON in
# every other respect) and the stream continues; a header block without a usable Content-Length is
# dropped and the reader resynchronises on the next `Content-Length:` that ends a line; a wrong
# Content-Length loses the frames it swallows, nothing more.


def framing_short_length(g: Gen) -> Action:
    body = compact(status_body(g))
    cut = g.rng.randint(1, len(body) - 1)
    return Action(
        "framing", "framing.short_length", [Raw(b"Content-Length: %d\r\n\r\n" % cut + body, {PARSE_ERROR: 1})]
    )


def framing_long_length(g: Gen) -> Action:
    body = compact(status_body(g))
    victim = frame_bytes(compact(status_body(g)))
    swallowed = g.rng.randint(1, len(victim) - 1)
    data = b"Content-Length: %d\r\n\r\n" % (len(body) + swallowed) + body + victim
    return Action(
        "framing", "framing.long_length", [Raw(data, {PARSE_ERROR: 1}, note="swallows the next frame")]
    )


def framing_missing_length(g: Gen) -> Action:
    body = compact(status_body(g))
    header = g.rng.choice(
        [
            b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
            b"",
            b"Content-Length\r\n\r\n",
            b"\r\n",
        ]
    )
    return Action("framing", "framing.missing_length", [Raw(header + body, note="dropped silently")])


def framing_bad_length_value(g: Gen) -> Action:
    body = compact(status_body(g))
    value = g.rng.choice([b"abc", b"-5", b"1e3", b"0x10", b"", b"12 34", b"+5", b"\xef\xbc\x95", b"NaN"])
    return Action(
        "framing", "framing.bad_length_value", [Raw(b"Content-Length: " + value + b"\r\n\r\n" + body)]
    )


def framing_huge_length_value(g: Gen) -> Action:
    body = compact(status_body(g))
    value = g.rng.choice([b"99999999999999999999", b"4294967296", b"1000000000"])
    return Action(
        "framing", "framing.huge_length_value", [Raw(b"Content-Length: " + value + b"\r\n\r\n" + body)]
    )


def framing_truncated_padded(g: Gen) -> Action:
    """Half a body, a pause, then filler up to the declared length: one frame of invalid JSON."""
    body = compact(status_body(g))
    cut = g.rng.randint(1, len(body) - 1)
    first = Raw(b"Content-Length: %d\r\n\r\n" % len(body) + body[:cut], delay=g.rng.choice([0.01, 0.05, 0.2]))
    rest = Raw(b" " * (len(body) - cut), {PARSE_ERROR: 1})
    return Action("framing", "framing.truncated_padded", [first, rest])


INVALID_JSON = [
    b"{",
    b"}",
    b"not json",
    b'{"jsonrpc": "2.0",}',
    b"{'jsonrpc': '2.0'}",
    b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":NaN}}',
    b'{"jsonrpc":"2.0","method":"x","params":Infinity}',
    b"[1,2",
    b'{"jsonrpc":"2.0","id":7,"method":"shutdown"} trailing',
    b"\x00",
    b'"unterminated',
    b"[" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
]


def framing_invalid_json(g: Gen) -> Action:
    return Action(
        "framing", "framing.invalid_json", [Raw(frame_bytes(g.rng.choice(INVALID_JSON)), {PARSE_ERROR: 1})]
    )


def framing_invalid_utf8(g: Gen) -> Action:
    """Invalid UTF-8 in a string (the id is recovered) or between tokens (id null)."""
    bad = g.rng.choice(
        [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80"]
    )
    body = status_body(g)
    msg_id = body["id"]
    if g.rng.random() < 0.6:
        body["params"]["arguments"] = ["MARK"]
        data = compact(body).replace(b"MARK", b"a" + bad + b"b")
        return Action(
            "framing", "framing.invalid_utf8", [Raw(frame_bytes(data), id_errors=[(msg_id, PARSE_ERROR)])]
        )
    data = compact(body).replace(b"{", b"{" + bad, 1)
    return Action("framing", "framing.invalid_utf8", [Raw(frame_bytes(data), {PARSE_ERROR: 1})])


def framing_bom(g: Gen) -> Action:
    """A UTF-8 byte-order mark before the body or the header: ignored."""
    msg = g.request(EXECUTE, {"command": "smallcode.status"})
    msg.style = g.rng.choice(["bom", "bom_header"])
    return Action("framing", "framing.bom", [msg])


def framing_header_variants(g: Gen) -> Action:
    msg = g.request(EXECUTE, {"command": "smallcode.status"})
    msg.style = g.rng.choice(["lower", "lf", "extra", "spaces", "type_first", "utf8"])
    return Action("framing", "framing.header_variants", [msg])


def framing_garbage_between(g: Gen) -> Action:
    rng = g.rng
    pieces = [
        b"garbage",
        b"\r\n",
        b"\n",
        b"X-Header: value\r\n",
        b"{}",
        b"\xff\x00",
        b"Content-Type: x",
        b"  ",
    ]
    data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
    return Action("framing", "framing.garbage_between", [Raw(data, note="resync")])


def framing_non_object(g: Gen) -> Action:
    value = g.rng.choice([[], [status_body(g)], 42, "string", None, True, 1.5])
    return Action("framing", "framing.non_object", [g.track(Msg(value))])


def framing_empty_body(g: Gen) -> Action:
    return Action("framing", "framing.empty_body", [Raw(b"Content-Length: 0\r\n\r\n", {PARSE_ERROR: 1})])


def framing_huge_20mb(g: Gen) -> Action:
    """A 20 MB message: a symbol query, or a document opened, completed in and closed."""
    if g.rng.random() < 0.5:
        query = "q" * 20_000_000
        return Action("framing", "framing.huge_20mb", [g.request(WS_SYMBOL, {"query": query})])
    uri = g.new_doc_uri()
    line = "value = compute(1, 2, 3)  # a fairly ordinary line of python code here\n"
    text = line * (20_000_000 // len(line))
    frames = [open_msg(g, uri, "python", text)]
    doc = g.sim.docs[key_of(uri)]
    frames.append(g.request(INLINE, inline_params(g, uri, {"line": doc.line_count() // 2, "character": 8})))
    frames.append(close_msg(g, uri))
    return Action("framing", "framing.huge_20mb", frames)
