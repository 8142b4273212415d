"""The inline-completion pipeline shared by the LSP server and the headless CLI."""
