"""The agent commands, `smallcode.fix` and `smallcode.generateTests`: thin glue over `agent.service`.

Each runs its loop (generate, check in the sandbox, retry) off the event loop with `$/progress`,
and ends in a `workspace/applyEdit` titled with what was verified, or in a message saying that
nothing could be verified. Code actions (see `code_actions.py`) point at them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from smallcode_lsp.agent.checks import Problem
from smallcode_lsp.agent.fix import FixResult, decoding_for
from smallcode_lsp.agent.service import AgentService, FixRequest
from smallcode_lsp.engine.chat import ChatMessage
from smallcode_lsp.server.agent_access import agent
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.cloud_dispatch import AgentEscalation
from smallcode_lsp.server.features.code_actions import (
    _CONVERTER,
    FIX,
    GENERATE_TESTS,
    own_syntax_diagnostics,
    problem_from_diagnostic,
)
from smallcode_lsp.server.positions import ClientPositions, client_encoding, column_to_client

log = logging.getLogger(__name__)
T = TypeVar("T")


# ----------------------------------------------------------------- shared by both commands


def _generate_on_model_thread(ls: SmallCodeServer):
    max_tokens = ls.settings.agent.max_tokens

    def generate(messages: Sequence[ChatMessage], cancel: threading.Event | None, attempt: int) -> str:
        temperature, seed = decoding_for(attempt)
        return ls.host.chat_in_background(
            messages, max_tokens=max_tokens, cancel=cancel, temperature=temperature, seed=seed
        ).text

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


def _service_for(ls: SmallCodeServer, command: str, uri: str) -> tuple[str, AgentService]:
    """(path, service) for a command on `uri`; code is never run for files outside the workspace
    (nor for a URI that names no file: `untitled:`, `http:`... would otherwise resolve against the
    server's working directory)."""
    if to_fs_path(uri) is None:
        raise JsonRpcInvalidParams(
            f"{command}: {uri[:200]} is not a file URI inside the workspace folders; "
            "refusing to run code for it"
        )
    path = ls.path_of(uri)
    service = agent(ls)
    if not service.inside_workspace(path):
        raise JsonRpcInvalidParams(
            f"{command}: {path[:300]} is outside the workspace folders; refusing to run code for it"
        )
    return path, service


async def _in_worker(progress: _Progress, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an agent loop off the event loop with `$/progress`; cancelling the request stops it."""
    await progress.begin()
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(work, *args, cancel=cancel, progress=progress.report, **kwargs)
    except asyncio.CancelledError:
        cancel.set()
        progress.end("cancelled")
        raise


async def _apply(ls: SmallCodeServer, edit: types.WorkspaceEdit, label: str) -> bool:
    """`workspace/applyEdit` when the client supports it; whether the client applied it."""
    workspace = ls.client_capabilities.workspace if ls.client_capabilities else None
    if not (workspace and workspace.apply_edit):
        return False
    try:
        response = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    except Exception as exc:  # a client that advertises applyEdit and then refuses it: report, not crash
        log.warning("workspace/applyEdit failed: %s", exc)
        return False
    return bool(response and response.applied)


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


def _edit_for(
    ls: SmallCodeServer, uri: str, version: int | None, text: str, result: FixResult
) -> types.WorkspaceEdit:
    lines = text.split("\n")
    target = result.target
    end_text = (lines[target.end] if target.end < len(lines) else "").removesuffix("\r")
    convert = ClientPositions(text, client_encoding(ls)).convert
    rng = types.Range(
        types.Position(*convert(target.start, 0)), types.Position(*convert(target.end, len(end_text)))
    )
    edit = types.TextEdit(range=rng, new_text=(result.replacement or "").rstrip("\n"))
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])]
    )


async def run_fix(ls: SmallCodeServer, args: Sequence[Any]) -> dict[str, Any]:
    uri, problem, line = _parse_fix_arguments(ls, args)
    path, service = _service_for(ls, FIX, uri)
    document = ls.document(uri)
    if document is None:
        raise JsonRpcInvalidParams(f"{FIX}: document {uri} is not open (send textDocument/didOpen first)")
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
    request = FixRequest(path=path, document=text, problem=problem)
    scope = await _fix_scope(ls, service, request)
    generate = AgentEscalation(
        ls, path, _generate_on_model_thread(ls), ls.settings.agent.max_attempts, scope_files=scope
    )
    try:
        result = await _in_worker(
            progress, service.fix, request, generate, extra_attempts=generate.extra_attempts
        )
    except Exception as exc:  # the model is missing, the sandbox broke: say so, keep serving
        progress.end("failed")
        log.exception("fix failed")
        ls.tell(f"fix failed: {exc}", types.MessageType.Error)
        return {"verified": False, "applied": False, "message": str(exc)}
    result.source = generate.last_source
    summary = _summary(result)
    if result.verified:
        ls.counters["fix.verified"] += 1
    if not result.verified and not (ls.settings.agent.offer_unverified and result.replacement):
        progress.end("no verified fix")
        ls.counters["fix.unverified"] += 1
        ls.tell(f"could not verify a fix after {len(result.attempts)} attempt(s): {result.error[:300]}")
        return {**summary, "applied": False}
    current = ls.document(uri)
    if current is None or current.version != version or current.source != text:
        progress.end("document changed")
        ls.tell("the document changed while the fix was being checked; run the fix again")
        return {**summary, "applied": False, "message": "the document changed during the fix"}
    edit = _edit_for(ls, uri, version, text, result)
    applied = await _apply(ls, edit, result.title)
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


def _test_file_edit(
    ls: SmallCodeServer, uri: str, existed: bool, old_text: str, new_text: str
) -> types.WorkspaceEdit:
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
        types.Position(0, 0),
        types.Position(len(lines) - 1, column_to_client(lines[-1], len(lines[-1]), client_encoding(ls))),
    )
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=whole, new_text=new_text)]})


async def run_generate_tests(ls: SmallCodeServer, args: Sequence[Any]) -> dict[str, Any]:
    uri, line, name = _parse_tests_arguments(args)
    path, service = _service_for(ls, GENERATE_TESTS, uri)
    if (open_document := ls.document(uri)) is not None:
        text = open_document.source
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
    generate = AgentEscalation(
        ls, path, _generate_on_model_thread(ls), ls.settings.agent.max_attempts, kind="tests"
    )
    try:
        result = await _in_worker(
            progress,
            service.generate_tests,
            path,
            text,
            generate,
            line=line,
            name=name,
            extra_attempts=generate.extra_attempts,
        )
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
        "cloudTests": sum(
            generate.is_cloud_attempt(case.attempt) for subject in result.subjects for case in subject.kept
        ),
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
        progress.end(result.summary)
        return {**summary, "applied": False, "text": result.test_text}
    old = test_file.read_text(encoding="utf-8", errors="replace") if result.existed else ""
    edit = _test_file_edit(ls, test_file.resolve().as_uri(), result.existed, old, result.test_text)
    label = "Generate tests [cloud model]" if summary["cloudTests"] else "Generate tests"
    applied = await _apply(ls, edit, f"{label}: {result.summary}, all verified by running them")
    progress.end(result.summary)
    return {**summary, "applied": applied, "text": result.test_text, "edit": _CONVERTER.unstructure(edit)}


def _summary(result: FixResult) -> dict[str, Any]:
    return {
        "verified": result.verified,
        "title": result.title,
        "checks": list(result.checks),
        "attempts": len(result.attempts),
        "rewritten": result.rewritten,
        "source": result.source,  # local | cloud: which model wrote the last try
        "error": result.error,
        "range": {"startLine": result.target.start, "endLine": result.target.end},
        "replacement": result.replacement,
    }


def register(server: SmallCodeServer) -> None:
    @server.command(FIX)
    async def on_fix(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        return await run_fix(ls, args)

    @server.command(GENERATE_TESTS)
    async def on_generate_tests(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        return await run_generate_tests(ls, args)


async def _fix_scope(ls: SmallCodeServer, service: AgentService, request: FixRequest) -> int:
    """The router's scope signal for a fix: a parse and index lookups, so off the event loop and
    only when an endpoint could take the fix; 0 when it cannot be worked out."""
    if not ls.settings.cloud.endpoint:
        return 0
    try:
        return await asyncio.to_thread(service.fix_scope, request)
    except Exception:  # a scope it cannot work out must not cost the fix
        log.exception("the fix's scope could not be worked out")
        return 0
