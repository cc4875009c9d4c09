"""Benchmarks: ``python -m bench NAME [ARGS]`` (``make bench BENCH_ARGS="NAME ..."``)."""
