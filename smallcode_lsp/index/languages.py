"""Supported languages: file extensions, LSP language ids, tree-sitter grammars and tag queries.

Grammars come from the per-language wheels (never a bundled "all languages" package) and are loaded
lazily, so a Python-only workspace never pays for the C++ grammar. Tag queries live in
`grammars/<query_name>/tags.scm`; they are compiled once per process and shared by all threads
(a compiled `Query` is immutable; each search gets its own `QueryCursor`).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

import smallcode_lsp

_PACKAGE_DIR = Path(smallcode_lsp.__file__).resolve().parent
# Installed wheel first (hatch force-include), then the repository checkout.
GRAMMAR_DIRS: tuple[Path, ...] = (_PACKAGE_DIR / "grammars", _PACKAGE_DIR.parent / "grammars")

_lock = threading.Lock()
_languages: dict[str, tree_sitter.Language] = {}
_queries: dict[str, tree_sitter.Query] = {}


@dataclass(frozen=True)
class LanguageSpec:
    """One language the index understands; cheap to create, heavy parts load on first use."""

    name: str
    extensions: tuple[str, ...]
    comment_prefix: str
    module: str  # the grammar wheel's import name
    entry: str = "language"  # function in `module` returning the language capsule
    query_name: str = ""  # folder under grammars/ (defaults to `name`; tsx shares typescript's)

    @property
    def language(self) -> tree_sitter.Language:
        lang = _languages.get(self.name)
        if lang is None:
            with _lock:
                lang = _languages.get(self.name)
                if lang is None:
                    capsule = getattr(importlib.import_module(self.module), self.entry)()
                    lang = _languages[self.name] = tree_sitter.Language(capsule)
        return lang

    @property
    def query_path(self) -> Path:
        folder = self.query_name or self.name
        for base in GRAMMAR_DIRS:
            candidate = base / folder / "tags.scm"
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"no grammars/{folder}/tags.scm in {', '.join(map(str, GRAMMAR_DIRS))}")

    @property
    def query(self) -> tree_sitter.Query:
        query = _queries.get(self.name)
        if query is None:
            language = self.language
            with _lock:
                query = _queries.get(self.name)
                if query is None:
                    source = self.query_path.read_text(encoding="utf-8")
                    query = _queries[self.name] = tree_sitter.Query(language, source)
        return query

    def new_parser(self) -> tree_sitter.Parser:
        """A fresh parser: parsers hold mutable state, so each thread or document needs its own."""
        return tree_sitter.Parser(self.language)


_SPECS: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", (".py", ".pyi", ".pyw"), "#", "tree_sitter_python"),
    LanguageSpec("javascript", (".js", ".jsx", ".mjs", ".cjs"), "//", "tree_sitter_javascript"),
    LanguageSpec(
        "typescript", (".ts", ".mts", ".cts"), "//", "tree_sitter_typescript", "language_typescript"
    ),
    LanguageSpec("tsx", (".tsx",), "//", "tree_sitter_typescript", "language_tsx", "typescript"),
    LanguageSpec("go", (".go",), "//", "tree_sitter_go"),
    LanguageSpec("rust", (".rs",), "//", "tree_sitter_rust"),
    LanguageSpec("java", (".java",), "//", "tree_sitter_java"),
    LanguageSpec("c", (".c",), "//", "tree_sitter_c"),
    # `.h` goes to C++: its grammar parses nearly all C headers, the C grammar no C++ header.
    LanguageSpec(
        "cpp",
        (".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".inl"),
        "//",
        "tree_sitter_cpp",
    ),
)

SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(spec.name for spec in _SPECS)

_BY_NAME: dict[str, LanguageSpec] = {spec.name: spec for spec in _SPECS}
_BY_EXTENSION: dict[str, LanguageSpec] = {ext: spec for spec in _SPECS for ext in spec.extensions}
_LSP_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "cuda-cpp": "cpp",
}


def language_for_path(path: str | os.PathLike[str]) -> LanguageSpec | None:
    """The language of a file, by extension (case-insensitive); None when unsupported."""
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dot-file such as ".py"
        return None
    ext = name[dot:]
    return _BY_EXTENSION.get(ext) or _BY_EXTENSION.get(ext.lower())


def language_for_id(language_id: str) -> LanguageSpec | None:
    """The language for an LSP `languageId` (also accepts our own names such as "tsx")."""
    name = _LSP_IDS.get(language_id, language_id)
    return _BY_NAME.get(name)


def language_by_name(name: str) -> LanguageSpec | None:
    return _BY_NAME.get(name)


def query_fingerprint() -> str:
    """Hash of every tag query and extension: a cache built with other rules is stale.

    Other queries give other chunks; other extensions give other cached directory listings.
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(",".join(sorted(_BY_EXTENSION)).encode() + b"\0")
    for spec in _SPECS:
        try:
            digest.update(spec.name.encode() + b"\0" + spec.query_path.read_bytes() + b"\0")
        except OSError:
            digest.update(spec.name.encode() + b"\0missing\0")
    return digest.hexdigest()
