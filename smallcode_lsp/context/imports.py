"""Import-aware definition lookup: the `User` a file means is the one it imported.

A workspace often defines a name many times (`User` in models, in tests, in a migration). The symbol
index only knows names, so this module reads the current file's import statements (plain regular
expressions: they run on every keystroke and must cost well under a millisecond), maps each bound
name to the module files it can come from, and ranks index candidates by that evidence:

1. the file the name was imported from;
2. anything inside the imported module's package (re-exports: `models/__init__.py` -> `models/user.py`);
3. any module the current file imports at all (covers `models.CharField` after `from x import models`);
4. then by directory distance from the current file.

Python (`import a.b as c`, `from ..pkg import X as Y`, parenthesised lists) and JS/TS
(`import X, {A as B} from './y'`, `import * as ns from '../z'`, `require('./w')`) are understood.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from smallcode_lsp.index.chunker import Chunk

# --------------------------------------------------------------------------- parsing

# `from X import ...` with an optional parenthesised (multi-line) or backslash-continued list.
_PY_FROM = re.compile(
    r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(\([^)]*\)?|(?:[^\n\\]|\\[\s\S])*)", re.MULTILINE
)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+((?:[^\n\\]|\\[\s\S])*)", re.MULTILINE)
_JS_IMPORT = re.compile(
    r"""(?:^|[;\s])(?:import|export)\s+(?:type\s+)?([\w$*{}\s,]*?)\s*from\s*['"]([^'"\n]+)['"]"""
)
_JS_REQUIRE = re.compile(
    r"""(?:const|let|var)\s+([\w$]+|\{[^}]*\})\s*=\s*require\(\s*['"]([^'"\n]+)['"]\s*\)"""
)
_NAME = re.compile(r"[\w$]+")
_PY_EXTS = (".py", ".pyi")
_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


@dataclass(frozen=True)
class Binding:
    """One name an import statement binds in the current file."""

    local: str  # the name as used in this file (`z` in `import x.y as z`)
    module: str  # the module as written: ".models", "pkg.sub", "./y"
    name: str | None  # the imported attribute (`User`); None when the binding is the module itself


@dataclass
class FileImports:
    """The imports of one file with their candidate module files (resolved once, then cached)."""

    path: str
    bindings: dict[str, Binding] = field(default_factory=dict)
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # local name -> module files
    _all: frozenset[str] | None = field(default=None, repr=False)

    def real_name(self, local: str) -> str:
        """The name to look up in the index for a name used in this file (undoes `as` aliases)."""
        binding = self.bindings.get(local)
        if binding is None or binding.name in (None, "*", "default"):
            return local  # a default export is usually declared under the name it is imported as
        return binding.name

    def source_files(self, local: str) -> tuple[str, ...]:
        return self.files.get(local, ())

    def all_files(self) -> frozenset[str]:
        if self._all is None:
            self._all = frozenset(f for files in self.files.values() for f in files)
        return self._all


def _strip_comment(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.split("\n"))


def _py_names(clause: str) -> list[tuple[str, str]]:
    """(imported, local) pairs of `a, b as c` (parentheses, continuations and comments allowed)."""
    clause = _strip_comment(clause).replace("\\\n", " ").strip().strip("()")
    out: list[tuple[str, str]] = []
    for item in clause.split(","):
        words = item.split()
        if len(words) == 1:
            out.append((words[0], words[0].split(".")[0]))
        elif len(words) == 3 and words[1] == "as":
            out.append((words[0], words[2]))
    return out


def parse_python_imports(text: str) -> list[Binding]:
    bindings: list[Binding] = []
    for m in _PY_FROM.finditer(text):
        module = m.group(1)
        for name, local in _py_names(m.group(2)):
            if name.isidentifier() or name == "*":
                bindings.append(Binding(local, module, name))
    for m in _PY_IMPORT.finditer(text):
        for dotted, local in _py_names(m.group(1)):
            if all(part.isidentifier() for part in dotted.split(".")):
                # `import a.b` binds `a` but is used as `a.b.X`: resolve to the full module.
                bindings.append(Binding(local, dotted, None))
    return bindings


def parse_js_imports(text: str) -> list[Binding]:
    bindings: list[Binding] = []
    for m in _JS_IMPORT.finditer(text):
        clause, module = m.group(1), m.group(2)
        braced = re.search(r"\{([^}]*)\}", clause)
        outside = re.sub(r"\{[^}]*\}", " ", clause)
        star = re.search(r"\*\s*as\s+([\w$]+)", outside)
        if star:
            bindings.append(Binding(star.group(1), module, None))
            outside = outside[: star.start()] + outside[star.end() :]
        for default in _NAME.findall(outside):
            if default != "type":
                bindings.append(Binding(default, module, "default"))
        if braced:
            bindings.extend(_js_braced(braced.group(1), module))
    for m in _JS_REQUIRE.finditer(text):
        target, module = m.group(1), m.group(2)
        if target.startswith("{"):
            bindings.extend(_js_braced(target[1:-1], module, sep=":"))
        else:
            bindings.append(Binding(target, module, None))
    return bindings


def _js_braced(inner: str, module: str, sep: str = " as ") -> list[Binding]:
    out: list[Binding] = []
    for item in inner.split(","):
        item = item.strip()
        if item.startswith("type "):
            item = item[5:].strip()
        if not item:
            continue
        name, _, local = item.partition(sep.strip() if sep == ":" else sep)
        name, local = name.strip(), (local.strip() or name.strip())
        if _NAME.fullmatch(name) and _NAME.fullmatch(local):
            out.append(Binding(local, module, name))
    return out


# --------------------------------------------------------------------------- resolution


@lru_cache(maxsize=8192)
def _is_file(path: str) -> bool:
    """Cached: resolution runs per keystroke and module layouts rarely change while typing."""
    return os.path.isfile(path)


def clear_file_cache() -> None:
    """Forget cached file existence (call after files are created or deleted)."""
    _is_file.cache_clear()
    _is_dir.cache_clear()
    _python_module_files.cache_clear()


@lru_cache(maxsize=16384)
def _is_dir(path: str) -> bool:
    return os.path.isdir(path)


@lru_cache(maxsize=16384)
def _python_module_files(base: str, dotted: str, exists: Callable[[str], bool]) -> tuple[str, ...]:
    """Cached per (base, module): many files import the same modules, most from outside the workspace."""
    first = dotted.split(".", 1)[0]
    if first and not (_is_dir(os.path.join(base, first)) or exists(os.path.join(base, first + ".py"))):
        return ()  # cheap reject: most bases do not hold the top-level package at all
    rel = os.path.join(base, *dotted.split(".")) if dotted else base
    found = [rel + ext for ext in _PY_EXTS if exists(rel + ext)]
    found += [
        os.path.join(rel, "__init__" + ext) for ext in _PY_EXTS if exists(os.path.join(rel, "__init__" + ext))
    ]
    return tuple(found)


def _python_bases(current_dir: str, roots: Sequence[str]) -> list[str]:
    """Where an absolute import may start: each root, its src/, and the ancestors of this file.

    Ancestors matter when a root *is* a package (the workspace is `site-packages/django`, the code
    says `from django.db import models`).
    """
    bases: list[str] = []
    for root in roots:
        bases += [root, os.path.join(root, "src")]
    d = current_dir
    for _ in range(12):
        bases.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return list(dict.fromkeys(bases))


def resolve_python(
    binding: Binding, current_path: str, roots: Sequence[str], exists: Callable[[str], bool] = _is_file
) -> tuple[str, ...]:
    """Candidate files of a Python binding, most specific first (the attribute as a submodule last)."""
    module = binding.module
    current_dir = os.path.dirname(current_path)
    level = len(module) - len(module.lstrip("."))
    dotted = module[level:]
    if level:
        base = current_dir
        for _ in range(level - 1):
            base = os.path.dirname(base)
        bases = [base]
    else:
        bases = _python_bases(current_dir, roots)
    for base in bases:
        found = list(_python_module_files(base, dotted, exists))
        if binding.name and binding.name != "*":
            # `from pkg import sub` may import a submodule rather than a name in pkg/__init__.py.
            found += _python_module_files(
                base, f"{dotted}.{binding.name}" if dotted else binding.name, exists
            )
        if found:
            return tuple(found)
    return ()


def resolve_js(
    binding: Binding, current_path: str, exists: Callable[[str], bool] = _is_file
) -> tuple[str, ...]:
    """Relative JS/TS specifiers only: packages live in node_modules, which is not indexed."""
    spec = binding.module
    if not spec.startswith("."):
        return ()
    target = os.path.normpath(os.path.join(os.path.dirname(current_path), spec))
    stem, ext = os.path.splitext(target)
    candidates = [target] if ext else []
    if ext in (".js", ".jsx", ".mjs", ".cjs"):  # TS ESM imports name the emitted .js file
        candidates += [stem + e for e in (".ts", ".tsx", ".mts", ".cts")]
    candidates += [target + e for e in _JS_EXTS]
    candidates += [os.path.join(target, "index" + e) for e in _JS_EXTS]
    return tuple(c for c in dict.fromkeys(candidates) if exists(c))


def _is_js(path: str) -> bool:
    return path.endswith((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"))


def file_imports(
    path: str, text: str, roots: Sequence[str], exists: Callable[[str], bool] = _is_file
) -> FileImports:
    """Parse and resolve the imports of `text` (the current file's content)."""
    result = FileImports(path)
    if path.endswith((".py", ".pyi", ".pyw")):
        bindings = parse_python_imports(text)

        def resolve(b: Binding) -> tuple[str, ...]:
            return resolve_python(b, path, roots, exists)
    elif _is_js(path):
        bindings = parse_js_imports(text)

        def resolve(b: Binding) -> tuple[str, ...]:
            return resolve_js(b, path, exists)
    else:
        return result
    for binding in bindings:
        result.bindings[binding.local] = binding
        files = resolve(binding)
        if files:
            if binding.name is None:  # `import a.b; import a.c` both bind `a`: keep both modules
                files = tuple(dict.fromkeys(result.files.get(binding.local, ()) + files))
            result.files[binding.local] = files
    return result


class ImportCache:
    """Per-file cache of resolved imports, keyed on the text of the import statements themselves.

    Typing in a function body leaves the import statements unchanged, so resolution (file-system
    probes) happens only when an import line changes.
    """

    def __init__(
        self, roots: Iterable[str], exists: Callable[[str], bool] = _is_file, size: int = 64
    ) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self.exists = exists
        self.size = size
        self._cache: dict[str, tuple[int, FileImports]] = {}

    def get(self, path: str, text: str) -> FileImports:
        if path.endswith((".py", ".pyi", ".pyw")):
            matches = _PY_FROM.findall(text), _PY_IMPORT.findall(text)
        elif _is_js(path):
            matches = _JS_IMPORT.findall(text), _JS_REQUIRE.findall(text)
        else:
            return FileImports(path)
        key = hash((matches[0].__repr__(), matches[1].__repr__()))
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        imports = file_imports(path, text, self.roots, self.exists)
        if len(self._cache) >= self.size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[path] = (key, imports)
        return imports


# --------------------------------------------------------------------------- ranking


def _common_depth(a: str, b: str) -> int:
    """Number of leading directory components two paths share."""
    pa, pb = os.path.dirname(a).split(os.sep), os.path.dirname(b).split(os.sep)
    n = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        n += 1
    return n


def _inside(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def evidence_tier(name: str, chunk: Chunk, imports: FileImports | None) -> int:
    """0 = imported from this file, 1 = inside the imported package, 2 = some imported module, 3 = none."""
    if imports is None:
        return 3
    direct = imports.source_files(name)
    if chunk.path in direct:
        return 0
    for f in direct:
        if os.path.basename(f).startswith("__init__.") or os.path.basename(f).startswith("index."):
            if _inside(chunk.path, os.path.dirname(f)):
                return 1
        elif _inside(chunk.path, os.path.splitext(f)[0]):
            return 1
    if chunk.path in imports.all_files():
        return 2
    return 3


def rank_definitions(
    name: str, candidates: Iterable[Chunk], current_path: str, imports: FileImports | None
) -> list[Chunk]:
    """Candidates for `name` best first: import evidence, then nearest directory, then path (stable)."""
    scored = []
    for chunk in candidates:
        tier = evidence_tier(name, chunk, imports)
        scored.append((tier, -_common_depth(chunk.path, current_path), chunk.path, chunk.start_line, chunk))
    scored.sort(key=lambda t: t[:4])
    return [t[4] for t in scored]
