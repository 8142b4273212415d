"""`python -m smallcode_lsp` starts the language server over stdio."""

from smallcode_lsp.server.main import main

# The guard matters: the index's spawned worker processes re-import the parent's main module, and
# they must not start a second server on the editor's stdin.
if __name__ == "__main__":
    main()
