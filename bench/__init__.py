"""Benchmarks, run on demand (not in CI): each prints its figures and a ratio to a baseline."""
