"""Self-contained widgets; each runs on its own and none imports another."""
