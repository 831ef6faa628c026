"""Benchmarks: each prints a table comparing designs side by side in one run (not timed tests)."""
