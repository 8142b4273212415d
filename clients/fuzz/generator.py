"""Seeded generation of fuzz sessions: valid editor traffic mixed with every class of fault.

Reproducible: everything comes from one `random.Random(seed)`. The generator keeps its own copy of
the session model to pick interesting positions (valid, at line ends, inside surrogate pairs), but
expectations are never fixed here: the runner asks the model again at send time, so a minimized
subsequence is judged by what it actually does.

Every fault kind is scheduled at least once per run (in a shuffled order) before kinds repeat at
random, so even a short CI run covers all of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.fuzz.frames import Action, Msg
from clients.fuzz.oracle import SessionModel
from clients.fuzz.textmodel import TextModel, text_units
from clients.fuzz.workspace import World

HEAVY_KINDS = {"framing.huge_20mb", "document.doc_10mb", "command.run_fix", "command.run_tests"}


@dataclass
class Session:
    index: int
    actions: list[Action]
    final: bool
    teardown: str  # "exit" (shutdown + exit) | "eof" (stdin closes inside a frame)


@dataclass
class Gen:
    """Generation state of one session, shared by the fault builders."""

    rng: random.Random
    world: World
    sim: SessionModel = field(default_factory=SessionModel)
    ids: int = 0
    docs: int = 0
    heavy_budget: dict[str, int] = field(default_factory=dict)

    # --- ids and messages --------------------------------------------------------------------
    def new_id(self) -> Any:
        self.ids += 1
        return self.ids if self.ids % 2 else f"r{self.ids}"

    def request(self, method: str, params: Any, msg_id: Any = None, hint: dict | None = None) -> Msg:
        body = {"jsonrpc": "2.0", "id": self.new_id() if msg_id is None else msg_id, "method": method}
        if params is not _ABSENT:
            body["params"] = params
        return self.track(Msg(body, self.style(), hint))

    def notify(self, method: str, params: Any) -> Msg:
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not _ABSENT:
            body["params"] = params
        return self.track(Msg(body, self.style()))

    def track(self, msg: Msg) -> Msg:
        """Keep the generator's model in step (the runner recomputes expectations itself)."""
        before = self.sim.state
        self.sim.on_message(msg.body, msg.hint)
        if before == "new" and self.sim.state == "running":
            self.sim.encoding = negotiated_encoding(msg.body)
        return msg

    def style(self) -> str:
        roll = self.rng.random()
        if roll < 0.8:
            return "plain"
        return self.rng.choice(["utf8", "utf8", "lower", "lf", "extra", "spaces", "type_first", "bom"])

    # --- documents -----------------------------------------------------------------------------
    def new_doc_uri(self, ext: str = ".py") -> str:
        self.docs += 1
        name = f"doc_{self.docs}{ext}"
        if self.rng.random() < 0.15:
            name = f"my%20doc_{self.docs}{ext}"  # percent-encoded, as VS Code sends spaces
        return f"{self.world.root_uri}/{name}"

    def open_doc(self) -> TextModel | None:
        docs = list(self.sim.docs.values())
        return self.rng.choice(docs) if docs else None

    def position_in(self, doc: TextModel, edge: bool = False) -> dict[str, int]:
        """A valid position: anywhere, or at a line's end / inside a surrogate pair when `edge`."""
        enc = self.sim.encoding
        line = self.rng.randrange(doc.line_count())
        width = doc.line_units(line, enc)
        if edge and self.rng.random() < 0.5:
            return {"line": line, "character": width}
        if edge:
            text = doc.line(line)
            wide = [i for i, ch in enumerate(text) if ord(ch) > 0x7F]
            if wide:
                i = self.rng.choice(wide)
                before = text_units(text[:i], enc)
                return {"line": line, "character": before + 1}  # inside the character's code units
        return {"line": line, "character": self.rng.randint(0, width)}

    def text_params(self, uri: str, position: dict[str, int]) -> dict[str, Any]:
        return {"textDocument": {"uri": uri}, "position": position}

    def take_heavy(self, kind: str, limit: int) -> bool:
        used = self.heavy_budget.get(kind, 0)
        if used >= limit:
            return False
        self.heavy_budget[kind] = used + 1
        return True


_ABSENT = object()
ABSENT = _ABSENT


def negotiated_encoding(initialize: dict[str, Any]) -> str:
    """The encoding the server will pick: the client's first supported preference, else UTF-16."""
    try:
        wanted = initialize["params"]["capabilities"]["general"]["positionEncodings"]
    except (KeyError, TypeError):
        return "utf-16"
    for encoding in wanted if isinstance(wanted, list) else []:
        if encoding in ("utf-8", "utf-16", "utf-32"):
            return encoding
    return "utf-16"


