"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_gguf import write_tiny_gguf


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random llama GGUF with a Qwen2.5-Coder-style FIM vocabulary, written once."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny-coder.gguf")
