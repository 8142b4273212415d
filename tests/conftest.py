"""Shared fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tiny_gguf import write_tiny_gguf


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random llama GGUF with a Qwen2.5-Coder-style FIM vocabulary, written once."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny-coder.gguf")


INDEX_FIXTURES = Path(__file__).parent / "index_fixtures"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A private copy of `tests/index_fixtures` (files in every indexed language) to edit freely.

    Test modules that need a different workspace define their own `workspace` fixture.
    """
    root = tmp_path / "ws"
    shutil.copytree(INDEX_FIXTURES, root)
    return root
