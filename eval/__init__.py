"""Lore evaluation: metrics, judge, continuous scoring, reports, benchmarks."""