def initialize_params(g: Gen) -> dict[str, Any]:
    rng = g.rng
    capabilities: dict[str, Any] = {}
    if rng.random() < 0.6:
        capabilities = {
            "workspace": {"configuration": True, "applyEdit": True, "workspaceFolders": True},
            "window": {"workDoneProgress": True},
            "textDocument": {
                "inlineCompletion": {},
                "completion": {"completionItem": {"snippetSupport": True}},
            },
        }
    encodings = rng.choice(
        [None, None, ["utf-16"], ["utf-8"], ["utf-32", "utf-16"], ["utf-8", "utf-16"], ["bogus"]]
    )
    if encodings is not None:
        capabilities["general"] = {"positionEncodings": encodings}
    options = {
        # A small window keeps a full prompt (huge documents fill it) cheap; 512 exercises truncation.
        "model": {"path": str(g.world.model), "contextSize": rng.choice([512, 1024, 1024, 2048])},
        "completion": {"debounceMs": 0, "maxTokens": 8, "menuWaitMs": 20000, "prefetch": rng.random() < 0.5},
        "agent": {"maxAttempts": 1, "maxTokens": 24, "timeoutSeconds": 30},
    }
    return {
        "processId": None,
        "rootUri": g.world.root_uri,
        "workspaceFolders": [{"uri": g.world.root_uri, "name": "ws"}],
        "capabilities": capabilities,
        "initializationOptions": options,
    }


def initialize_action(g: Gen) -> Action:
    return Action("valid", "valid.initialize", [g.request("initialize", initialize_params(g))])


def initialized_action(g: Gen) -> Action:
    return Action("valid", "valid.initialized", [g.notify("initialized", {})])


# ----------------------------------------------------------------- session planning

Builder = Callable[[Gen], Action | None]


def plan_run(seed: int, messages: int, world: World) -> list[Session]:
    """Sessions whose generated frames add up to at least `messages`."""
    from clients.fuzz import faults  # the builders register themselves there

    rng = random.Random(seed)
    per_session = max(150, min(1200, messages // 8))
    schedule = list(faults.FAULTS)
    rng.shuffle(schedule)
    heavy_budget: dict[str, int] = {}
    sessions: list[Session] = []
    total = 0
    index = 0
    while total < messages:
        remaining = messages - total
        final = remaining <= per_session * 1.5
        target = remaining if final else per_session
        g = Gen(random.Random(rng.getrandbits(64)), world, heavy_budget=heavy_budget)
        actions, sent = _plan_session(g, index, target, final, schedule)
        teardown = "exit" if final or rng.random() < 0.7 else "eof"
        sessions.append(Session(index, actions, final, teardown))
        total += sent
        index += 1
    return sessions


def _plan_session(
    g: Gen, index: int, target: int, final: bool, schedule: list[str]
) -> tuple[list[Action], int]:
    from clients.fuzz import faults

    rng = g.rng
    actions: list[Action] = []
    if index == 0 or rng.random() < 0.4:
        for _ in range(rng.randint(1, 3)):
            actions.append(faults.before_initialize(g))
    if rng.random() < 0.2:
        actions.append(faults.bad_initialize(g))
    actions.append(initialize_action(g))
    actions.append(initialized_action(g))
    shutdown_phase = not final and (index == 0 or rng.random() < 0.6)
    budget = target - (12 if shutdown_phase else 0)
    sent = sum(len(a.frames) for a in actions)
    while sent < budget or (final and schedule):  # the last session sends what is left unsent
        action = _next_action(g, schedule)
        if action is None:
            continue
        actions.append(action)
        sent += len(action.frames)
    if shutdown_phase:
        for action in faults.after_shutdown(g):
            actions.append(action)
            sent += len(action.frames)
    return actions, sent


def _next_action(g: Gen, schedule: list[str]) -> Action | None:
    from clients.fuzz import faults

    rng = g.rng
    if not g.sim.docs or rng.random() < 0.12:
        return faults.VALID["open"](g)
    if rng.random() < 0.45:
        name = rng.choices(list(faults.VALID), weights=list(faults.VALID_WEIGHTS))[0]
        return faults.VALID[name](g)
    kind = schedule.pop() if schedule else rng.choice(list(faults.FAULTS))
    if kind in HEAVY_KINDS and not g.take_heavy(kind, faults.HEAVY_LIMIT[kind]):
        return None
    return faults.FAULTS[kind](g)


def frames_in(actions: list[Action]) -> int:
    return sum(len(a.frames) for a in actions)
