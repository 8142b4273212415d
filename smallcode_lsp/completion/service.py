"""One inline completion, from document text and cursor to a finished suggestion.

Runs on the model thread (never on the event loop). The server and the `smallcode complete` CLI
both call `Completer.complete`, so what the CLI prints is exactly what an editor would show.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import tree_sitter

from smallcode_lsp.completion import name_fit, syntax_fit
from smallcode_lsp.completion.shape import decide_block
from smallcode_lsp.config import Settings
from smallcode_lsp.context.assemble import gather_snippets
from smallcode_lsp.context.prompt import PackedContext, display_path, pack_snippets
from smallcode_lsp.engine import postprocess
from smallcode_lsp.engine.router import AnswerChecks
from smallcode_lsp.index.languages import language_for_path

if TYPE_CHECKING:
    from smallcode_lsp.context.sources import ContextSources
    from smallcode_lsp.engine.local import LocalEngine

# The cursor window starts on a line quantised to this step, so the prompt prefix stays identical
# while the user types within a few lines and the KV cache is reused.
WINDOW_LINES_BEFORE = 60
WINDOW_LINE_STEP = 16
WINDOW_LINES_AFTER = 10


@dataclass(frozen=True)
class CompletionRequest:
    path: str
    text: str
    line: int  # 0-based
    column: int  # 0-based, in code points of the line
    tree: tree_sitter.Tree | None = None  # the editor buffer's current parse of `text`, if any


@dataclass
class Suggestion:
    text: str
    replace_chars: int  # characters after the cursor that the suggestion replaces
    block: bool
    logprobs: list[float] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    reused_prompt_tokens: int = 0
    context_snippets: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    source: str = "local"  # local | cloud (router.py decides)
    # What a cloud model would be asked (the same window; the cross-file snippets as commented
    # text, whatever markers the local model uses), when its streamed text is complete, and how
    # its raw continuation becomes a suggestion under the same stop and trim rules.
    cloud_prefix: str = ""
    cloud_suffix: str = ""
    context: PackedContext | None = None  # the cross-file snippets in the local prompt
    refine: Callable[[str], tuple[str, int]] | None = None
    stop_check: Callable[[str], bool] | None = None
    # Parses of the local answer in place (syntax_fit.py, name_fit.py): the router runs them only
    # when it reaches a rule that needs them, and what they found is kept for the status.
    check_answer: Callable[[], AnswerChecks] | None = None
    local_checks: AnswerChecks | None = None  # None: not run
    # The Python document with the local answer typed in, and the cursor's line: what the router's
    # examples run executes (agent/example_check.py). None for other languages.
    answer_in_place: Callable[[], str] | None = None
    cursor_line: int = 0

    @property
    def cloud_context(self) -> str:
        """The snippets as commented text; built only when the cloud is asked, not per keystroke."""
        return self.context.text if self.context else ""

    @property
    def scope_files(self) -> int:
        """Other files the needed definitions come from: the router's scope signal."""
        return self.context.definition_files if self.context else 0

    @property
    def mean_logprob(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else -math.inf


def split_at_cursor(text: str, line: int, column: int) -> tuple[list[str], str, str]:
    """Lines of the document plus the text of the cursor's line before and after the cursor."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        raise ValueError(f"line {line} is outside the document (it has {len(lines)} lines)")
    current = lines[line]
    if not 0 <= column <= len(current):
        raise ValueError(f"column {column} is outside line {line} (it has {len(current)} characters)")
    return lines, current[:column], current[column:]


class Completer:
    """Builds the prompt, runs the engine and post-processes its output."""

    def __init__(self, engine: LocalEngine, sources: ContextSources | None) -> None:
        self.engine = engine
        self.sources = sources

    def cross_file_context(
        self, request: CompletionRequest, lines: list[str], window_first: int, after: str, settings: Settings
    ) -> tuple[str | list[int], PackedContext | None]:
        """Snippets from other files under `context.maxTokens`, laid out as text or, for models
        trained on repository layouts, as token ids, plus the chosen snippets themselves;
        ("", None) when retrieval is off or finds nothing."""
        sources = self.sources
        if not settings.context.retrieval or sources is None or settings.context.max_tokens <= 0:
            return "", None
        key = (window_first, settings.context.max_tokens)
        packed = sources.remembered(request.path, key) or self._choose(
            request, lines, window_first, after, settings
        )
        sources.remember(request.path, key, packed)
        if not packed.snippets:
            return "", None
        return self._layout(packed, request.path, sources.roots), packed

    def _choose(
        self, request: CompletionRequest, lines: list[str], window_first: int, after: str, settings: Settings
    ) -> PackedContext:
        sources = self.sources
        assert sources is not None
        # The whole prefix, not just the window, so imports at the top of the file are seen.
        before = "\n".join(lines[: request.line] + [lines[request.line][: request.column]])
        snippets = gather_snippets(
            sources.index,
            request.path,
            before,
            after,
            request.line,
            recent=sources.recent,
            lexical=sources.lexical,
            imports=sources.imports,
            window=(window_first, request.line + WINDOW_LINES_AFTER),
        )
        spec = language_for_path(request.path)
        return pack_snippets(
            snippets,
            budget_tokens=settings.context.max_tokens,
            count_tokens=self.engine.count_tokens,
            comment_prefix=spec.comment_prefix if spec else "#",
            roots=sources.roots,
            keep_first=sources.previous_choice(request.path),
        )

    def _layout(self, packed: PackedContext, path: str, roots: list[str]) -> str | list[int]:
        fim = self.engine.fim
        repo = self.engine.token_id(fim.repo_name) if fim and fim.repo_name else None
        sep = self.engine.token_id(fim.file_sep) if fim and fim.file_sep else None
        if repo is None or sep is None:
            return packed.text
        return packed.repo_layout(
            repo_name=os.path.basename(roots[0]) if roots else "workspace",
            current_path=display_path(path, roots),
            tokenize=self.engine.tokenize,
            repo_token=repo,
            file_sep_token=sep,
        )

    def complete(
        self, request: CompletionRequest, settings: Settings, cancel: threading.Event | None = None
    ) -> Suggestion | None:
        started = time.perf_counter()
        lines, line_prefix, line_suffix = split_at_cursor(request.text, request.line, request.column)
        first = max(0, (request.line - WINDOW_LINES_BEFORE) // WINDOW_LINE_STEP * WINDOW_LINE_STEP)
        before = "\n".join(lines[first : request.line] + [line_prefix])
        after = "\n".join([line_suffix] + lines[request.line + 1 : request.line + 1 + WINDOW_LINES_AFTER])
        spec = language_for_path(request.path)
        cursor = postprocess.CursorContext(
            line_prefix,
            line_suffix,
            tuple(lines[request.line + 1 : request.line + 4]),
            line_comment=spec.comment_prefix if spec else "#",
        )
        block = decide_block(
            cursor,
            settings.completion.multiline,
            spec=spec,
            source=request.text,
            row=request.line,
            tree=request.tree,
        )

        context, packed = self.cross_file_context(request, lines, first, after, settings)
        max_tokens = settings.completion.max_tokens
        heal = bool(line_prefix) and not line_prefix.strip() and not line_suffix.strip()
        prompt_before = before[: len(before) - len(line_prefix)] if heal else before
        prompt = self.engine.fim_prompt(prompt_before, after, context, max_new_tokens=max_tokens)
        should_stop = postprocess.stop_check(block, cursor.line_comment)
        generation = self.engine.generate(
            prompt,
            max_tokens=max_tokens,
            cancel=cancel,
            should_stop=should_stop,
            speculation=settings.speculative.mode,
            max_draft_tokens=settings.speculative.max_draft_tokens,
        )
        if generation.finish_reason == "cancelled":
            return None

        def refine(continuation: str) -> tuple[str, int]:
            raw = postprocess.heal_indentation(continuation, line_prefix) if heal else continuation
            text = postprocess.finalize(raw, cursor, block)
            return text, postprocess.replaced_suffix_length(text, cursor)

        # An empty text is still returned: its measurements tell the caller what the model did.
        text, replace_chars = refine(generation.text)

        def check_answer() -> AnswerChecks:
            position = (lines, request.line, request.column, text, replace_chars, spec)
            broken = syntax_fit.breaks_syntax(*position)
            if broken:  # name_fit would compile the same code again only to fail: not checked
                return AnswerChecks(broken, None)
            index = self.sources.index if self.sources else None
            in_workspace = (lambda name: bool(index.definitions(name))) if index else None
            names = name_fit.unknown_names(*position, in_workspace)
            return AnswerChecks(broken, None if names is None else len(names))

        def answer_in_place() -> str:
            return "\n".join(syntax_fit.insert(lines, request.line, request.column, text, replace_chars))

        return Suggestion(
            text=text,
            replace_chars=replace_chars,
            cloud_prefix=prompt_before,
            cloud_suffix=after,
            context=packed,
            refine=refine,
            stop_check=should_stop,
            check_answer=check_answer,
            answer_in_place=answer_in_place if spec is not None and spec.name == "python" else None,
            cursor_line=request.line,
            block=block,
            logprobs=generation.logprobs,
            finish_reason=generation.finish_reason,
            prompt_tokens=generation.prompt_tokens,
            reused_prompt_tokens=generation.reused_prompt_tokens,
            context_snippets=packed.snippets if packed else 0,
            seconds=time.perf_counter() - started,
            decode_seconds=generation.decode_seconds,
            drafted_tokens=generation.drafted_tokens,
            accepted_tokens=generation.accepted_tokens,
        )
