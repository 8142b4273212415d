"""`textDocument/inlineCompletion` (ghost text) and `textDocument/completion` (for editors without it)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from smallcode_lsp.completion.cache import CachedSuggestion, surroundings_key
from smallcode_lsp.completion.service import Completer, CompletionRequest
from smallcode_lsp.engine.host import ModelUnavailable
from smallcode_lsp.server import deferred_menu
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.cloud_dispatch import maybe_escalate
from smallcode_lsp.server.features.documents import flush_pending_publishes
from smallcode_lsp.server.positions import client_encoding, column_to_client, internal_position, locate

log = logging.getLogger(__name__)
_WORD_BEFORE = re.compile(r"[A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Placed:
    """A suggestion located in the document, in client units."""

    text: str
    line: int
    start: int  # cursor, client units
    end: int  # end of replaced text, client units
    line_prefix: str
    source: str = "local"  # local | cloud: the completion item's detail says which


async def suggest(ls: SmallCodeServer, uri: str, position: types.Position, explicit: bool) -> Placed | None:
    """The suggestion at `position`, or None; superseded and cancelled requests return None."""
    started = time.perf_counter()
    document = ls.document(uri)
    if document is None:
        raise JsonRpcInvalidParams(f"document {uri} is not open (send textDocument/didOpen first)")
    path = ls.path_of(uri)
    uri = ls.doc_key(uri)  # one spelling per document for the caches and the in-flight table
    text = document.source
    encoding = client_encoding(ls)
    located = locate(text, position.line, position.character, encoding)
    client_line = text[located.line_start : located.line_end]
    # The services count rows by "\n" (a lone "\r" does not end one): their coordinates from here.
    row, column = internal_position(text, located.offset)
    lines = text.split("\n")
    line_text = lines[row]
    line_prefix, line_suffix = line_text[:column], line_text[column:]

    def place(suggested: str, replace_chars: int) -> Placed:
        return _place(suggested, replace_chars, position.line, client_line, located.column, encoding)

    surroundings = surroundings_key(lines, row)
    cached = ls.cache.lookup(uri, row, line_prefix, line_suffix, surroundings)
    if cached is not None:
        ls.counters["completion.cacheHits"] += 1
        return place(cached.text, cached.replace_chars)

    previous = ls.inflight.get(uri)
    if previous is not None:
        previous.set()  # a newer request for the same document wins
    # The suggestion after an accepted one may already be under way: take it over.
    prefetched = ls.prefetcher.claim(ls, uri, text, row, column)
    cancel = ls.inflight[uri] = prefetched.cancel if prefetched else threading.Event()
    if ls.sources is not None:
        ls.sources.still_typing(path)
    try:
        automatic = not explicit and prefetched is None
        delay_ms = ls.pace.delay_ms(uri, ls.settings.completion.debounce_ms) if automatic else 0.0
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
            if cancel.is_set():
                ls.counters["completion.superseded"] += 1
                return None
        if ls.sources is not None:
            ls.sources.cursor_moved(path, row)
        if prefetched is not None:
            ls.counters["completion.prefetchJoined"] += 1
            assert prefetched.future is not None  # claim() launches it
            future = prefetched.future
        else:
            ls.prefetcher.cancel_all()  # a real request goes first
            # The user moved on from other files: their edits are recent context now, not in a minute.
            flush_pending_publishes(ls, except_uri=uri)
            parsed = ls.parsed.get(uri)
            tree = parsed.tree if parsed is not None and parsed.text == text else None
            request = CompletionRequest(path, text, row, column, tree)
            settings = ls.settings
            sources = ls.sources
            future = ls.host.run(
                lambda engine: Completer(engine, sources).complete(request, settings, cancel),
                interactive=True,
            )
        try:
            suggestion = await asyncio.wrap_future(future)
        except ModelUnavailable as exc:
            ls.counters["completion.noModel"] += 1
            log.info("no completion: %s", exc)
            return None
    except asyncio.CancelledError:
        cancel.set()  # `$/cancelRequest`: stop the generation at the next token
        ls.counters["completion.cancelled"] += 1
        raise
    finally:
        if ls.inflight.get(uri) is cancel:
            del ls.inflight[uri]
    if cancel.is_set() or suggestion is None:
        ls.counters["completion.cancelled"] += 1
        return None
    suggestion = await maybe_escalate(ls, path, suggestion, started, cancel)
    ls.counters["completion.promptTokens"] += suggestion.prompt_tokens
    ls.counters["completion.reusedPromptTokens"] += suggestion.reused_prompt_tokens
    checks = suggestion.local_checks
    ls.last_completion = {
        "promptTokens": suggestion.prompt_tokens,
        "reusedPromptTokens": suggestion.reused_prompt_tokens,
        "generatedTokens": len(suggestion.logprobs),
        "meanLogprob": round(suggestion.mean_logprob, 4),  # of the local answer, whoever served
        "minLogprob": round(min(suggestion.logprobs), 4) if suggestion.logprobs else None,
        "firstLogprob": round(suggestion.logprobs[0], 4) if suggestion.logprobs else None,
        "source": suggestion.source,
        # What parsing the local answer found (None: not checked; only the router asks).
        "breaksSyntax": checks.breaks_syntax if checks else None,
        "unknownNames": checks.unknown_names if checks else None,
        "examplesPass": checks.examples_pass if checks else None,  # the function's examples, run
        "contextSnippets": suggestion.context_snippets,
        "block": suggestion.block,
        "seconds": round(suggestion.seconds, 4),
        "decodeTokensPerSecond": round(len(suggestion.logprobs) / suggestion.decode_seconds, 2)
        if suggestion.decode_seconds
        else None,
        "draftedTokens": suggestion.drafted_tokens,
        "acceptedTokens": suggestion.accepted_tokens,
    }
    if not suggestion.text:
        ls.counters["completion.empty"] += 1
        return None
    ls.counters["completion.served"] += 1
    ls.cache.store(
        CachedSuggestion(
            uri,
            row,
            line_prefix,
            line_suffix,
            suggestion.text,
            suggestion.replace_chars,
            surroundings,
        )
    )
    if ls.settings.completion.prefetch:
        ls.prefetcher.start(ls, uri, text, row, column, suggestion.text, suggestion.replace_chars)
    return dataclasses.replace(place(suggestion.text, suggestion.replace_chars), source=suggestion.source)


async def _menu_suggestion(
    ls: SmallCodeServer, uri: str, position: types.Position, explicit: bool
) -> Placed | None:
    """`suggest` bounded by `completion.menuWaitMs`: past it the menu gets nothing now and the
    generation finishes in the background into the cache. A later request on the same line whose
    text extends the deferred one's (the user typed on) waits for that generation instead of
    cancelling it, so a suggestion arrives even while the user keeps typing."""
    wait_s = ls.settings.completion.menu_wait_ms / 1000
    started = time.monotonic()
    key = ls.doc_key(uri)
    deferred = deferred_menu.running(ls, key)
    if deferred is not None:
        line_prefix = deferred_menu.line_prefix_at(ls, uri, position)
        if line_prefix is not None and deferred.extended_by(position.line, line_prefix):
            await asyncio.wait({deferred.task}, timeout=wait_s)
            if not deferred.task.done():
                ls.counters["completion.menuDeferred"] += 1
                return None
    task = asyncio.ensure_future(suggest(ls, uri, position, explicit))
    remaining = max(wait_s - (time.monotonic() - started), 0.0)
    done, _ = await asyncio.wait({task}, timeout=remaining)
    if task in done:
        ls.deferred_menus.pop(key, None)
        return task.result()
    ls.counters["completion.menuDeferred"] += 1
    line_prefix = deferred_menu.line_prefix_at(ls, uri, position) or ""
    ls.deferred_menus[key] = deferred_menu.DeferredMenu(position.line, line_prefix, task)
    task.add_done_callback(_log_background_failure)
    return None


def _log_background_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("a deferred menu suggestion failed: %s", task.exception())


def _place(text: str, replace_chars: int, line: int, line_text: str, column: int, encoding: str) -> Placed:
    """The suggestion in client units on LSP line `line` (`line_text`, break excluded); what it
    replaces never reaches past the line's end."""
    start = column_to_client(line_text, column, encoding)
    end = column_to_client(line_text, min(column + replace_chars, len(line_text)), encoding)
    return Placed(text, line, start, end, line_text[:column])


