"""Walk filters: secrets, binary, huge, minified, .gitignore (root and nested), exclude globs, venvs."""

from __future__ import annotations

import os
from pathlib import Path

from smallcode_lsp.config import IndexSettings
from smallcode_lsp.index.files import is_probably_binary, is_secret_path, iter_source_files
from smallcode_lsp.index.workspace_index import WorkspaceIndex


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def walked(root: Path, settings: IndexSettings | None = None) -> set[str]:
    return {p.relative_to(root).as_posix() for p in iter_source_files(root, settings or IndexSettings())}


def test_is_secret_path() -> None:
    for secret in (
        ".env",
        ".env.local",
        "prod.env",
        "server.pem",
        "tls.key",
        "id_rsa",
        "id_ed25519",
        "id_rsa.pub",
        "cert.p12",
        "cert.pfx",
        "credentials.json",
        ".netrc",
        ".npmrc",
        ".pypirc",
        "secrets.py",
        "secrets.yaml",
        "config/secret.json",
        "home/.ssh/config.py",
        ".aws/credentials",
        "terraform.tfvars",
    ):
        assert is_secret_path(secret), secret
        assert is_secret_path(Path("/work/project") / secret), secret
    for fine in ("main.py", "id_utils.py", "keyboard.py", "environment.ts", "envelope.go", "secretary.rs"):
        assert not is_secret_path(fine), fine


def test_is_probably_binary() -> None:
    assert not is_probably_binary(b"def f():\n    return 1\n")
    assert not is_probably_binary("größe = '🌍'\n".encode())
    assert is_probably_binary(b"\x7fELF\x00\x00\x01")
    assert is_probably_binary(b"abc" + b"\xff\xfe\xfa" * 10)
    assert not is_probably_binary(b"")


def test_walk_filters(tmp_path: Path) -> None:
    write(tmp_path, "src/app.py")
    write(tmp_path, "src/web/ui.tsx", "export const A = 1;\n")
    write(tmp_path, "README.md", "# docs\n")
    write(tmp_path, "src/secrets.py", "TOKEN = 'x'\n")
    write(tmp_path, ".env", "A=1\n")
    write(tmp_path, "node_modules/lib/index.js", "function f() {}\n")
    write(tmp_path, ".git/hooks/pre-commit.py")
    write(tmp_path, "src/__pycache__/app.cpython-311.py")
    write(tmp_path, "env311/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "env311/lib/site.py")
    write(tmp_path, "static/jquery.min.js", "function a(){}\n")
    write(tmp_path, "big.py", "x = 1\n" * 400)
    assert walked(tmp_path, IndexSettings(max_file_bytes=1000)) == {"src/app.py", "src/web/ui.tsx"}
    assert "big.py" in walked(tmp_path)


def test_gitignore_root_nested_and_negation(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "build/\n*.gen.py\n/top_only.py\n")
    write(tmp_path, "keep.py")
    write(tmp_path, "top_only.py")
    write(tmp_path, "sub/top_only.py")
    write(tmp_path, "build/out.py")
    write(tmp_path, "sub/build/out.py")
    write(tmp_path, "x.gen.py")
    write(tmp_path, "pkg/.gitignore", "local_*.py\n!important.gen.py\n")
    write(tmp_path, "pkg/local_scratch.py")
    write(tmp_path, "pkg/important.gen.py")
    write(tmp_path, "pkg/other.gen.py")
    write(tmp_path, "other/local_scratch.py")
    assert walked(tmp_path) == {
        "keep.py",
        "sub/top_only.py",
        "pkg/important.gen.py",
        "other/local_scratch.py",
    }


def test_exclude_globs(tmp_path: Path) -> None:
    write(tmp_path, "src/a.py")
    write(tmp_path, "src/generated/b.py")
    write(tmp_path, "tests/test_a.py")
    write(tmp_path, "web/x.test.ts", "export const X = 1;\n")
    settings = IndexSettings(exclude=("generated/", "tests/**", "*.test.ts"))
    assert walked(tmp_path, settings) == {"src/a.py"}


def test_is_indexable_matches_the_walk(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "ignored/\n")
    write(tmp_path, "ok.py")
    write(tmp_path, "ignored/deep/x.py")
    write(tmp_path, ".env.py")
    write(tmp_path, "notes.txt", "hi\n")
    index = WorkspaceIndex([tmp_path], IndexSettings(exclude=("*.skip.py",)), None)
    try:
        assert index.is_indexable(tmp_path / "ok.py")
        assert index.is_indexable(tmp_path / "new" / "not_yet.py")
        assert not index.is_indexable(tmp_path / "ignored" / "deep" / "x.py")
        assert not index.is_indexable(tmp_path / ".env.py")
        assert not index.is_indexable(tmp_path / "notes.txt")
        assert not index.is_indexable(tmp_path / "a.skip.py")
        assert not index.is_indexable(tmp_path / "node_modules" / "x.js")
        assert not index.is_indexable(tmp_path.parent / "outside.py")
        # A .gitignore edited later is honoured.
        write(tmp_path, ".gitignore", "ignored/\nok.py\n")
        os.utime(tmp_path / ".gitignore", ns=(1, 10**18))
        assert not index.is_indexable(tmp_path / "ok.py")
    finally:
        index.close()
