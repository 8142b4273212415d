"""Entry point of `smallcode-lsp` / `python -m smallcode_lsp`: a pygls server over stdio."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from smallcode_lsp import __version__


def build_server():
    """Create the server with every feature registered (importing pygls lazily keeps --version fast)."""
    from smallcode_lsp.server import indexing
    from smallcode_lsp.server import lifecycle as process_lifecycle
    from smallcode_lsp.server.app import SmallCodeServer
    from smallcode_lsp.server.features import (
        agent_commands,
        code_actions,
        commands,
        completion,
        documents,
        lifecycle,
        symbols,
    )

    server = SmallCodeServer()
    features = (lifecycle, documents, completion, symbols, commands, code_actions, agent_commands)
    for feature in (*features, indexing, process_lifecycle):
        feature.register(server)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="smallcode-lsp", description="SmallCode language server (stdio)")
    parser.add_argument("--version", action="version", version=f"smallcode-lsp {__version__}")
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    parser.add_argument("--log-file", help="write debug logs here (stdout is the LSP channel)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    # One BLAS thread: numpy gains nothing here and would fight the model for the cores.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # The model thread runs Python between llama.cpp calls (per-token bookkeeping, logits on numpy).
    # With the default 5 ms GIL switch interval the event loop could wait that long to answer a
    # keystroke from the cache; 1 ms keeps such answers fast at no measurable cost to decoding.
    sys.setswitchinterval(0.001)
    target = {"filename": args.log_file} if args.log_file else {"stream": sys.stderr}
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        **target,
    )
    from smallcode_lsp.server.lifecycle import exit_code, exit_now, install

    server = build_server()
    stdin = install(server)  # signals, the editor's processId, stdin EOF: all end in exit_now
    server.start_io(stdin=stdin)
    # The connection broke (e.g. stdout closed): same way out, without waiting on busy threads.
    exit_now(server, exit_code(server), "connection closed")


if __name__ == "__main__":
    main()
