"""Hybrid dispatch: escalate a hard completion (low confidence, multi-file scope), or a fix or
tests the local model could not verify, to the cloud endpoint.

The local answer is already computed when this runs; the cloud gets what is left of
`cloud.timeoutMs` and runs on a worker thread, so the editor is never blocked on the network. Any
failure, timeout or empty answer keeps the local one. Counters under `route.*` and the routing log
record every decision (never the code).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from smallcode_lsp.agent.example_check import function_with_examples, run_examples
from smallcode_lsp.completion.service import Suggestion
from smallcode_lsp.engine.cloud import CloudAnswer, CloudClient, CloudError
from smallcode_lsp.engine.cloud_budget import TokenBudget
from smallcode_lsp.engine.router import Decision, Router, Signals, never_send
from smallcode_lsp.engine.scrub import scrub, scrub_around_cursor
from smallcode_lsp.models import cache_dir
from smallcode_lsp.server.agent_access import agent

if TYPE_CHECKING:
    from smallcode_lsp.server.app import SmallCodeServer

log = logging.getLogger(__name__)


class CloudDispatch:
    """The router and client for the current `cloud.*` settings, rebuilt when they change."""

    def __init__(self, ls: SmallCodeServer) -> None:
        settings = ls.settings.cloud
        self.settings = settings
        self.ls = ls
        self.router = Router(settings, cache_dir() / "routing.jsonl")
        self.budget = TokenBudget(settings.daily_token_budget, cache_dir() / "cloud_usage.json")
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
            "tokens": self.budget.describe(),
        }

    def usable(self) -> bool:
        """An endpoint is set, its circuit lets calls through and today's budget is not spent."""
        return self.client is not None and self.client.breaker.allows() and self.budget.allows()

    def scrubbed(self, text: str) -> str:
        """`text` with credentials replaced, counted under `route.scrubbed`: nothing leaves unscrubbed."""
        clean, hidden = scrub(text)
        self._count_scrubbed(hidden)
        return clean

    def scrubbed_around_cursor(self, before: str, after: str) -> tuple[str, str]:
        """`scrubbed` for the two sides of the cursor: a key the cursor is inside goes from both."""
        before, after, hidden = scrub_around_cursor(before, after)
        self._count_scrubbed(hidden)
        return before, after

    def _count_scrubbed(self, hidden: int) -> None:
        if hidden:
            self.ls.counters["route.scrubbed"] += hidden

    def charge(self, answer: CloudAnswer) -> None:
        """Count an answer's tokens (prompt and answer) against the day's budget."""
        self.ls.counters["route.cloudTokens"] += answer.tokens
        self.ls.counters["route.cloudPromptTokens"] += answer.prompt_tokens
        if self.budget.charge(answer.tokens + answer.prompt_tokens):
            self.ls.tell(
                f"today's cloud token budget ({self.budget.limit}) is spent; "
                "everything stays local until tomorrow"
            )

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
    ls: SmallCodeServer,
    path: str,
    suggestion: Suggestion,
    started: float,
    cancel: threading.Event | None = None,
) -> Suggestion:
    """`suggestion`, or the cloud's answer in its place when the router sends this request there."""
    dispatch = dispatch_for(ls)
    signals = Signals.of(suggestion.logprobs, suggestion.scope_files)
    client = dispatch.client
    circuit_open = client is None or not client.breaker.allows()
    roots = [str(r) for r in ls.roots]
    budget_spent = not dispatch.budget.allows()
    examples = None
    if dispatch.router.held_local(path, roots, circuit_open, budget_spent) is None:
        examples = await _run_examples(ls, path, suggestion, started, cancel)
    checks = suggestion.check_answer if suggestion.text else None
    decision = dispatch.router.decide_inline(
        path, signals, roots, circuit_open, budget_spent, checks, examples
    )
    suggestion.local_checks = decision.checks
    ls.counters[f"route.{decision.route}"] += 1
    if decision.route == "local" or client is None or suggestion.refine is None:
        dispatch.router.record("inline", decision, signals, "local", time.perf_counter() - started)
        return suggestion
    budget = ls.settings.cloud.timeout_ms / 1000 - (time.perf_counter() - started)
    if budget <= 0.05:
        ls.counters["route.cloudNoTime"] += 1
        dispatch.router.record("inline", decision, signals, "no time left", time.perf_counter() - started)
        return suggestion
    prefix, suffix = dispatch.scrubbed_around_cursor(suggestion.cloud_prefix, suggestion.cloud_suffix)
    context = dispatch.scrubbed(suggestion.cloud_context)
    try:
        answer = await asyncio.wait_for(
            asyncio.to_thread(
                client.complete_fim,
                prefix,
                suffix,
                context,
                max_tokens=ls.settings.completion.max_tokens,
                deadline_s=budget,
                should_stop=suggestion.stop_check,
            ),
            timeout=budget + 0.05,
        )
    except (CloudError, asyncio.TimeoutError) as exc:
        reason = str(exc) or "timed out"
        count_failure(ls, reason)
        log.info("cloud completion failed (%s); the local answer stands", reason)
        dispatch.router.record(
            "inline", decision, signals, f"failed: {reason}", time.perf_counter() - started
        )
        return suggestion
    dispatch.charge(answer)
    text, replace_chars = suggestion.refine(answer.text)
    if not text:
        ls.counters["route.cloudEmpty"] += 1
        dispatch.router.record("inline", decision, signals, "empty", time.perf_counter() - started)
        return suggestion
    ls.counters["route.cloudServed"] += 1
    dispatch.router.record("inline", decision, signals, "served", time.perf_counter() - started)
    return replace(suggestion, text=text, replace_chars=replace_chars, source="cloud")


