"""Code actions and the `smallcode.fix` command: thin protocol glue over `agent.service`.

Code actions are requested on every cursor move, so offering one costs nothing: the action only
names the command. The work (generate, check in the sandbox, retry) runs when the user picks it,
with `$/progress`, and ends in a `workspace/applyEdit` titled with what was verified, or in a
message saying that nothing could be verified.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from smallcode_lsp.agent.checks import Problem
from smallcode_lsp.agent.fix import FixResult, decoding_for
from smallcode_lsp.agent.service import AgentService, FixRequest
from smallcode_lsp.agent.target import syntax_problems
from smallcode_lsp.engine.chat import ChatMessage
from smallcode_lsp.index.languages import language_for_path
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.positions import column_to_client

log = logging.getLogger(__name__)

FIX = "smallcode.fix"
GENERATE_TESTS = "smallcode.generateTests"
GENERATE_TESTS_KIND = "refactor.smallcode.generateTests"
MAX_ACTIONS = 5
MAX_SYNTAX_CHECK_CHARS = 1_000_000
_TEST_ID = re.compile(r"([\w./\\-]+\.py::[\w\[\]./:-]+)")
_CONVERTER = get_converter()


def agent(ls: SmallCodeServer) -> AgentService:
    """The session's agent service, rebuilt when the workspace or the settings it uses change."""
    current = ls.agent
    key = (tuple(ls.roots), id(ls.index), ls.settings.agent, ls.settings.index)
    if current is None or ls.agent_key != key:
        current = AgentService(ls.roots, ls.index, ls.settings.agent, ls.settings.index)
        ls.agent, ls.agent_key = current, key
    return current


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
    lines = text.split("\n")
    encoding = _encoding(ls)
    out = []
    for problem in syntax_problems(text, spec):
        start_line = lines[problem.line] if problem.line < len(lines) else ""
        end_line = lines[problem.end_line] if problem.end_line < len(lines) else ""
        out.append(
            types.Diagnostic(
                range=types.Range(
                    types.Position(problem.line, column_to_client(start_line, problem.column, encoding)),
                    types.Position(
                        problem.end_line, column_to_client(end_line, problem.end_column, encoding)
                    ),
                ),
                message=problem.message,
                severity=types.DiagnosticSeverity.Error,
                source="smallcode",
            )
        )
    return out


def _encoding(ls: SmallCodeServer) -> str:
    encoding = ls.workspace.position_encoding
    return str(getattr(encoding, "value", encoding) or "utf-16")


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
    if uri not in ls.workspace.text_documents:
        return []
    only = params.context.only
    text = ls.workspace.get_text_document(uri).source
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


# ----------------------------------------------------------------- the fix command


