"""The Helix configuration (editors/helix/languages.toml): Helix itself cannot be installed here, so
its structure is checked against what Helix accepts and what the server understands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from smallcode_lsp import config

if sys.version_info < (3, 11):  # pragma: no cover
    pytest.skip("tomllib needs Python 3.11", allow_module_level=True)
import tomllib

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = tomllib.loads((REPO / "editors" / "helix" / "languages.toml").read_text(encoding="utf-8"))

# Helix's default servers per language (its languages.toml, master 2026-07): kept first, so adding
# SmallCode never removes the user's usual server.
HELIX_DEFAULTS = {
    "python": ["ty", "ruff", "jedi", "pylsp", "zuban"],
    "javascript": ["typescript-language-server"],
    "jsx": ["typescript-language-server"],
    "typescript": ["typescript-language-server"],
    "tsx": ["typescript-language-server"],
    "go": ["gopls", "golangci-lint-lsp"],
    "rust": ["rust-analyzer"],
    "java": ["jdtls"],
    "c": ["clangd"],
    "cpp": ["clangd"],
}
# The feature names Helix's `only-features` accepts (book/src/languages.md).
HELIX_FEATURES = {
    "format", "goto-declaration", "goto-definition", "goto-type-definition", "goto-reference",
    "goto-implementation", "signature-help", "hover", "document-highlight", "completion",
    "code-action", "document-links", "workspace-command", "document-symbols", "workspace-symbols",
    "diagnostics", "rename-symbol", "inlay-hints", "document-colors", "pull-diagnostics",
}  # fmt: skip


def test_the_server_definition_starts_the_installed_command_with_valid_settings() -> None:
    server = LANGUAGES["language-server"]["smallcode"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert server["command"] in pyproject["project"]["scripts"]
    # Fix and Generate tests outlast Helix's 20 s default request timeout.
    assert server["timeout"] >= config.Settings().agent.timeout_seconds
    _, problems = config.apply(config.Settings(), server["config"])
    assert problems == []


def test_every_language_keeps_helix_defaults_and_adds_smallcode_for_merged_features() -> None:
    languages = {entry["name"]: entry for entry in LANGUAGES["language"]}
    assert set(languages) == set(HELIX_DEFAULTS)
    for name, entry in languages.items():
        servers = entry["language-servers"]
        *usual, ours = servers
        assert usual == HELIX_DEFAULTS[name], name
        assert ours["name"] == "smallcode"
        features = set(ours["only-features"])
        assert features <= HELIX_FEATURES
        # Helix merges these from every server; the usual server keeps everything else.
        assert features == {"completion", "code-action", "workspace-command"}
