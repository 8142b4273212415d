"""Remove strings that look like credentials from text bound for a cloud endpoint.

Secret files are never read for prompts (index/files.py `is_secret_path`), but keys also live in
ordinary source: a test fixture's AWS key, a bearer token in a curl example, `password = "..."`.
Everything sent off the machine passes through `scrub` first; the key's name stays so the code still
reads naturally, its value becomes a placeholder.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block.
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
        REDACTED,
    ),
    # AWS access key ids, GitHub, OpenAI/Anthropic-style, Slack and Google API keys.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), REDACTED),
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    # Authorization headers.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}"), r"\1 " + REDACTED),
    # name = "value" where the name says it is secret (quotes kept, value replaced).
    (
        re.compile(
            r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|token|credential)s?"
            r"[\w.-]*\s*[:=]\s*)(['\"])([^'\"\n]{4,})\2"
        ),
        r"\1\2" + REDACTED + r"\2",
    ),
)


def scrub(text: str) -> tuple[str, int]:
    """`text` with credential-like strings replaced, and how many were replaced."""
    count = 0
    for pattern, replacement in _PATTERNS:
        text, n = pattern.subn(replacement, text)
        count += n
    return text, count