def _parse_fix_arguments(ls: SmallCodeServer, args: Sequence[Any]) -> tuple[str, Problem | None, int | None]:
    """(uri, problem or None, line for a position-only request)."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    if not args:
        raise JsonRpcInvalidParams(f"{FIX} needs an argument: {{uri, diagnostic}} or {{uri, position}}")
    first = args[0]
    if isinstance(first, str):
        first = {"uri": first, "diagnostic": args[1] if len(args) > 1 else None}
    if not isinstance(first, dict) or not isinstance(first.get("uri"), str):
        raise JsonRpcInvalidParams(
            f"{FIX} needs {{uri, diagnostic}} or {{uri, position}}, got {first!r:.200}"
        )
    uri = first["uri"]
    diagnostic = first.get("diagnostic")
    if isinstance(diagnostic, dict):
        return uri, problem_from_diagnostic(diagnostic), None
    position = first.get("position")
    if isinstance(position, dict) and isinstance(position.get("line"), int):
        return uri, None, position["line"]
    raise JsonRpcInvalidParams(f"{FIX} needs a diagnostic or a position for {uri}")


def _nearest_syntax_problem(ls: SmallCodeServer, uri: str, text: str, line: int) -> Problem | None:
    diagnostics = own_syntax_diagnostics(ls, uri, text)
    if not diagnostics:
        return None
    nearest = min(diagnostics, key=lambda d: abs(d.range.start.line - line))
    return problem_from_diagnostic(nearest)


def _generate_on_model_thread(ls: SmallCodeServer):
    max_tokens = ls.settings.agent.max_tokens

    def generate(messages: Sequence[ChatMessage], cancel: threading.Event | None, attempt: int) -> str:
        temperature, seed = decoding_for(attempt)
        future = ls.host.run(
            lambda engine: engine.chat(
                messages, max_tokens=max_tokens, cancel=cancel, temperature=temperature, seed=seed
            )
        )
        return future.result().text

    return generate


class _Progress:
    """`$/progress` for one command, when the client supports it; silent otherwise."""

    def __init__(self, ls: SmallCodeServer, title: str) -> None:
        self.ls = ls
        self.token = f"smallcode-{uuid.uuid4().hex[:12]}"
        capabilities = ls.client_capabilities.window if ls.client_capabilities else None
        self.enabled = bool(capabilities and capabilities.work_done_progress)
        self.title = title

    async def begin(self) -> None:
        if not self.enabled:
            return
        try:
            await self.ls.work_done_progress.create_async(self.token)
        except Exception:  # the client refused: carry on without progress
            self.enabled = False
            return
        self.ls.work_done_progress.begin(
            self.token, types.WorkDoneProgressBegin(title=self.title, cancellable=False)
        )

    def report(self, message: str) -> None:
        if self.enabled:
            params = types.WorkDoneProgressReport(message=message)
            self.ls.call_soon(self.ls.work_done_progress.report, self.token, params)

    def end(self, message: str) -> None:
        if self.enabled:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


def _edit_for(
    ls: SmallCodeServer, uri: str, version: int | None, text: str, result: FixResult
) -> types.WorkspaceEdit:
    lines = text.split("\n")
    target = result.target
    end_text = lines[target.end] if target.end < len(lines) else ""
    rng = types.Range(
        types.Position(target.start, 0),
        types.Position(target.end, column_to_client(end_text, len(end_text), _encoding(ls))),
    )
    edit = types.TextEdit(range=rng, new_text=(result.replacement or "").rstrip("\n"))
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])]
    )


async def run_fix(ls: SmallCodeServer, args: Sequence[Any]) -> dict[str, Any]:
    uri, problem, line = _parse_fix_arguments(ls, args)
    path = ls.path_of(uri)
    service = agent(ls)
    if not service.inside_workspace(path):
        raise JsonRpcInvalidParams(
            f"{FIX}: {path} is outside the workspace folders; refusing to run code for it"
        )
    if uri not in ls.workspace.text_documents:
        raise JsonRpcInvalidParams(f"{FIX}: document {uri} is not open (send textDocument/didOpen first)")
    document = ls.workspace.get_text_document(uri)
    text, version = document.source, document.version
    if problem is None:
        problem = _nearest_syntax_problem(ls, uri, text, line or 0)
        if problem is None:
            return {
                "verified": False,
                "applied": False,
                "message": "no problem to fix here: no diagnostic was given and the file has no syntax error",
            }
    if problem.line >= text.count("\n") + 1:
        raise JsonRpcInvalidParams(f"{FIX}: line {problem.line} is past the end of {uri}")
    ls.counters["fix.requests"] += 1
    progress = _Progress(ls, "SmallCode: fixing")
    await progress.begin()
    cancel = threading.Event()
    request = FixRequest(path=path, document=text, problem=problem)
    generate = _generate_on_model_thread(ls)
    try:
        result = await asyncio.to_thread(
            service.fix, request, generate, cancel=cancel, progress=progress.report
        )
    except asyncio.CancelledError:
        cancel.set()
        progress.end("cancelled")
        raise
    except Exception as exc:  # the model is missing, the sandbox broke: say so, keep serving
        progress.end("failed")
        log.exception("fix failed")
        ls.tell(f"fix failed: {exc}", types.MessageType.Error)
        return {"verified": False, "applied": False, "message": str(exc)}
    summary = _summary(result)
    if result.verified:
        ls.counters["fix.verified"] += 1
    if not result.verified and not (ls.settings.agent.offer_unverified and result.replacement):
        progress.end("no verified fix")
        ls.counters["fix.unverified"] += 1
        ls.tell(f"could not verify a fix after {len(result.attempts)} attempt(s): {result.error[:300]}")
        return {**summary, "applied": False}
    current = ls.workspace.get_text_document(uri)
    if current.version != version or current.source != text:
        progress.end("document changed")
        ls.tell("the document changed while the fix was being checked; run the fix again")
        return {**summary, "applied": False, "message": "the document changed during the fix"}
    edit = _edit_for(ls, uri, version, text, result)
    applied = False
    workspace = ls.client_capabilities.workspace if ls.client_capabilities else None
    if workspace and workspace.apply_edit:
        response = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=result.title)
        )
        applied = bool(response and response.applied)
    progress.end(result.title)
    return {**summary, "applied": applied, "edit": _CONVERTER.unstructure(edit)}


# ----------------------------------------------------------------- the tests command


def _parse_tests_arguments(args: Sequence[Any]) -> tuple[str, int | None, str | None]:
    """(uri, line, name): `{uri, position}` for the function at a position, `{uri, name}` by name."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    first = args[0] if args else None
    if isinstance(first, str):
        first = {"uri": first}
    if not isinstance(first, dict) or not isinstance(first.get("uri"), str):
        raise JsonRpcInvalidParams(
            f"{GENERATE_TESTS} needs {{uri, position}} or {{uri, name}}, got {first!r:.200}"
        )
    position, name = first.get("position"), first.get("name")
    line = position.get("line") if isinstance(position, dict) else None
    if line is not None and (not isinstance(line, int) or line < 0):
        raise JsonRpcInvalidParams(f"{GENERATE_TESTS}: position.line must be a non-negative integer")
    if name is not None and not isinstance(name, str):
        raise JsonRpcInvalidParams(f"{GENERATE_TESTS}: name must be a string")
    return first["uri"], line, name


