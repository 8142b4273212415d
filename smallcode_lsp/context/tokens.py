"""Code-aware tokens shared by lexical retrieval and near-duplicate detection.

Identifiers are split on snake_case and camelCase so `get_user_name` and `getUserName` meet in
`get`, `user`, `name`; the whole identifier is kept too, so an exact name match still scores higher.
Keywords and one-letter names carry no signal about *which* code is similar and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from smallcode_lsp.context.retrieve import NOISE_WORDS

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Lower->Upper boundaries and acronym ends (`HTTPServer` -> HTTP, Server); digits stay attached.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+")
_STOP = frozenset(w.lower() for w in NOISE_WORDS) | {"none", "true", "false", "get", "set", "args", "kwargs"}

# identifier -> its tokens; identifiers repeat heavily across a workspace, so this pays off quickly.
_split_cache: dict[str, tuple[str, ...]] = {}
_SPLIT_CACHE_MAX = 200_000


def split_identifier(ident: str) -> tuple[str, ...]:
    """Lower-cased parts of one identifier plus the identifier itself, stop words removed."""
    cached = _split_cache.get(ident)
    if cached is not None:
        return cached
    parts: list[str] = []
    for piece in ident.split("_"):
        if piece:
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
    whole = ident.lower().strip("_")
    if len(parts) > 1 and whole:
        parts.append(whole)
    out = tuple(p for p in parts if len(p) > 1 and p not in _STOP)
    if len(_split_cache) >= _SPLIT_CACHE_MAX:
        _split_cache.clear()
    _split_cache[ident] = out
    return out


def code_tokens(text: str) -> list[str]:
    """All tokens of `text` in order, with repeats (term frequency matters to BM25)."""
    out: list[str] = []
    extend = out.extend
    cache = _split_cache
    for ident in _IDENTIFIER.findall(text):
        parts = cache.get(ident)
        extend(parts if parts is not None else split_identifier(ident))
    return out


def token_set(text: str) -> frozenset[str]:
    return frozenset(code_tokens(text))


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """Similarity of two token sets; two empty texts count as identical."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_duplicate(a: frozenset[str], b: Iterable[frozenset[str]], threshold: float = 0.9) -> bool:
    return any(jaccard(a, other) > threshold for other in b)