EXAMPLES_MAX_S = 1.0  # the longest an examples run may take out of an inline request


async def _run_examples(
    ls: SmallCodeServer, path: str, suggestion: Suggestion, started: float, cancel: threading.Event | None
) -> bool | None:
    """Whether the docstring examples of the function the local answer lands in pass with it
    (None: off, not Python, no examples, no time, or they could not run). Runs on a worker thread
    with at most half of what is left of `cloud.timeoutMs`, so the cloud keeps time to answer."""
    if not (ls.settings.cloud.check_examples and suggestion.text and suggestion.answer_in_place):
        return None
    left = ls.settings.cloud.timeout_ms / 1000 - (time.perf_counter() - started)
    seconds = min(EXAMPLES_MAX_S, left / 2)
    code = suggestion.answer_in_place()
    line = suggestion.cursor_line
    qualname = await asyncio.to_thread(function_with_examples, code, line)  # a parse: off the loop
    if qualname is None:
        return None
    if seconds < 0.2:
        ls.counters["route.examplesNoTime"] += 1
        return None
    sandbox = agent(ls).sandbox
    roots = [str(r) for r in ls.roots]
    outcome = await asyncio.to_thread(
        run_examples, sandbox, path, code, line, roots, seconds, cancel, qualname
    )
    result = {True: "Passed", False: "Failed", None: "NotRun"}[outcome.passed]
    ls.counters[f"route.examples{result}"] += 1
    return outcome.passed


def count_failure(ls: SmallCodeServer, reason: str) -> None:
    """`route.cloudFailed`, and `route.cloudTimedOut` too when the deadline (not the endpoint) ended
    it: a timeout calls for a longer limit or a faster endpoint, an error for a look at the server."""
    ls.counters["route.cloudFailed"] += 1
    if reason.startswith("timed out"):
        ls.counters["route.cloudTimedOut"] += 1


def _circuit_opened(ls: SmallCodeServer, reason: str) -> None:
    ls.counters["route.circuitOpened"] += 1
    ls.tell(f"the cloud endpoint keeps failing ({reason}); completions stay local for a while")