def _test_file_edit(uri: str, existed: bool, old_text: str, new_text: str) -> types.WorkspaceEdit:
    if not existed:
        create = types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True))
        insert = types.TextEdit(
            range=types.Range(types.Position(0, 0), types.Position(0, 0)), new_text=new_text
        )
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
        return types.WorkspaceEdit(
            document_changes=[create, types.TextDocumentEdit(text_document=identifier, edits=[insert])]
        )
    lines = old_text.split("\n")
    whole = types.Range(
        types.Position(0, 0), types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    )
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=whole, new_text=new_text)]})


async def run_generate_tests(ls: SmallCodeServer, args: Sequence[Any]) -> dict[str, Any]:
    uri, line, name = _parse_tests_arguments(args)
    path = ls.path_of(uri)
    service = agent(ls)
    if not service.inside_workspace(path):
        raise JsonRpcInvalidParams(
            f"{GENERATE_TESTS}: {path} is outside the workspace folders; refusing to run code for it"
        )
    if uri in ls.workspace.text_documents:
        text = ls.workspace.get_text_document(uri).source
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise JsonRpcInvalidParams(f"{GENERATE_TESTS}: cannot read {path}: {exc}") from exc
    if not path.endswith(".py"):
        raise JsonRpcInvalidParams(f"{GENERATE_TESTS}: only Python files are supported for now ({path})")
    ls.counters["tests.requests"] += 1
    progress = _Progress(ls, "SmallCode: generating tests")
    await progress.begin()
    cancel = threading.Event()
    generate = _generate_on_model_thread(ls)
    try:
        result = await asyncio.to_thread(
            service.generate_tests,
            path,
            text,
            generate,
            line=line,
            name=name,
            cancel=cancel,
            progress=progress.report,
        )
    except asyncio.CancelledError:
        cancel.set()
        progress.end("cancelled")
        raise
    except ValueError as exc:
        progress.end("nothing to test")
        raise JsonRpcInvalidParams(f"{GENERATE_TESTS}: {exc}") from exc
    except Exception as exc:
        progress.end("failed")
        log.exception("test generation failed")
        ls.tell(f"test generation failed: {exc}", types.MessageType.Error)
        return {"kept": 0, "applied": False, "message": str(exc)}
    summary = {
        "kept": result.kept,
        "dropped": result.dropped,
        "possibleBugs": [{"function": f, "test": t, "failure": m} for f, t, m in result.possible_bugs],
        "testFile": result.test_path,
        "subjects": [s.subject.name for s in result.subjects],
        "summary": result.summary,
    }
    ls.counters["tests.kept"] += result.kept
    for function, test, failure in result.possible_bugs:
        ls.tell(
            f"possible bug in {function}: {test} fails on the current code: {failure.splitlines()[-1][:200]}",
            types.MessageType.Warning,
        )
    if result.test_text is None:
        progress.end(result.summary)
        ls.tell(f"no test could be verified ({result.summary})")
        return {**summary, "applied": False}
    root = service.root_of(path)
    test_file = (root / result.test_path) if root is not None else None
    if test_file is None:
        return {**summary, "applied": False, "text": result.test_text}
    old = test_file.read_text(encoding="utf-8", errors="replace") if result.existed else ""
    edit = _test_file_edit(test_file.resolve().as_uri(), result.existed, old, result.test_text)
    applied = False
    workspace = ls.client_capabilities.workspace if ls.client_capabilities else None
    if workspace and workspace.apply_edit:
        label = f"Generate tests: {result.summary}, all verified by running them"
        response = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
        applied = bool(response and response.applied)
    progress.end(result.summary)
    return {**summary, "applied": applied, "text": result.test_text, "edit": _CONVERTER.unstructure(edit)}


def _summary(result: FixResult) -> dict[str, Any]:
    return {
        "verified": result.verified,
        "title": result.title,
        "checks": list(result.checks),
        "attempts": len(result.attempts),
        "error": result.error,
        "range": {"startLine": result.target.start, "endLine": result.target.end},
        "replacement": result.replacement,
    }


def register(server: SmallCodeServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, GENERATE_TESTS_KIND]),
    )
    def on_code_action(ls: SmallCodeServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params)

    @server.command(FIX)
    async def on_fix(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        return await run_fix(ls, args)

    @server.command(GENERATE_TESTS)
    async def on_generate_tests(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        return await run_generate_tests(ls, args)
