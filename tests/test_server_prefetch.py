"""End-to-end: the suggestion after an accepted one is computed before the user accepts."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from types import SimpleNamespace

from lsprotocol import types

from smallcode_lsp.completion.cache import TypeThroughCache, surroundings_key
from smallcode_lsp.completion.service import Suggestion
from smallcode_lsp.config import Settings
from smallcode_lsp.server.prefetch import Prefetcher
from tests.server_harness import inline, open_document, start_server, status, stop_server, wait_until

SOURCE = "import os\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return \n"


async def _session(root, tmp_path, tiny_model_path, **completion):
    options = {
        "model": {"path": str(tiny_model_path)},
        "completion": {"debounceMs": 0, "maxTokens": 6, "multiline": "never", **completion},
    }
    client = await start_server(root, tmp_path / "cache", options)
    await wait_until(client, lambda s: s["model"]["state"] == "ready", timeout=60)
    return client


def _insert(client, doc: str, version: int, line: int, character: int, text: str) -> None:
    at = types.Position(line, character)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=doc),
            [types.TextDocumentContentChangePartial(types.Range(at, at), text)],
        )
    )


async def test_accepting_a_suggestion_is_answered_from_the_prefetch(tmp_path, tiny_model_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)
    client = await _session(root, tmp_path, tiny_model_path)
    try:
        doc = open_document(client, root / "app.py", SOURCE)
        first = (await inline(client, doc, 5, 11)).items[0].insert_text
        assert first and "\n" not in first
        await wait_until(client, lambda s: s["requests"].get("completion.prefetchReady", 0) == 1)
        served_before = (await status(client))["requests"]["completion.served"]

        _insert(client, doc, 2, 5, 11, first)  # the editor applies the accepted ghost text
        after_accept = await inline(client, doc, 5, 11 + len(first))
        counters = (await status(client))["requests"]
        assert counters["completion.cacheHits"] == 1  # no model call: it was ready
        assert counters["completion.served"] == served_before
        prefetched = after_accept.items[0].insert_text

        # The same request computed from scratch gives the same text.
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(doc)))
        accepted_text = SOURCE.replace("    return \n", f"    return {first}\n")
        doc = open_document(client, root / "app.py", accepted_text)
        fresh = await inline(client, doc, 5, 11 + len(first))
        assert fresh.items[0].insert_text == prefetched
    finally:
        await stop_server(client)


class _ControlledHost:
    """Model calls that finish only when the test says so (the orchestration is under test here;
    the real model path is covered end to end above)."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def run(self, fn):
        future: Future = Future()
        self.futures.append(future)
        return future


def _server():
    return SimpleNamespace(
        settings=Settings(),
        sources=None,
        counters=Counter(),
        cache=TypeThroughCache(),
        host=_ControlledHost(),
        path_of=lambda uri: "/ws/app.py",
        call_soon=lambda fn, *args: fn(*args),
        loop=None,
    )


def test_prefetch_survives_typing_along_and_dies_on_a_different_edit():
    ls, prefetcher = _server(), Prefetcher(idle_s=0)
    doc = "x = compute()\n"
    prefetcher.start(ls, "u", doc, 0, 12, "a, b)", 1)
    running = ls.host.futures[0]
    prefetcher.document_changed(ls, "u", "x = compute(a)\n")  # typing the suggestion along
    assert not running.cancelled()
    prefetcher.document_changed(ls, "u", "x = compute(a, b)\n")  # accepted
    claimed = prefetcher.claim(ls, "u", "x = compute(a, b)\n", 0, 17)
    assert claimed is not None and claimed.future is running

    prefetcher.start(ls, "u", doc, 0, 12, "a, b)", 1)
    prefetcher.document_changed(ls, "u", "x = compute(z)\n")  # something else
    assert ls.host.futures[1].cancelled()
    assert prefetcher.claim(ls, "u", "x = compute(a, b)\n", 0, 17) is None


def test_a_finished_prefetch_is_cached_without_replacing_the_suggestion_on_screen():
    ls, prefetcher = _server(), Prefetcher(idle_s=0)
    prefetcher.start(ls, "u", "x = compute()\n", 0, 12, "a, b)", 1)
    ls.host.futures[0].set_result(Suggestion(text="  # done", replace_chars=0, block=False))
    assert ls.counters["completion.prefetchReady"] == 1
    lines = ["x = compute(a, b)", ""]
    hit = ls.cache.lookup("u", 0, "x = compute(a, b)", "", surroundings_key(lines, 0))
    assert hit is not None and hit.text == "  # done"
    # A request for anything else cancels a prefetch that has not finished.
    prefetcher.start(ls, "u", "y = 1\n", 0, 5, "0", 0)
    prefetcher.cancel_all()
    assert ls.host.futures[1].cancelled()


async def test_a_prefetch_waits_for_a_pause_in_typing():
    import asyncio

    ls, prefetcher = _server(), Prefetcher(idle_s=0.2)
    ls.loop = asyncio.get_running_loop()
    prefetcher.start(ls, "u", "x = compute()\n", 0, 12, "a, b)", 1)
    await asyncio.sleep(0.1)
    prefetcher.document_changed(ls, "u", "x = compute(a)\n")  # typing along restarts the wait
    await asyncio.sleep(0.15)
    assert ls.host.futures == []  # 0.25 s after the start, but only 0.15 s after the last keystroke
    await asyncio.sleep(0.15)
    assert len(ls.host.futures) == 1
    # A request for exactly the accepted text takes over a waiting prefetch and launches it at once.
    prefetcher.start(ls, "v", "y = f()\n", 0, 6, "1)", 1)
    claimed = prefetcher.claim(ls, "v", "y = f(1)\n", 0, 8)
    assert claimed is not None and claimed.future is ls.host.futures[1]
