"""Delta debugging (Zeller's ddmin) over a failing action sequence.

The predicate replays a candidate subsequence against a fresh server and says whether the failure
(same violation kind and method) still happens. The oracle recomputes expectations from the model
while replaying, so every subsequence is judged on its own terms; the result is 1-minimal: removing
any single action makes the failure go away (within `max_tests` replays).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Predicate = Callable[[list[T]], "bool | Awaitable[bool]"]


async def _fails(
    predicate: Predicate, candidate: list[T], seen: dict[tuple[int, ...], bool], key: tuple[int, ...]
) -> bool:
    if key not in seen:
        outcome = predicate(candidate)
        seen[key] = bool(await outcome) if inspect.isawaitable(outcome) else bool(outcome)
    return seen[key]


async def ddmin(items: Sequence[T], predicate: Predicate, max_tests: int = 300) -> list[T]:
    """The smallest subsequence of `items` found for which `predicate` still holds.

    `predicate(list(items))` must hold to begin with (it is not re-checked). Accepts a plain or an
    async predicate; identical candidates are evaluated once.
    """
    indices = list(range(len(items)))
    seen: dict[tuple[int, ...], bool] = {}
    granularity = 2

    def pick(subset: list[int]) -> list[T]:
        return [items[i] for i in subset]

    while len(indices) >= 2 and len(seen) < max_tests:
        size = max(1, len(indices) // granularity)
        chunks = [indices[i : i + size] for i in range(0, len(indices), size)]
        reduced = False
        for chunk in chunks:  # a single chunk that still fails
            if len(seen) >= max_tests:
                break
            if await _fails(predicate, pick(chunk), seen, tuple(chunk)):
                indices, granularity, reduced = chunk, 2, True
                break
        if not reduced and len(chunks) > 2:
            for chunk in chunks:  # or everything but one chunk
                if len(seen) >= max_tests:
                    break
                rest = [i for i in indices if i not in set(chunk)]
                if await _fails(predicate, pick(rest), seen, tuple(rest)):
                    indices, granularity, reduced = rest, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= len(indices):
                break
            granularity = min(len(indices), granularity * 2)
    # ddmin never tries the empty sequence; a failure that needs no action at all shows here.
    if len(indices) == 1 and len(seen) < max_tests and await _fails(predicate, [], seen, ()):
        return []
    return pick(indices)
