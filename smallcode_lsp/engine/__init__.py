"""Layer 3: the in-process model, FIM templates, decoding and post-processing."""
