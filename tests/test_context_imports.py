"""Import parsing, module resolution and import-aware definition ranking (real index, real tree-sitter)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.context.imports import (
    Binding,
    ImportCache,
    file_imports,
    parse_js_imports,
    parse_python_imports,
    rank_definitions,
)
from smallcode_lsp.index.workspace_index import WorkspaceIndex


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def build_index(root: Path) -> WorkspaceIndex:
    index = WorkspaceIndex([root], IndexSettings(), None, workers=1)
    index.build()
    return index


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .models import User", [Binding("User", ".models", "User")]),
        ("from ..pkg.sub import Alpha as A", [Binding("A", "..pkg.sub", "Alpha")]),
        ("import x.y as z", [Binding("z", "x.y", None)]),
        ("import os, a.b", [Binding("os", "os", None), Binding("a", "a.b", None)]),
        (
            "from pkg import (\n    One,  # first\n    Two as Deux,\n)",
            [Binding("One", "pkg", "One"), Binding("Deux", "pkg", "Two")],
        ),
        ("from pkg import a, \\\n    b", [Binding("a", "pkg", "a"), Binding("b", "pkg", "b")]),
        ("def f():\n    from lazy import Later", [Binding("Later", "lazy", "Later")]),
        ("from . import views", [Binding("views", ".", "views")]),
        ("x = 'not an import'", []),
    ],
)
def test_parse_python_imports(source: str, expected: list[Binding]) -> None:
    assert parse_python_imports(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import { X } from './y';", [Binding("X", "./y", "X")]),
        (
            "import React, { useState as useS } from 'react'",
            [Binding("React", "react", "default"), Binding("useS", "react", "useState")],
        ),
        ("import * as utils from '../utils'", [Binding("utils", "../utils", None)]),
        ("import {\n  A,\n  B as C,\n} from './ab'", [Binding("A", "./ab", "A"), Binding("C", "./ab", "B")]),
        ("import type { T } from './types'", [Binding("T", "./types", "T")]),
        ("export { X } from './x'", [Binding("X", "./x", "X")]),
        ("const { q, r: rr } = require('./req')", [Binding("q", "./req", "q"), Binding("rr", "./req", "r")]),
    ],
)
def test_parse_js_imports(source: str, expected: list[Binding]) -> None:
    assert parse_js_imports(source) == expected


PY_TREE = {
    "app/__init__.py": "",
    "app/models.py": "class User:\n    name = ''\n",
    "app/views.py": "",
    "app/forms/__init__.py": "from .user import UserForm\n",
    "app/forms/user.py": "class UserForm:\n    pass\n",
    "src/lib/__init__.py": "",
    "src/lib/util.py": "def helper():\n    return 1\n",
    "admin/models.py": "class User:\n    admin = True\n",
}


@pytest.mark.parametrize(
    ("source", "local", "expected"),
    [
        ("from .models import User", "User", ["app/models.py"]),
        ("from app.models import User as U", "U", ["app/models.py"]),
        ("from .forms import UserForm", "UserForm", ["app/forms/__init__.py"]),
        ("from . import models", "models", ["app/__init__.py", "app/models.py"]),
        ("import lib.util as u", "u", ["src/lib/util.py"]),  # found under src/
        ("from lib import util", "util", ["src/lib/__init__.py", "src/lib/util.py"]),
        ("import app.models", "app", ["app/models.py"]),
        ("from missing import Nothing", "Nothing", []),
    ],
)
def test_resolve_python(tmp_path: Path, source: str, local: str, expected: list[str]) -> None:
    write_tree(tmp_path, PY_TREE)
    current = str(tmp_path / "app" / "views.py")
    imports = file_imports(current, source, [str(tmp_path)])
    assert [os.path.relpath(f, tmp_path) for f in imports.source_files(local)] == expected


def test_resolve_python_package_root_is_workspace(tmp_path: Path) -> None:
    """A workspace that *is* a package (site-packages/django) still resolves `from django.x import`."""
    write_tree(tmp_path, {"django/db/__init__.py": "", "django/db/models.py": "", "django/views.py": ""})
    root = tmp_path / "django"
    imports = file_imports(str(root / "views.py"), "from django.db import models", [str(root)])
    assert [os.path.relpath(f, tmp_path) for f in imports.source_files("models")] == [
        "django/db/__init__.py",
        "django/db/models.py",
    ]


@pytest.mark.parametrize(
    ("source", "local", "expected"),
    [
        ("import { X } from './y'", "X", ["web/y.ts"]),
        ("import { X } from './y.js'", "X", ["web/y.ts"]),  # TS ESM names the emitted file
        ("import * as lib from './lib'", "lib", ["web/lib/index.ts"]),
        ("import React from 'react'", "React", []),  # packages are not in the workspace
    ],
)
def test_resolve_js(tmp_path: Path, source: str, local: str, expected: list[str]) -> None:
    write_tree(tmp_path, {"web/y.ts": "export const X = 1;\n", "web/lib/index.ts": "", "web/main.ts": ""})
    imports = file_imports(str(tmp_path / "web" / "main.ts"), source, [str(tmp_path)])
    assert [os.path.relpath(f, tmp_path) for f in imports.source_files(local)] == expected


def test_rank_prefers_imported_module(tmp_path: Path) -> None:
    write_tree(tmp_path, PY_TREE)
    index = build_index(tmp_path)
    current = str(tmp_path / "app" / "views.py")
    candidates = index.definitions("User")
    assert len(candidates) == 2
    for source, want in [
        ("from admin.models import User", "admin/models.py"),
        ("from .models import User", "app/models.py"),
        ("", "app/models.py"),  # no evidence: nearest directory wins
    ]:
        imports = file_imports(current, source, index.roots)
        ranked = rank_definitions("User", candidates, current, imports)
        assert os.path.relpath(ranked[0].path, tmp_path) == want, source


def test_rank_follows_reexport_into_package(tmp_path: Path) -> None:
    """`from .forms import UserForm` resolves to forms/__init__.py, but the class is in forms/user.py."""
    write_tree(tmp_path, {**PY_TREE, "other/user.py": "class UserForm:\n    pass\n"})
    index = build_index(tmp_path)
    current = str(tmp_path / "admin" / "models.py")  # nearer to other/ than to app/forms/
    imports = file_imports(current, "from app.forms import UserForm", index.roots)
    ranked = rank_definitions("UserForm", index.definitions("UserForm"), current, imports)
    assert os.path.relpath(ranked[0].path, tmp_path) == "app/forms/user.py"


def test_aliased_name_looks_up_the_real_name(tmp_path: Path) -> None:
    write_tree(tmp_path, PY_TREE)
    imports = file_imports(
        str(tmp_path / "app/views.py"), "from .models import User as Member", [str(tmp_path)]
    )
    assert imports.real_name("Member") == "User"
    assert imports.real_name("Other") == "Other"


def test_import_cache_reuses_until_imports_change(tmp_path: Path) -> None:
    write_tree(tmp_path, PY_TREE)
    probes: list[str] = []

    def exists(path: str) -> bool:
        probes.append(path)
        return os.path.isfile(path)

    cache = ImportCache([str(tmp_path)], exists=exists)
    current = str(tmp_path / "app/views.py")
    first = cache.get(current, "from .models import User\n\ndef f():\n    x = 1\n")
    n = len(probes)
    assert cache.get(current, "from .models import User\n\ndef f():\n    x = 12\n") is first
    assert len(probes) == n
    second = cache.get(current, "from .models import User\nfrom . import models\n")
    assert second is not first and "models" in second.bindings
