"""Valid editor traffic: what a well-behaved client sends, judged as strictly as any fault."""

from __future__ import annotations

from typing import Any

from clients.fuzz import content
from clients.fuzz.faults.common import (
    CODE_ACTION,
    COMPLETION,
    DOC_SYMBOL,
    EXECUTE,
    INLINE,
    WS_SYMBOL,
    change_msg,
    close_msg,
    inline_params,
    lsp_range,
    open_msg,
    valid_edits,
)
from clients.fuzz.frames import Action
from clients.fuzz.generator import Gen


def valid_open(g: Gen) -> Action:
    frames = []
    if len(g.sim.docs) > 10:
        frames.append(close_msg(g, g.open_doc().uri))  # type: ignore[union-attr]
    language = g.rng.choices(["python", "javascript", "plaintext", "markdown"], [6, 3, 1, 1])[0]
    ext = {"python": ".py", "javascript": ".js", "plaintext": ".txt", "markdown": ".md"}[language]
    uri = g.new_doc_uri(ext)
    frames.append(open_msg(g, uri, language, content.document(g.rng, language), g.rng.randint(0, 5)))
    return Action("valid", "valid.open", frames)


def valid_change(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    changes = valid_edits(g, doc, g.rng.choice([1, 1, 1, 2, 3]))
    return Action("valid", "valid.change", [change_msg(g, doc.uri, doc.version + 1, changes)])


def valid_change_full(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    text = content.document(
        g.rng, doc.language_id if doc.language_id in ("python", "javascript") else "python"
    )
    return Action("valid", "valid.change_full", [change_msg(g, doc.uri, doc.version + 1, [{"text": text}])])


def valid_close(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    return Action("valid", "valid.close", [close_msg(g, doc.uri)])


def valid_inline(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    position = g.position_in(doc, edge=g.rng.random() < 0.3)
    return Action("valid", "valid.inline", [g.request(INLINE, inline_params(g, doc.uri, position))])


def valid_completion(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    params: dict[str, Any] = g.text_params(doc.uri, g.position_in(doc, edge=g.rng.random() < 0.3))
    if g.rng.random() < 0.5:
        params["context"] = g.rng.choice([{"triggerKind": 1}, {"triggerKind": 2, "triggerCharacter": "."}])
    return Action("valid", "valid.completion", [g.request(COMPLETION, params)])


def valid_docsym(g: Gen) -> Action:
    doc = g.open_doc()
    uri = doc.uri if doc is not None else f"{g.world.root_uri}/calc.py"
    return Action("valid", "valid.docsym", [g.request(DOC_SYMBOL, {"textDocument": {"uri": uri}})])


def valid_wssym(g: Gen) -> Action:
    query = g.rng.choice(["", "add", "alpha", "Shape", "𝑓", "a", "Helper", "run", "x" * 50])
    return Action("valid", "valid.wssym", [g.request(WS_SYMBOL, {"query": query})])


def valid_codeaction(g: Gen) -> Action:
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    start = g.position_in(doc)
    diagnostics = []
    if g.rng.random() < 0.5:
        diagnostics.append(
            {"range": lsp_range(start, start), "message": "undefined name 'x'", "source": "pyflakes"}
        )
    context: dict[str, Any] = {"diagnostics": diagnostics}
    if g.rng.random() < 0.3:
        context["only"] = g.rng.choice([["quickfix"], ["refactor"], ["source"]])
    params = {"textDocument": {"uri": doc.uri}, "range": lsp_range(start, start), "context": context}
    return Action("valid", "valid.codeaction", [g.request(CODE_ACTION, params)])


def valid_status(g: Gen) -> Action:
    return Action("valid", "valid.status", [g.request(EXECUTE, {"command": "smallcode.status"})])


def valid_cancel(g: Gen) -> Action:
    """A completion and its `$/cancelRequest` right behind it: a result or RequestCancelled."""
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    msg_id = g.new_id()
    request = g.request(INLINE, inline_params(g, doc.uri, g.position_in(doc)), msg_id, {"cancellable": True})
    return Action("valid", "valid.cancel", [request, g.notify("$/cancelRequest", {"id": msg_id})])


def valid_burst(g: Gen) -> Action:
    """Several completions pipelined on one document: each newer one supersedes the older."""
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    frames = []
    for _ in range(g.rng.randint(2, 5)):
        position = g.position_in(doc)
        if g.rng.random() < 0.5:
            frames.append(g.request(INLINE, inline_params(g, doc.uri, position)))
        else:
            frames.append(g.request(COMPLETION, g.text_params(doc.uri, position)))
    return Action("valid", "valid.burst", frames)


def valid_type_during(g: Gen) -> Action:
    """A completion and an edit right behind it: the answer fits the text it was asked about."""
    doc = g.open_doc()
    if doc is None:
        return valid_open(g)
    request = g.request(INLINE, inline_params(g, doc.uri, g.position_in(doc, edge=True)))
    edit = change_msg(g, doc.uri, doc.version + 1, valid_edits(g, doc, 1))
    return Action("valid", "valid.type_during", [request, edit])


VALID = {
    "open": valid_open,
    "change": valid_change,
    "change_full": valid_change_full,
    "close": valid_close,
    "inline": valid_inline,
    "completion": valid_completion,
    "docsym": valid_docsym,
    "wssym": valid_wssym,
    "codeaction": valid_codeaction,
    "status": valid_status,
    "cancel": valid_cancel,
    "burst": valid_burst,
    "type_during": valid_type_during,
}
VALID_WEIGHTS = (3, 8, 1, 1, 6, 3, 4, 2, 2, 1, 1, 1, 2)
