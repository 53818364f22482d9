"""Benchmarks: generate data, then time each pipeline command as a child process, with its
wall time, throughput and peak memory, next to DuckDB's bare `read_json` of the same files.

Run `python -m bench --events 1000000` from the repository root; see bench/README.md.
"""
