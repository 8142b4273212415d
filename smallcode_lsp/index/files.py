"""Which files get indexed: the workspace walk plus the secret and binary filters.

`is_secret_path` is shared with the cloud client: a file that looks like it holds credentials is
never parsed, stored in the cache or sent anywhere, whatever the ignore rules say.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index.ignore import SKIP_DIRS, IgnoreRules
from smallcode_lsp.index.languages import language_for_path

_SECRET_NAMES = frozenset(
    {
        ".env",
        ".netrc",
        "_netrc",
        ".npmrc",
        ".pypirc",
        ".pgpass",
        ".htpasswd",
        ".git-credentials",
        ".dockercfg",
        ".secrets",
        "credentials",
        "credentials.json",
        "client_secret.json",
        "service-account.json",
        "authorized_keys",
        "known_hosts",
    }
)
_SECRET_SUFFIXES = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".gpg",
    ".pgp",
    ".kdbx",
    ".ovpn",
    ".tfstate",
)
_SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".docker", ".kube"})
# .env.local, id_rsa, id_ed25519.pub, secrets.yaml, secret.json, app.secret(s), *.tfvars
_SECRET_PATTERN = re.compile(
    r"^(\.env\..+|.+\.env|id_[a-z0-9]+(\.pub)?|secrets?\..+|.+\.secrets?|.+\.tfvars(\.json)?|"
    r"credentials[-_.].+|.+[-_]credentials\.json|.+\.tfstate\..+)$",
    re.IGNORECASE,
)


def is_secret_path(path: str | os.PathLike[str]) -> bool:
    """Whether a path looks like it holds credentials or keys (by name and parent folders only)."""
    text = os.fspath(path).replace("\\", "/")
    parts = text.split("/")
    name = parts[-1]
    lower = name.lower()
    if lower in _SECRET_NAMES or lower.endswith(_SECRET_SUFFIXES) or _SECRET_PATTERN.match(name):
        return True
    return any(part in _SECRET_DIRS for part in parts[:-1])


def is_minified_name(name: str) -> bool:
    """`x.min.js`-style bundles: generated, one huge line, no symbols worth indexing."""
    return ".min." in name.lower() or name.endswith((".bundle.js", "-bundle.js"))


def is_probably_binary(data: bytes) -> bool:
    """A NUL byte early on, or bytes that are not UTF-8: not source we can index."""
    if b"\0" in data[:8192]:
        return True
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def walk_source_files(root: Path, settings: IndexSettings) -> Iterator[tuple[str, os.stat_result]]:
    """Like `iter_source_files` but yields (absolute path, stat) so callers need not stat again."""
    rules = IgnoreRules(root, settings.exclude)
    base = rules.root
    max_bytes = settings.max_file_bytes
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        prefix = rel_dir + "/" if rel_dir else ""
        try:
            with os.scandir(base + "/" + rel_dir if rel_dir else base) as entries:
                items = list(entries)
        except OSError:
            continue
        names = {entry.name for entry in items}
        if rel_dir and "pyvenv.cfg" in names:
            continue  # a virtual environment, whatever its name
        rules.load_dir(rel_dir, ".gitignore" in names)
        matching = rules.has_rules
        subdirs: list[str] = []
        for entry in items:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name in SKIP_DIRS:
                        continue
                    rel = prefix + name
                    if not matching or not rules.is_ignored_entry(rel, True, revalidate=False):
                        subdirs.append(rel)
                    continue
                if language_for_path(name) is None or not entry.is_file():
                    continue
            except OSError:
                continue
            rel = prefix + name
            if is_secret_path(rel) or is_minified_name(name):
                continue
            if matching and rules.is_ignored_entry(rel, False, revalidate=False):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            if stat.st_size > max_bytes:
                continue
            yield entry.path, stat
        stack.extend(sorted(subdirs, reverse=True))


def iter_source_files(root: Path, settings: IndexSettings) -> Iterator[Path]:
    """Every indexable file under `root`: supported language, not ignored, not secret, not too big."""
    for path, _stat in walk_source_files(root, settings):
        yield Path(path)
