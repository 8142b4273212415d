"""Layer 2: cross-file context retrieval and prompt assembly."""