def register(server: SmallCodeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: SmallCodeServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        placed = await suggest(ls, params.text_document.uri, params.position, explicit)
        if placed is None:
            return types.InlineCompletionList(items=[])
        rng = types.Range(types.Position(placed.line, placed.start), types.Position(placed.line, placed.end))
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=placed.text, range=rng)]
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[".", "(", ","], resolve_provider=False),
    )
    async def completion(ls: SmallCodeServer, params: types.CompletionParams) -> types.CompletionList:
        explicit = bool(params.context and params.context.trigger_kind == types.CompletionTriggerKind.Invoked)
        placed = await _menu_suggestion(ls, params.text_document.uri, params.position, explicit)
        if placed is None:
            return types.CompletionList(is_incomplete=True, items=[])
        # Start the edit at the word being typed, so clients that filter by that word keep the item.
        word = _WORD_BEFORE.search(placed.line_prefix).group(0)
        start = placed.start - len(word)  # identifier characters are one unit in every encoding
        new_text = word + placed.text
        first_line = new_text.split("\n", 1)[0]
        label = first_line if len(first_line) <= 60 else first_line[:57] + "..."
        item = types.CompletionItem(
            label=label or new_text.strip()[:60],
            kind=types.CompletionItemKind.Snippet,
            detail=f"SmallCode ({'cloud' if placed.source == 'cloud' else 'local'} model)",
            documentation=types.MarkupContent(types.MarkupKind.Markdown, f"```\n{new_text}\n```"),
            filter_text=new_text,
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(
                types.Range(types.Position(placed.line, start), types.Position(placed.line, placed.end)),
                new_text,
            ),
        )
        return types.CompletionList(is_incomplete=True, items=[item])
