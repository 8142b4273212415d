"""Builders of valid traffic and of every fault class, one small function each, by category.

A builder returns an `Action`. Message frames (`Msg`) are judged by the oracle from the session
model; raw frames (`Raw`) say themselves which id-null (or recovered-id) errors they must cause.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from clients.fuzz.faults import command, document, framing, protocol, valid
from clients.fuzz.faults.lifecycle import after_shutdown, bad_initialize, before_initialize
from clients.fuzz.frames import Action
from clients.fuzz.generator import Gen

Builder = Callable[[Gen], Action]


def _collect(module: ModuleType) -> dict[str, Builder]:
    """`framing_short_length` in `framing` -> "framing.short_length"."""
    prefix = module.__name__.rsplit(".", 1)[1] + "_"
    return {
        name.replace("_", ".", 1): builder
        for name, builder in sorted(vars(module).items())
        if name.startswith(prefix) and callable(builder)
    }


VALID = valid.VALID
VALID_WEIGHTS = valid.VALID_WEIGHTS
FAULTS: dict[str, Builder] = dict(  # sorted: the schedule's shuffle depends on this order
    sorted(item for module in (command, document, framing, protocol) for item in _collect(module).items())
)
HEAVY_LIMIT = {"framing.huge_20mb": 3, "document.doc_10mb": 3, "command.run_fix": 4, "command.run_tests": 3}

__all__ = [
    "FAULTS",
    "HEAVY_LIMIT",
    "VALID",
    "VALID_WEIGHTS",
    "after_shutdown",
    "bad_initialize",
    "before_initialize",
]
