"""Document faults: positions out of range, hostile edits, odd text, URIs and languages."""

from __future__ import annotations

from clients.fuzz import content
from clients.fuzz.faults.common import (
    CODE_ACTION,
    COMPLETION,
    DOC_SYMBOL,
    INLINE,
    change_msg,
    close_msg,
    doc_or_open,
    inline_params,
    key_of,
    lsp_range,
    open_msg,
    query_requests,
    valid_edits,
)
from clients.fuzz.frames import Action
from clients.fuzz.generator import Gen


def document_past_end(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    enc = g.sim.encoding
    line = g.rng.randrange(doc.line_count())
    position = g.rng.choice(
        [
            {"line": doc.line_count() + g.rng.randint(0, 3), "character": 0},
            {"line": line, "character": doc.line_units(line, enc) + g.rng.randint(1, 5)},
            {"line": 2**31 - 1, "character": 2**31 - 1},
        ]
    )
    method = g.rng.choice([INLINE, COMPLETION])
    params = inline_params(g, doc.uri, position) if method == INLINE else g.text_params(doc.uri, position)
    frames.append(g.request(method, params))
    frames.append(
        g.request(
            CODE_ACTION,
            {
                "textDocument": {"uri": doc.uri},
                "range": lsp_range(position, position),
                "context": {"diagnostics": []},
            },
        )
    )
    return Action("document", "document.past_end", frames)


def document_negative(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    bad = g.rng.choice(
        [{"line": -1, "character": 0}, {"line": 0, "character": -5}, {"line": -(2**40), "character": -1}]
    )
    frames.append(g.request(INLINE, inline_params(g, doc.uri, bad)))
    frames.append(
        change_msg(
            g,
            doc.uri,
            doc.version + 1,
            [{"range": lsp_range(bad, {"line": 0, "character": 0}), "text": "NEG"}],
        )
    )
    frames.append(g.request(DOC_SYMBOL, {"textDocument": {"uri": doc.uri}}))
    return Action("document", "document.negative", frames)


def document_huge_position(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    big = g.rng.choice([2**31 - 1, 2**31, 2**32, 10**20])
    frames.append(g.request(COMPLETION, g.text_params(doc.uri, {"line": 0, "character": big})))
    start = {"line": big, "character": big}
    frames.append(
        change_msg(
            g,
            doc.uri,
            doc.version + 1,
            [{"range": lsp_range(start, start), "text": "\ndef tail_end():\n    pass\n"}],
        )
    )
    frames += query_requests(g, doc)
    return Action("document", "document.huge_position", frames)


def document_stale_version(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    version = doc.version - g.rng.randint(0, 5)
    frames.append(change_msg(g, doc.uri, version, valid_edits(g, doc, 1)))
    frames += query_requests(g, doc)
    return Action("document", "document.stale_version", frames)


def document_overlapping_edits(g: Gen) -> Action:
    """Several changes whose ranges were all taken from the text before the first applied."""
    doc, frames = doc_or_open(g)
    assert doc is not None
    changes = []
    for _ in range(g.rng.randint(2, 4)):
        a, b = g.position_in(doc, edge=True), g.position_in(doc)
        changes.append({"range": lsp_range(a, b), "text": content.snippet(g.rng)})
    frames.append(change_msg(g, doc.uri, doc.version + 1, changes))
    frames += query_requests(g, doc, edge=True)
    return Action("document", "document.overlapping_edits", frames)


def document_reversed_range(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    a, b = g.position_in(doc), g.position_in(doc)
    if (a["line"], a["character"]) < (b["line"], b["character"]):
        a, b = b, a
    frames.append(
        change_msg(g, doc.uri, doc.version + 1, [{"range": lsp_range(a, b), "text": content.snippet(g.rng)}])
    )
    frames += query_requests(g, doc)
    return Action("document", "document.reversed_range", frames)


def document_clamped_edit(g: Gen) -> Action:
    doc, frames = doc_or_open(g)
    assert doc is not None
    line = g.rng.randrange(doc.line_count())
    start = g.rng.choice(
        [{"line": line, "character": 10_000}, {"line": doc.line_count() + 5, "character": 0}]
    )
    end = g.rng.choice([start, {"line": doc.line_count() + 50, "character": 3}])
    frames.append(
        change_msg(
            g, doc.uri, doc.version + 1, [{"range": lsp_range(start, end), "text": content.snippet(g.rng)}]
        )
    )
    frames += query_requests(g, doc, edge=True)
    return Action("document", "document.clamped_edit", frames)


def document_unopened(g: Gen) -> Action:
    uri = f"{g.world.root_uri}/never_opened_{g.rng.randrange(10**6)}.py"
    start = {"line": 0, "character": 0}
    frames = [
        change_msg(g, uri, 2, [{"range": lsp_range(start, start), "text": "x = 1\n"}]),
        g.request(INLINE, inline_params(g, uri, start)),
        g.request(DOC_SYMBOL, {"textDocument": {"uri": uri}}),
        close_msg(g, uri),
    ]
    return Action("document", "document.unopened", frames)


def _open_and_probe(g: Gen, kind: str, uri: str, language: str, text: str, edits: int = 1) -> Action:
    frames = [open_msg(g, uri, language, text)]
    doc = g.sim.docs.get(key_of(uri))
    if doc is not None:
        frames += query_requests(g, doc, edge=True)
        if edits:
            frames.append(change_msg(g, uri, doc.version + 1, valid_edits(g, doc, edits)))
            frames += query_requests(g, doc, edge=True)
        frames.append(
            g.request(
                CODE_ACTION,
                {
                    "textDocument": {"uri": uri},
                    "range": lsp_range({"line": 0, "character": 0}, {"line": 0, "character": 0}),
                    "context": {"diagnostics": []},
                },
            )
        )
        if g.rng.random() < 0.7:
            frames.append(close_msg(g, uri))
    return Action("document", kind, frames)


def document_astral(g: Gen) -> Action:
    lines = [f"{content.odd(g.rng)}{content.odd(g.rng)} = '{content.odd(g.rng)}'" for _ in range(3)]
    lines += content.python_lines(g.rng, 6)
    g.rng.shuffle(lines)
    return _open_and_probe(g, "document.astral", g.new_doc_uri(), "python", content.join(g.rng, lines), 2)


def document_line_endings(g: Gen) -> Action:
    language = g.rng.choice(["python", "javascript"])
    lines = content.python_lines(g.rng, 8) if language == "python" else content.javascript_lines(g.rng, 8)
    sep = g.rng.choice(["\r", "\r\n", "mixed", "\r\r\n", "\n\r"])
    text = (
        "".join(line + g.rng.choice(["\n", "\r", "\r\n"]) for line in lines)
        if sep == "mixed"
        else sep.join(lines)
    )
    ext = ".py" if language == "python" else ".js"
    return _open_and_probe(g, "document.line_endings", g.new_doc_uri(ext), language, text, 2)


def document_binary(g: Gen) -> Action:
    return _open_and_probe(g, "document.binary", g.new_doc_uri(), "python", content.binary(g.rng))


def document_doc_10mb(g: Gen) -> Action:
    uri = g.new_doc_uri()
    frames = [open_msg(g, uri, "python", content.ten_megabytes(g.rng))]
    doc = g.sim.docs[key_of(uri)]
    frames.append(g.request(INLINE, inline_params(g, uri, {"line": doc.line_count() - 2, "character": 5})))
    frames.append(g.request(DOC_SYMBOL, {"textDocument": {"uri": uri}}))
    end = {"line": doc.line_count() - 1, "character": 0}
    frames.append(change_msg(g, uri, 2, [{"range": lsp_range(end, end), "text": "def tail():\n    pass\n"}]))
    frames.append(g.request(INLINE, inline_params(g, uri, {"line": 3, "character": 2})))
    frames.append(close_msg(g, uri))
    return Action("document", "document.doc_10mb", frames)


def document_unknown_language(g: Gen) -> Action:
    language = g.rng.choice(["brainfuck", "", "x" * 300, "PYTHON", "python ", "😀", "plaintext"])
    ext = g.rng.choice([".bf", "", ".py", ".weird", ".JS"])
    return _open_and_probe(
        g, "document.unknown_language", g.new_doc_uri(ext), language, content.document(g.rng, "python")
    )


def document_dotdot(g: Gen) -> Action:
    k = g.rng.randrange(10**6)
    root = g.world.root_uri
    uri = g.rng.choice(
        [
            f"{root}/sub/../dd_{k}.py",
            f"{root}/../outside/x_{k}.py",
            f"{root}/./a/./../dd_{k}.py",
            f"{root}/%2E%2E/outside/y_{k}.py",
        ]
    )
    return _open_and_probe(g, "document.dotdot", uri, "python", content.document(g.rng, "python"))


def document_schemes(g: Gen) -> Action:
    k = g.rng.randrange(10**6)
    uri = g.rng.choice(
        [
            f"untitled:Untitled-{k}",
            f"http://example.com/x{k}.py",
            f"vscode-notebook-cell:/n{k}.ipynb#W0sZmlsZQ==",
            f"git:/x{k}.py?ref=HEAD",
            "",
            "not a uri at all",
            "file://",
            "file:///",
            "file:///dev/null",
            f"file://host/share/x{k}.py",
            "file:///C:/Windows/x.py",
            "mailto:x@example.com",
            "file:///" + "a/" * 2000 + "x.py",
        ]
    )
    return _open_and_probe(g, "document.schemes", uri, "python", content.document(g.rng, "python"))


def document_outside(g: Gen) -> Action:
    uri = g.rng.choice([g.world.secret.as_uri(), f"{g.world.root_uri}/link.py", "file:///etc/hostname"])
    return _open_and_probe(g, "document.outside", uri, "python", content.document(g.rng, "python"))


def document_percent_uri(g: Gen) -> Action:
    """One document, two spellings of its URI ("_" and "%5F"): the server must treat them as one."""
    k = g.rng.randrange(10**6)
    plain = f"{g.world.root_uri}/pct_{k}.py"
    encoded = f"{g.world.root_uri}/pct%5F{k}.py"
    first, second = (plain, encoded) if g.rng.random() < 0.5 else (encoded, plain)
    frames = [open_msg(g, first, "python", content.document(g.rng, "python"))]
    doc = g.sim.docs[key_of(first)]
    frames.append(change_msg(g, second, doc.version + 1, valid_edits(g, doc, 1)))
    frames.append(g.request(INLINE, inline_params(g, second, g.position_in(doc))))
    frames.append(g.request(DOC_SYMBOL, {"textDocument": {"uri": second}}))
    frames.append(g.request(DOC_SYMBOL, {"textDocument": {"uri": first}}))
    frames.append(close_msg(g, second))
    frames.append(g.request(INLINE, inline_params(g, first, {"line": 0, "character": 0})))
    return Action("document", "document.percent_uri", frames)
