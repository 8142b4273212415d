"""SmallCode LSP: a local, private AI pair programmer behind the Language Server Protocol."""

__version__ = "0.1.0"
