"""Remove strings that look like credentials from text bound for a cloud endpoint.

Secret files are never read for prompts (index/files.py `is_secret_path`), but keys also live in
ordinary source: a test fixture's AWS key, a bearer token in a curl example, `password = "..."`.
Everything sent off the machine passes through `scrub` first; the key's name stays so the code still
reads naturally, its value becomes a placeholder.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_BEGIN = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
_BEGIN_RE = re.compile(_BEGIN)
_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")
_WHOLE_PEM = re.compile(rf"{_BEGIN}(?:(?!-----BEGIN ).)*?{_END.pattern}", re.S)
# A line of a PEM body as it sits in code: indented, commented out (context snippets are sent as
# comments) or quoted, base64 or an encrypted key's header, maybe ending in a `\n` escape.
_PEM_LINE = (
    r"[ \t]*(?:(?:#|//|\*)[ \t]*)?[\"']{0,3}(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info):[^\n]*)?"
    r"(?:\\n)?[\"']{0,3}[ \t\r,]*"
)
_PEM_BODY_LINE = re.compile(_PEM_LINE)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM block cut before its END (a snippet's last lines dropped): the BEGIN and the body below.
    # Each line is checked by a lookahead, then taken whole: a run of lines matches one way only.
    (re.compile(rf"(?m){_BEGIN}[^\n]*(?:\n(?={_PEM_LINE}$)[^\n]*)*"), REDACTED),
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
    text, count = _WHOLE_PEM.subn(REDACTED, text)
    text, cut = _redact_cut_pem_tails(text)
    count += cut
    for pattern, replacement in _PATTERNS:
        text, n = pattern.subn(replacement, text)
        count += n
    return text, count


def scrub_around_cursor(before: str, after: str) -> tuple[str, str, int]:
    """`scrub` of the text on either side of a cursor, and how many were replaced. A cursor inside a
    private key leaves its BEGIN before it and, after it, key lines with no marker when the END is
    past the window: those lines go too (up to the END, or while they look like a key's)."""
    clean_before, count = scrub(before)
    begin = max((m.start() for m in _BEGIN_RE.finditer(before)), default=-1)
    end = max((m.start() for m in _END.finditer(before)), default=-1)
    if begin > end:  # the last key before the cursor is still open
        after = "-----BEGIN PRIVATE KEY-----" + after  # scrub then takes the rest of that key
    clean_after, hidden = scrub(after)
    return clean_before, clean_after, count + hidden


def _redact_cut_pem_tails(text: str) -> tuple[str, int]:
    """A PEM block the text starts inside of (a window whose first line is past the BEGIN): every
    END left after whole blocks are gone takes its line and the body lines above it. Walked back line
    by line, each line at most once (a regex would retry the run from every line: quadratic)."""
    parts: list[str] = []
    done = 0  # text[:done] is settled
    for match in _END.finditer(text):
        start = text.rfind("\n", done, match.start()) + 1 or done
        while start > done:
            above = text.rfind("\n", done, start - 1) + 1 or done
            if not _PEM_BODY_LINE.fullmatch(text, above, start - 1):
                break
            start = above
        parts += [text[done:start], REDACTED]
        done = match.end()
    if not parts:
        return text, 0
    return "".join(parts) + text[done:], len(parts) // 2
