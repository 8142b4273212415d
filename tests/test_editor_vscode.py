"""The VS Code extension's manifest against the server: settings, commands and languages.

Runs without node: it reads editors/vscode/package.json and compares it with `config.py`, so a
setting added to the server without its VS Code contribution (or with another default) fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from smallcode_lsp import config

EXTENSION = Path(__file__).resolve().parents[1] / "editors" / "vscode"
PACKAGE_JSON = EXTENSION / "package.json"

# Settings the extension reads itself and never sends to the server (src/settings.ts EDITOR_ONLY_KEYS).
EDITOR_ONLY = {"server.path", "server.args", "trace.server"}


def _manifest() -> dict[str, Any]:
    return json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))


def _properties() -> dict[str, dict[str, Any]]:
    """Contributed `smallcode.*` properties by dotted key (`model.path`)."""
    blocks = _manifest()["contributes"]["configuration"]
    if isinstance(blocks, dict):
        blocks = [blocks]
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for name, prop in block["properties"].items():
            assert name.startswith("smallcode."), name
            key = name[len("smallcode.") :]
            assert key not in found, f"{name} contributed twice"
            found[key] = prop
    return found


def _types(prop: dict[str, Any]) -> set[str]:
    declared = prop.get("type")
    return set(declared) if isinstance(declared, list) else {declared}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    raise AssertionError(f"unexpected default {value!r}")


def _closure(validate: Any) -> dict[str, Any]:
    """The values a validator factory (`_choice`, `_positive_int`) closed over."""
    cells = getattr(validate, "__closure__", None) or ()
    return dict(zip(validate.__code__.co_freevars, (cell.cell_contents for cell in cells), strict=True))


def test_contributed_settings_are_exactly_the_servers_plus_editor_only_ones():
    server = set(config.to_dict(config.Settings()))
    contributed = set(_properties())
    missing = sorted(server - contributed)
    unknown = sorted(contributed - server - EDITOR_ONLY)
    assert not missing, f"server settings missing from editors/vscode/package.json: {missing}"
    assert not unknown, f"package.json contributes settings the server does not know: {unknown}"
    assert contributed >= EDITOR_ONLY
    assert not (EDITOR_ONLY & server), "an editor-only key became a server setting: drop it from EDITOR_ONLY"


@pytest.mark.parametrize("key", sorted(config.to_dict(config.Settings())))
def test_setting_default_type_and_constraints_match_config(key: str):
    prop = _properties().get(key)
    assert prop is not None, f"smallcode.{key} is not contributed"
    default = config.to_dict(config.Settings())[key]
    assert "default" in prop, f"smallcode.{key} has no default"
    # Same value and same JSON kind (None <-> null, 1.0 <-> 1 is fine for a "number", True is not 1).
    assert prop["default"] == default and isinstance(prop["default"], bool) == isinstance(default, bool), (
        f"smallcode.{key}: package.json default {prop['default']!r} != config default {default!r}"
    )
    types = _types(prop)
    kind = _json_type(default)
    if kind == "null":
        assert "null" in types and len(types) == 2, f"smallcode.{key}: a nullable setting needs [T, null]"
    elif kind == "number":
        assert types == {"number"}, f"smallcode.{key}: {types}"
    else:
        assert kind in types, f"smallcode.{key}: type {types} does not admit its default {default!r}"

    validate = config._SCHEMA[key][2]
    bound = _closure(validate)
    if validate is config._optional_str:
        assert types == {"string", "null"}
    elif validate is config._nonempty_str:
        assert types == {"string"}
    elif validate is config._bool:
        assert types == {"boolean"}
    elif validate is config._number:
        assert types == {"number"}
    elif validate is config._globs:
        assert types == {"array"} and prop.get("items") == {"type": "string"}
    elif "allowed" in bound:  # _choice
        assert types == {"string"}
        assert prop.get("enum") == list(bound["allowed"]), f"smallcode.{key}: enum differs from config"
    elif {"lo", "hi"} <= set(bound):  # _positive_int
        assert types == {"integer"}
        assert (prop.get("minimum"), prop.get("maximum")) == (bound["lo"], bound["hi"]), (
            f"smallcode.{key}: range differs from config"
        )
    if "allowed" not in bound:
        assert "enum" not in prop, f"smallcode.{key}: enum in package.json but config accepts any value"


def test_every_setting_is_described():
    for key, prop in _properties().items():
        text = prop.get("markdownDescription") or prop.get("description")
        assert isinstance(text, str) and len(text) > 15, f"smallcode.{key} needs a description"
    for key in EDITOR_ONLY:
        text = _properties()[key]["markdownDescription"]
        assert text.startswith("Editor-only setting"), key


def test_palette_commands_and_server_command_ids():
    from smallcode_lsp.server.features import code_actions, commands

    palette = _manifest()["contributes"]["commands"]
    contributed = {c["command"]: f"{c.get('category')}: {c['title']}" for c in palette}
    assert contributed["smallcode.client.generateTests"] == "SmallCode: Generate tests"
    assert contributed["smallcode.client.fix"] == "SmallCode: Fix this"
    assert contributed["smallcode.client.status"] == "SmallCode: Show status"
    assert contributed["smallcode.client.reindex"].startswith("SmallCode: Reindex")
    server_ids = {code_actions.FIX, code_actions.GENERATE_TESTS, commands.STATUS, commands.REINDEX}
    # vscode-languageclient registers the server's ids itself; contributing them too would collide.
    assert not server_ids & set(contributed)
    source = (EXTENSION / "src" / "extension.ts").read_text(encoding="utf-8")
    for command in server_ids:
        assert f"'{command}'" in source, f"extension.ts does not call {command}"


def test_languages_match_the_server():
    from smallcode_lsp.index import languages

    language_ids = set(languages._LSP_IDS)
    activation = {e.split(":", 1)[1] for e in _manifest()["activationEvents"] if e.startswith("onLanguage:")}
    assert activation == language_ids
    source = (EXTENSION / "src" / "extension.ts").read_text(encoding="utf-8")
    block = re.search(r"const LANGUAGES = \[(.*?)\];", source, re.S)
    assert block is not None
    assert set(re.findall(r"'([\w-]+)'", block.group(1))) == language_ids


def test_packaging_files():
    manifest = _manifest()
    engine = manifest["engines"]["vscode"].lstrip("^")
    types_vscode = manifest["devDependencies"]["@types/vscode"].lstrip("^")
    assert engine == types_vscode, "vsce refuses @types/vscode newer than engines.vscode"
    ignored = set((EXTENSION / ".gitignore").read_text(encoding="utf-8").split())
    assert {"node_modules/", "dist/", "out/", "*.vsix"} <= ignored
    assert (EXTENSION / "package-lock.json").is_file()
    assert manifest["main"] == "./dist/extension.js"
