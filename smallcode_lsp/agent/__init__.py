"""Agent loops (fix, tests) and the sandbox they run code in."""