CLOUD_AGENT_ATTEMPTS = 1  # turns the cloud gets after every local turn of a fix or tests failed


class AgentEscalation:
    """The `generate` of a fix or of test writing: local turns first; the turns past
    `local_attempts` go to the cloud (scrubbed) when an endpoint is set, the file may be sent, the
    circuit is closed and today's budget allows. Those turns are verified like any other.

    When the code to fix uses definitions from at least `cloud.multiFileThreshold` other files
    (`scope_files`), the cloud turn comes first instead: cross-file fixes are where the small model
    fails most, and its turns still follow if the cloud's answer does not verify."""

    def __init__(
        self,
        ls: SmallCodeServer,
        path: str,
        local,
        local_attempts: int,
        kind: str = "fix",
        scope_files: int = 0,
    ) -> None:
        self.ls = ls
        self.local = local
        self.local_attempts = local_attempts
        self.kind = kind
        dispatch = dispatch_for(ls)
        self.dispatch = dispatch
        roots = [str(r) for r in ls.roots]
        self.allowed = dispatch.usable() and not never_send(path, ls.settings.cloud, roots)
        self.extra_attempts = CLOUD_AGENT_ATTEMPTS if self.allowed else 0
        threshold = ls.settings.cloud.multi_file_threshold
        self.cloud_first = self.allowed and threshold > 0 and scope_files >= threshold
        self.scope_files = scope_files
        self.last_source = "local"

    def is_cloud_attempt(self, attempt: int) -> bool:
        if not self.allowed:
            return False
        return attempt <= CLOUD_AGENT_ATTEMPTS if self.cloud_first else attempt > self.local_attempts

    def for_cloud(self, messages: list) -> list:
        """What a fix's cloud turn reads: the task as the loop last posed it (system and first user
        message; a rewrite's prompt already quotes the failing test), without the local model's
        failed answers and their errors, which anchored the stronger model on wrong code and cost
        tokens. Test writing keeps the whole conversation: its errors name the tests to repair."""
        if self.kind != "fix":
            return list(messages)
        first_user = next((i for i, m in enumerate(messages) if m.role == "user"), len(messages) - 1)
        return list(messages[: first_user + 1])

    def __call__(self, messages, cancel, attempt: int) -> str:
        client = self.dispatch.client
        if not self.is_cloud_attempt(attempt) or client is None:
            self.last_source = "local"
            # The local turns keep their own numbering (the first is greedy) after a cloud turn.
            local_attempt = attempt - CLOUD_AGENT_ATTEMPTS if self.cloud_first else attempt
            return self.local(messages, cancel, max(local_attempt, 1))
        started = time.perf_counter()
        signals = Signals(None, None, None, 0, self.scope_files)
        if not self.dispatch.usable():  # the circuit opened or the budget ran out meanwhile
            decision = Decision("local", "circuit open or budget spent")
            self.dispatch.router.record(self.kind, decision, signals, "skipped", 0.0)
            return ""
        decision = Decision("cloud", "multi-file scope" if self.cloud_first else "local attempts failed")
        sent = [
            {"role": m.role, "content": self.dispatch.scrubbed(m.content)} for m in self.for_cloud(messages)
        ]
        self.ls.counters[f"route.{self.kind}Cloud"] += 1
        self.last_source = "cloud"
        try:
            answer = client.chat(
                sent,
                max_tokens=self.ls.settings.agent.max_tokens,
                deadline_s=self.ls.settings.cloud.agent_timeout_ms / 1000,
            )
        except CloudError as exc:
            count_failure(self.ls, str(exc))
            self.dispatch.router.record(
                self.kind, decision, signals, f"failed: {exc}", time.perf_counter() - started
            )
            return ""  # an answer without code: the loop says nothing verified
        self.dispatch.charge(answer)
        self.dispatch.router.record(self.kind, decision, signals, "answered", time.perf_counter() - started)
        return answer.text
