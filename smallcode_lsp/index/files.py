"""Which files get indexed: the workspace walk (with its directory-listing cache) plus the secret and
binary filters.

`is_secret_path` is shared with the cloud client: a file that looks like it holds credentials is
never parsed, stored in the cache or sent anywhere, whatever the ignore rules say.
"""

from __future__ import annotations

import marshal
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISREG

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


# A directory as listed: (mtime_ns, ctime_ns, flags, subdirectory names, supported-language file names).
Listing = tuple[int, int, int, tuple[str, ...], tuple[str, ...]]
_HAS_GITIGNORE = 1
_IS_VENV = 2
# Timestamps are coarse (a kernel tick, or worse on some filesystems): a change made in the same tick
# as a listing leaves the directory's times as they were, so listings of directories changed this
# recently are not kept (git's "racily clean" rule).
_RACY_NS = 2_000_000_000


class DirCache:
    """Directory listings of the last walk, reused while the directory's mtime and ctime are unchanged.

    Adding, removing or renaming an entry updates its directory's times, so unchanged times mean an
    unchanged listing: a warm walk stats each directory instead of listing it. Only the raw listing is
    kept; ignore rules, secret and size filters are applied afresh on every walk, and every candidate
    file is still stat'ed (its content may have changed).
    """

    def __init__(self, stored: dict[str, bytes] | None = None) -> None:
        self.stored = stored or {}  # relative directory -> marshal-encoded Listing
        self.changed: dict[str, bytes | None] = {}  # to write back; None = forget
        self.visited: set[str] = set()

    def listings_to_store(self) -> list[tuple[str, bytes]]:
        return [(rel_dir, blob) for rel_dir, blob in self.changed.items() if blob is not None]

    def listings_to_forget(self) -> list[str]:
        """Listings made racily, and directories this walk did not reach (deleted or now ignored)."""
        racy = [rel_dir for rel_dir, blob in self.changed.items() if blob is None]
        return racy + [rel_dir for rel_dir in self.stored if rel_dir not in self.visited]

    def listing(self, folder: str, rel_dir: str) -> Listing | None:
        try:
            stat = os.stat(folder)
        except OSError:
            return None
        mtime, ctime = stat.st_mtime_ns, stat.st_ctime_ns
        self.visited.add(rel_dir)
        blob = self.stored.get(rel_dir)
        if blob is not None:
            cached: Listing = marshal.loads(blob)
            if cached[0] == mtime and cached[1] == ctime:
                return cached
        listing = _list_dir(folder, mtime, ctime)
        if listing is None or time.time_ns() - max(mtime, ctime) < _RACY_NS:
            if blob is not None:
                self.changed[rel_dir] = None
        else:
            self.changed[rel_dir] = marshal.dumps(listing)
        return listing


def _list_dir(folder: str, mtime: int = 0, ctime: int = 0) -> Listing | None:
    """One scandir: subdirectories (symlinks not followed), files we could index, and two flags."""
    flags = 0
    subdirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name == ".gitignore":
                    flags |= _HAS_GITIGNORE
                elif name == "pyvenv.cfg":
                    flags |= _IS_VENV
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    subdirs.append(name)
                elif language_for_path(name) is not None:
                    files.append(name)
    except OSError:
        return None
    return mtime, ctime, flags, tuple(subdirs), tuple(files)


def walk_source_files(
    root: Path,
    settings: IndexSettings,
    dirs: DirCache | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """Like `iter_source_files` but yields (absolute path, stat) so callers need not stat again.

    With `dirs`, unchanged directories are not re-listed and the new listings are collected in it.
    Symlinked directories are never entered (no loops); unreadable directories and files that
    vanish between the listing and their stat are skipped; `should_stop` is asked per directory.
    """
    rules = IgnoreRules(root, settings.exclude)
    base = rules.root
    max_bytes = settings.max_file_bytes
    stack = [""]
    while stack:
        if should_stop is not None and should_stop():
            return
        rel_dir = stack.pop()
        prefix = rel_dir + "/" if rel_dir else ""
        folder = base + "/" + rel_dir if rel_dir else base
        listing = _list_dir(folder) if dirs is None else dirs.listing(folder, rel_dir)
        if listing is None:
            continue
        _mtime, _ctime, flags, subdir_names, file_names = listing
        if rel_dir and flags & _IS_VENV:
            continue  # a virtual environment, whatever its name
        rules.load_dir(rel_dir, bool(flags & _HAS_GITIGNORE))
        matching = rules.has_rules
        subdirs: list[str] = []
        for name in subdir_names:
            if name in SKIP_DIRS:
                continue
            rel = prefix + name
            if not matching or not rules.is_ignored_entry(rel, True, revalidate=False):
                subdirs.append(rel)
        folder_slash = folder if folder.endswith("/") else folder + "/"
        for name in file_names:
            rel = prefix + name
            if is_secret_path(rel) or is_minified_name(name):
                continue
            if matching and rules.is_ignored_entry(rel, False, revalidate=False):
                continue
            path = folder_slash + name
            try:
                stat = os.stat(path)
            except OSError:
                continue
            if S_ISREG(stat.st_mode) and stat.st_size <= max_bytes:
                yield path, stat
        stack.extend(sorted(subdirs, reverse=True))


def iter_source_files(root: Path, settings: IndexSettings) -> Iterator[Path]:
    """Every indexable file under `root`: supported language, not ignored, not secret, not too big."""
    for path, _stat in walk_source_files(root, settings):
        yield Path(path)
