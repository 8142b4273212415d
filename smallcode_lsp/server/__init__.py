"""LSP protocol layer: thin pygls handlers over the services."""
