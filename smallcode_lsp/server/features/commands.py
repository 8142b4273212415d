"""`workspace/executeCommand`: smallcode.status and smallcode.reindex."""

from __future__ import annotations

from typing import Any

from smallcode_lsp import __version__, config
from smallcode_lsp.server.app import SmallCodeServer
from smallcode_lsp.server.indexing import build_index

STATUS = "smallcode.status"
REINDEX = "smallcode.reindex"


def status(ls: SmallCodeServer) -> dict[str, Any]:
    """Everything a user or a benchmark needs to know about the session, as JSON."""
    stats = ls.last_index_stats
    index = ls.index
    return {
        "version": __version__,
        "model": ls.host.describe(),
        "index": {
            "state": ls.index_state,
            "error": ls.index_error,
            "roots": [str(root) for root in ls.roots],
            "files": index.file_count if index else 0,
            "chunks": index.chunk_count if index else 0,
            "lastBuild": {
                "files": stats.files,
                "chunks": stats.chunks,
                "parsedFiles": stats.parsed_files,
                "reusedFiles": stats.reused_files,
                "seconds": round(stats.seconds, 3),
            }
            if stats
            else None,
            "watching": ls.watcher is not None,
        },
        "requests": dict(sorted(ls.counters.items())),
        "pendingHandlers": ls.protocol.pending_handlers(),  # this status request included
        "cache": {"hits": ls.cache.hits, "misses": ls.cache.misses},
        "promptReuse": _prompt_reuse(ls),
        "lastCompletion": ls.last_completion,
        "agent": _agent_status(ls),
        "cloud": ls.cloud.describe()
        if ls.cloud is not None
        else {"endpoint": bool(ls.settings.cloud.endpoint), "circuit": None, "error": None},
        "settings": config.to_dict(ls.settings),
    }


def _agent_status(ls: SmallCodeServer) -> dict[str, Any]:
    """The sandbox's isolation once it has been probed (probing runs a process: not on every poll)."""
    sandbox = ls.agent.sandbox if ls.agent is not None else None
    probed = sandbox is not None and "isolation" in sandbox.__dict__
    return {
        "sandbox": sandbox.isolation.to_dict() if probed else "not started yet (starts with the first fix)"
    }


def _prompt_reuse(ls: SmallCodeServer) -> dict[str, Any]:
    """How much of the prompts the KV cache spared the model from re-evaluating."""
    total = ls.counters["completion.promptTokens"]
    reused = ls.counters["completion.reusedPromptTokens"]
    return {
        "promptTokens": total,
        "reusedPromptTokens": reused,
        "reevaluatedFraction": round((total - reused) / total, 4) if total else None,
    }


def register(server: SmallCodeServer) -> None:
    @server.command(STATUS)
    def show_status(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        return status(ls)

    @server.command(REINDEX)
    async def reindex(ls: SmallCodeServer, *args: Any) -> dict[str, Any]:
        if not ls.roots:
            return {"files": 0, "chunks": 0, "message": "no workspace folder to index"}
        await build_index(ls)
        return status(ls)["index"]
