"""Benchmarks: each prints JSON and writes a file under eval/bench/results/."""
