"""Benchmarks for devhost's Durable engine; run with `python -m bench`."""
