"""Code actions: "Fix this" on diagnostics and "Generate tests" in Python functions.

They are requested on every cursor move, so offering one costs nothing: an action only names its
command (see `agent_commands.py`), which does the work when the user picks it. Besides the editor's
diagnostics, the server offers fixes for its own check: tree-sitter syntax errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from smallcode_lsp.agent.checks import Problem
from smallcode_lsp.agent.target import syntax_problems
from smallcode_lsp.index.languages import language_for_path
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.positions import ClientPositions, client_encoding

FIX = "smallcode.fix"
GENERATE_TESTS = "smallcode.generateTests"
GENERATE_TESTS_KIND = "refactor.smallcode.generateTests"
MAX_ACTIONS = 5
MAX_SYNTAX_CHECK_CHARS = 1_000_000
_TEST_ID = re.compile(r"([\w./\\-]+\.py::[\w\[\]./:-]+)")
_CONVERTER = get_converter()


# ----------------------------------------------------------------- diagnostics -> problems


def problem_from_diagnostic(diagnostic: dict[str, Any] | types.Diagnostic) -> Problem:
    if isinstance(diagnostic, types.Diagnostic):
        message, line = diagnostic.message, diagnostic.range.start.line
        source, code, data = diagnostic.source, diagnostic.code, diagnostic.data
    else:
        try:
            message = str(diagnostic["message"])
            line = int(diagnostic["range"]["start"]["line"])
        except (KeyError, TypeError, ValueError) as exc:
            raise JsonRpcInvalidParams(f"{FIX}: the diagnostic needs a message and a range ({exc})") from exc
        source, code, data = diagnostic.get("source"), diagnostic.get("code"), diagnostic.get("data")
    test_id = None
    if isinstance(data, dict):
        test_id = data.get("test") or data.get("testId")
    if test_id is None and (source or "").lower() in ("pytest", "unittest", "test"):
        found = _TEST_ID.search(message)
        test_id = found.group(1) if found else None
    if test_id is not None and (not isinstance(test_id, str) or test_id.startswith("-")):
        test_id = None  # a node id, never a pytest option smuggled in through a diagnostic
    return Problem(
        message=message,
        line=max(0, line),
        source=str(source) if source else None,
        code=str(code) if code is not None else None,
        test_id=test_id or None,
    )


def own_syntax_diagnostics(ls: SmallCodeServer, uri: str, text: str) -> list[types.Diagnostic]:
    """The server's own check: tree-sitter syntax errors, for files small enough to parse at once."""
    spec = language_for_path(ls.path_of(uri))
    if spec is None or len(text) > MAX_SYNTAX_CHECK_CHARS:
        return []
    convert = ClientPositions(text, client_encoding(ls)).convert
    # Code actions come on every cursor move: reuse the open buffer's incrementally kept tree.
    parsed = ls.parsed.get(ls.doc_key(uri))
    tree = parsed.tree if parsed is not None and parsed.text == text and parsed.spec == spec else None
    out = []
    for problem in syntax_problems(text, spec, tree=tree):
        out.append(
            types.Diagnostic(
                range=types.Range(
                    types.Position(*convert(problem.line, problem.column)),
                    types.Position(*convert(problem.end_line, problem.end_column)),
                ),
                message=problem.message,
                severity=types.DiagnosticSeverity.Error,
                source="smallcode",
            )
        )
    return out


def _overlaps(diagnostic: types.Diagnostic, rng: types.Range) -> bool:
    return diagnostic.range.start.line <= rng.end.line and diagnostic.range.end.line >= rng.start.line


def _fix_action(uri: str, diagnostic: types.Diagnostic) -> types.CodeAction:
    title = f"Fix this (SmallCode): {diagnostic.message.splitlines()[0][:70]}"
    argument = {"uri": uri, "diagnostic": _CONVERTER.unstructure(diagnostic)}
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        command=types.Command(title=title, command=FIX, arguments=[argument]),
    )


def _wanted(only: Sequence[str] | None, kind: str) -> bool:
    """Whether the client's `only` filter admits `kind` (a filter `refactor` admits `refactor.x`)."""
    return not only or any(kind == str(k) or kind.startswith(f"{k}.") for k in only)


def _tests_action(ls: SmallCodeServer, uri: str, text: str, line: int) -> types.CodeAction | None:
    """Offered inside a Python function or class."""
    if not ls.path_of(uri).endswith(".py") or len(text) > MAX_SYNTAX_CHECK_CHARS:
        return None
    chunks = ls.index.chunks_in_file(ls.path_of(uri)) if ls.index is not None else []
    inside = [
        c for c in chunks if c.kind in ("function", "method", "class") and c.start_line <= line <= c.end_line
    ]
    if not inside:
        return None
    subject = min(inside, key=lambda c: c.end_line - c.start_line)
    title = f"Generate tests for {subject.name} (SmallCode)"
    argument = {"uri": uri, "position": {"line": line, "character": 0}}
    return types.CodeAction(
        title=title,
        kind=GENERATE_TESTS_KIND,
        command=types.Command(title=title, command=GENERATE_TESTS, arguments=[argument]),
    )


def code_actions(ls: SmallCodeServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = ls.document(uri)
    if document is None:
        return []
    only = params.context.only
    text = document.source
    actions = []
    if _wanted(only, GENERATE_TESTS_KIND):
        tests = _tests_action(ls, uri, text, params.range.start.line)
        if tests is not None:
            actions.append(tests)
    if not _wanted(only, str(types.CodeActionKind.QuickFix)):
        return actions
    diagnostics = [d for d in params.context.diagnostics if _overlaps(d, params.range)]
    covered = {d.range.start.line for d in diagnostics}
    for own in own_syntax_diagnostics(ls, uri, text):
        if _overlaps(own, params.range) and own.range.start.line not in covered:
            diagnostics.append(own)
            covered.add(own.range.start.line)
    return [_fix_action(uri, d) for d in diagnostics[:MAX_ACTIONS]] + actions


def register(server: SmallCodeServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, GENERATE_TESTS_KIND]),
    )
    def on_code_action(ls: SmallCodeServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params)
