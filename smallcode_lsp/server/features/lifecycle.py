"""initialize / initialized / configuration changes / shutdown."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from smallcode_lsp import config
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.indexing import build_index

log = logging.getLogger(__name__)


def _workspace_roots(params: types.InitializeParams) -> list[Path]:
    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots = [Path(to_fs_path(uri) or "") for uri in uris]
    if not roots and params.root_path:
        roots = [Path(params.root_path)]
    return [root for root in roots if str(root) and root.is_dir()]


def _apply_settings(ls: SmallCodeServer, options: Any) -> list[str]:
    ls.settings, problems = config.apply(ls.settings, options)
    for problem in problems:
        ls.tell(problem, types.MessageType.Warning)
    return problems


async def _pull_configuration(ls: SmallCodeServer) -> Any:
    """The `smallcode` section via `workspace/configuration`, when the client supports it."""
    workspace = ls.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return None
    try:
        items = [types.ConfigurationItem(section="smallcode")]
        result = await asyncio.wait_for(
            ls.workspace_configuration_async(types.ConfigurationParams(items=items)), timeout=5
        )
    except Exception as exc:  # a client that fails this request must not stop the server starting
        log.info("workspace/configuration failed: %s", exc)
        return None
    return result[0] if result and isinstance(result[0], dict) else None


def _load_model(ls: SmallCodeServer) -> None:
    recovering = ls.host.state == "error"
    future = ls.host.load(ls.settings.model)

    def done(_: object) -> None:
        for notice in (getattr(ls.host.engine, "notice", None), ls.host.notice):
            if notice:
                ls.tell(notice, types.MessageType.Warning)
        if ls.host.state == "error":
            ls.tell(
                f"model not loaded: {ls.host.error}. Symbols and code actions still work; completions "
                "resume as soon as the `smallcode.model` settings are fixed (no restart needed).",
                types.MessageType.Error,
            )
        elif recovering and ls.host.state == "ready":
            ls.tell("model loaded: completions are back on.")

    future.add_done_callback(done)


def register(server: SmallCodeServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SmallCodeServer, params: types.InitializeParams) -> None:
        ls.roots = _workspace_roots(params)
        for root in ls.roots[:1]:
            _apply_settings(ls, config.from_pyproject(root))
        _apply_settings(ls, params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SmallCodeServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        pulled = await _pull_configuration(ls)
        if pulled:
            _apply_settings(ls, pulled)
        _load_model(ls)
        if ls.roots:
            asyncio.ensure_future(build_index(ls))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: SmallCodeServer, params: types.DidChangeConfigurationParams
    ) -> None:
        before = ls.settings
        # Push-style clients (Neovim, Helix) send the values; pull-style ones (VS Code) send nothing
        # and expect us to ask with workspace/configuration.
        _apply_settings(ls, params.settings or await _pull_configuration(ls))
        ls.cache = type(ls.cache)()
        if ls.settings.model != before.model or ls.host.state == "error":  # retry a failed load
            _load_model(ls)
        if ls.settings.index != before.index and ls.roots:
            asyncio.ensure_future(build_index(ls))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SmallCodeServer, params: Any) -> None:
        if ls.watcher is not None:
            ls.watcher.stop()
        for event in ls.inflight.values():
            event.set()
        ls.host.shutdown()
        if ls.index is not None:
            ls.index.close()
