"""Layer 1: tree-sitter symbol index of the workspace (no LSP or editor knowledge)."""
