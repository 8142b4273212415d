"""`python -m smallcode_lsp` starts the language server over stdio."""

from smallcode_lsp.server.main import main

main()
