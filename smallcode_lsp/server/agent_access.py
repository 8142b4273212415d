"""The session's agent service (fixes, tests, the sandbox), shared by the commands and the router."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smallcode_lsp.agent.service import AgentService

if TYPE_CHECKING:
    from smallcode_lsp.server.app import SmallCodeServer


def agent(ls: SmallCodeServer) -> AgentService:
    """Built on first use and rebuilt when the workspace or the settings it uses change."""
    current = ls.agent
    key = (tuple(ls.roots), id(ls.index), ls.settings.agent, ls.settings.index)
    if current is None or ls.agent_key != key:
        current = AgentService(ls.roots, ls.index, ls.settings.agent, ls.settings.index)
        ls.agent, ls.agent_key = current, key
    return current
