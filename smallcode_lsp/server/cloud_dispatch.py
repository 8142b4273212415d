"""Hybrid dispatch: escalate a low-confidence completion, or a fix the local model could not
verify, to the cloud endpoint.

The local answer is already computed when this runs; the cloud gets what is left of
`cloud.timeoutMs` and runs on a worker thread, so the editor is never blocked on the network. Any
failure, timeout or empty answer keeps the local one. Counters under `route.*` and the routing log
record every decision (never the code).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from smallcode_lsp.completion.service import Suggestion
from smallcode_lsp.engine.cloud import CloudClient, CloudError
from smallcode_lsp.engine.router import Decision, Router, Signals, never_send
from smallcode_lsp.engine.scrub import scrub
from smallcode_lsp.models import cache_dir

if TYPE_CHECKING:
    from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)


class CloudDispatch:
    """The router and client for the current `cloud.*` settings, rebuilt when they change."""

    def __init__(self, ls: SmallCodeServer) -> None:
        settings = ls.settings.cloud
        self.settings = settings
        self.router = Router(settings, cache_dir() / "routing.jsonl")
        self.client: CloudClient | None = None
        self.error: str | None = None
        if settings.endpoint:
            try:
                self.client = CloudClient(settings, on_open=lambda why: _circuit_opened(ls, why))
            except ValueError as exc:
                self.error = str(exc)
                ls.tell(f"cloud dispatch is off: {exc}")

    def describe(self) -> dict[str, object]:
        return {
            "endpoint": bool(self.settings.endpoint),  # whether anything can be sent at all
            "circuit": self.client.breaker.state if self.client else None,
            "error": self.error,
        }

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def dispatch_for(ls: SmallCodeServer) -> CloudDispatch:
    current = ls.cloud
    if current is None or current.settings != ls.settings.cloud:
        if current is not None:
            current.close()
        current = ls.cloud = CloudDispatch(ls)
    return current


async def maybe_escalate(
    ls: SmallCodeServer, path: str, suggestion: Suggestion, started: float
) -> Suggestion:
    """`suggestion`, or the cloud's answer in its place when the router sends this request there."""
    dispatch = dispatch_for(ls)
    signals = Signals.of(suggestion.logprobs)
    client = dispatch.client
    circuit_open = client is None or not client.breaker.allows()
    decision = dispatch.router.decide_inline(path, signals, [str(r) for r in ls.roots], circuit_open)
    ls.counters[f"route.{decision.route}"] += 1
    if decision.route == "local" or client is None or suggestion.refine is None:
        dispatch.router.record("inline", decision, signals, "local", time.perf_counter() - started)
        return suggestion
    budget = ls.settings.cloud.timeout_ms / 1000 - (time.perf_counter() - started)
    if budget <= 0.05:
        ls.counters["route.cloudNoTime"] += 1
        dispatch.router.record("inline", decision, signals, "no time left", time.perf_counter() - started)
        return suggestion
    prefix, hidden_before = scrub(suggestion.cloud_prefix)
    suffix, hidden_after = scrub(suggestion.cloud_suffix)
    if hidden_before or hidden_after:
        ls.counters["route.scrubbed"] += hidden_before + hidden_after
    try:
        answer = await asyncio.wait_for(
            asyncio.to_thread(
                client.complete_fim,
                prefix,
                suffix,
                max_tokens=ls.settings.completion.max_tokens,
                deadline_s=budget,
            ),
            timeout=budget + 0.05,
        )
    except (CloudError, asyncio.TimeoutError) as exc:
        ls.counters["route.cloudFailed"] += 1
        reason = str(exc) or "timed out"
        log.info("cloud completion failed (%s); the local answer stands", reason)
        dispatch.router.record(
            "inline", decision, signals, f"failed: {reason}", time.perf_counter() - started
        )
        return suggestion
    text, replace_chars = suggestion.refine(answer.text)
    if not text:
        ls.counters["route.cloudEmpty"] += 1
        dispatch.router.record("inline", decision, signals, "empty", time.perf_counter() - started)
        return suggestion
    ls.counters["route.cloudServed"] += 1
    ls.counters["route.cloudTokens"] += answer.tokens
    dispatch.router.record("inline", decision, signals, "served", time.perf_counter() - started)
    return replace(suggestion, text=text, replace_chars=replace_chars, source="cloud")


def _circuit_opened(ls: SmallCodeServer, reason: str) -> None:
    ls.counters["route.circuitOpened"] += 1
    ls.tell(f"the cloud endpoint keeps failing ({reason}); completions stay local for a while")


CLOUD_FIX_ATTEMPTS = 1  # turns the cloud gets after every local turn of a fix failed to verify
CLOUD_TURN_SECONDS = 120.0


class AgentEscalation:
    """A fix's `generate`: local turns first; the turns past `local_attempts` go to the cloud
    (scrubbed), when an endpoint is set, the file may be sent and the circuit is closed."""

    def __init__(self, ls: SmallCodeServer, path: str, local, local_attempts: int) -> None:
        self.ls = ls
        self.local = local
        self.local_attempts = local_attempts
        dispatch = dispatch_for(ls)
        self.dispatch = dispatch
        client = dispatch.client
        roots = [str(r) for r in ls.roots]
        self.allowed = bool(
            client is not None and client.breaker.allows() and not never_send(path, ls.settings.cloud, roots)
        )
        self.extra_attempts = CLOUD_FIX_ATTEMPTS if self.allowed else 0
        self.last_source = "local"

    def __call__(self, messages, cancel, attempt: int) -> str:
        if attempt <= self.local_attempts or not self.allowed or self.dispatch.client is None:
            self.last_source = "local"
            return self.local(messages, cancel, attempt)
        started = time.perf_counter()
        decision = Decision("cloud", "local attempts failed")
        signals = Signals(None, None, None, 0)
        sent = []
        for message in messages:
            content, hidden = scrub(message.content)
            if hidden:
                self.ls.counters["route.scrubbed"] += hidden
            sent.append({"role": message.role, "content": content})
        self.ls.counters["route.fixCloud"] += 1
        self.last_source = "cloud"
        try:
            answer = self.dispatch.client.chat(
                sent, max_tokens=self.ls.settings.agent.max_tokens, deadline_s=CLOUD_TURN_SECONDS
            )
        except CloudError as exc:
            self.ls.counters["route.cloudFailed"] += 1
            self.dispatch.router.record(
                "fix", decision, signals, f"failed: {exc}", time.perf_counter() - started
            )
            return ""  # an answer without code: the fix loop says nothing verified
        self.ls.counters["route.cloudTokens"] += answer.tokens
        self.dispatch.router.record("fix", decision, signals, "answered", time.perf_counter() - started)
        return answer.text
