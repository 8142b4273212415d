"""Hybrid dispatch: which requests go to the cloud endpoint, and a log of every decision.

Inline completion is answered locally first. Two signals can send it to the cloud, time-boxed,
with the local answer standing on any failure:
- confidence: the mean token log-probability of the local answer is below
  `cloud.confidenceThreshold`, or its least likely token is below `cloud.minLogprobThreshold` (or
  the local model produced nothing);
- scope: the definitions the cursor needs come from at least `cloud.multiFileThreshold` other
  files (0 turns this off), the cross-file case where a small model is weakest;
- the answer in place: it leaves a syntax error at the cursor (`cloud.escalateOnSyntaxError`) or
  reads a name nothing defines (`cloud.escalateOnUnknownName`), mistakes the model can be sure of
  and a parser sees at once. These parse the document, so they run last, only when every cheaper
  rule kept the answer local;
- the answer run (`cloud.checkExamples`, Python): the `>>>` examples of the function the answer
  lands in, run in the sandbox by the caller before asking (agent/example_check.py). Failing
  examples send the request whatever the confidence; passing ones keep the local answer however
  unsure the model was, as a test beats a guess about one.
Nothing is ever sent without a configured endpoint, from a secret-looking file, from a path matching
`cloud.neverSend`, while the circuit is open, or once the day's `cloud.dailyTokenBudget` is spent.
The routing log holds signals and outcomes, never code.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from smallcode_lsp.config import CloudSettings
from smallcode_lsp.index.files import is_secret_path

log = logging.getLogger(__name__)

ROUTING_LOG_MAX_BYTES = 2 << 20  # the log is rotated once (to .1) past this size


@dataclass(frozen=True)
class Signals:
    mean_logprob: float | None
    min_logprob: float | None
    first_logprob: float | None
    tokens: int
    scope_files: int = 0  # other files the needed definitions come from

    @classmethod
    def of(cls, logprobs: list[float], scope_files: int = 0) -> Signals:
        if not logprobs:
            return cls(None, None, None, 0, scope_files)
        mean = sum(logprobs) / len(logprobs)
        first = round(logprobs[0], 4)
        return cls(round(mean, 4), round(min(logprobs), 4), first, len(logprobs), scope_files)


@dataclass(frozen=True)
class AnswerChecks:
    """What parsing the local answer in place says (None: not checked: no checker for the language,
    a huge file, or the check could not run)."""

    breaks_syntax: bool | None = None
    unknown_names: int | None = None  # how many; the names are code, so they are never logged
    examples_pass: bool | None = None  # the function's docstring examples, run with the answer


@dataclass(frozen=True)
class Decision:
    route: str  # local | cloud
    reason: str
    checks: AnswerChecks | None = None  # set when the answer was parsed to decide


def never_send(path: str, settings: CloudSettings, roots: list[str]) -> bool:
    """Secret-looking files always, plus the user's `cloud.neverSend` globs (matched against the
    path relative to a workspace root and against the file name)."""
    if is_secret_path(path):
        return True
    name = os.path.basename(path)
    candidates = {name, path}
    for root in roots:
        try:
            candidates.add(Path(path).resolve().relative_to(Path(root).resolve()).as_posix())
        except ValueError:
            continue
    return any(fnmatch.fnmatch(c, glob) for glob in settings.never_send for c in candidates)


class Router:
    def __init__(self, settings: CloudSettings, log_path: Path | None) -> None:
        self.settings = settings
        self.log_path = log_path
        self._lock = threading.Lock()

    def held_local(
        self, path: str, roots: list[str], circuit_open: bool, budget_spent: bool = False
    ) -> Decision | None:
        """The rules that keep a request home whatever the answer: nothing to send to, a file that
        must not leave, a failing endpoint, a spent budget. None when the request may go."""
        if not self.settings.endpoint:
            return Decision("local", "no endpoint")
        if never_send(path, self.settings, roots):
            return Decision("local", "never send")
        if circuit_open:
            return Decision("local", "circuit open")
        if budget_spent:
            return Decision("local", "daily token budget spent")
        return None

    def decide_inline(
        self,
        path: str,
        signals: Signals,
        roots: list[str],
        circuit_open: bool,
        budget_spent: bool = False,
        checks: Callable[[], AnswerChecks] | None = None,
        examples: bool | None = None,
    ) -> Decision:
        """Where an inline completion goes; `checks` parses the local answer and is called only
        when a cheaper rule has not decided already and a check is switched on. `examples` is what
        running the function's examples with the answer said (None: not run)."""
        held = self.held_local(path, roots, circuit_open, budget_spent)
        if held is not None:
            return held
        if examples is False:
            return Decision("cloud", "local answer fails its examples", AnswerChecks(examples_pass=False))
        if examples is True:
            return Decision("local", "local answer passes its examples", AnswerChecks(examples_pass=True))
        mean = signals.mean_logprob if signals.mean_logprob is not None else -math.inf
        if mean < self.settings.confidence_threshold:
            return Decision("cloud", "low confidence" if signals.tokens else "no local answer")
        if signals.min_logprob is not None and signals.min_logprob < self.settings.min_logprob_threshold:
            return Decision("cloud", "an unlikely token")
        threshold = self.settings.multi_file_threshold
        if threshold > 0 and signals.scope_files >= threshold:
            return Decision("cloud", "multi-file scope")
        syntax, names = self.settings.escalate_on_syntax_error, self.settings.escalate_on_unknown_name
        if checks is None or not (syntax or names):
            return Decision("local", "confident")
        found = checks()
        if syntax and found.breaks_syntax:
            return Decision("cloud", "local answer breaks syntax", found)
        if names and found.unknown_names:
            return Decision("cloud", "local answer reads an unknown name", found)
        return Decision("local", "confident", found)

    def record(self, kind: str, decision: Decision, signals: Signals, outcome: str, seconds: float) -> None:
        """Append one decision to the routing log (JSON lines): signals and outcome, never code."""
        if self.log_path is None:
            return
        entry = {
            "time": round(time.time(), 3),
            "kind": kind,
            "route": decision.route,
            "reason": decision.reason,
            "outcome": outcome,
            "seconds": round(seconds, 4),
            **asdict(signals),
            **asdict(decision.checks or AnswerChecks()),
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                if self.log_path.exists() and self.log_path.stat().st_size > ROUTING_LOG_MAX_BYTES:
                    self.log_path.replace(self.log_path.with_suffix(".jsonl.1"))
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as exc:
                log.debug("routing log not written: %s", exc)
