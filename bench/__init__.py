"""Benchmarks against raw DuckDB on the same data (never timed asserts in tests)."""
