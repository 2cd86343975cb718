"""The Cranfield benchmark's query halves and paired comparison (no data set or model needed)."""

from __future__ import annotations

import pytest

from eval.bench.cranfield import ndcg_at, paired, select

pytestmark = pytest.mark.unit

QUERIES = [{"id": str(n), "text": f"q{n}"} for n in range(1, 8)]


def test_halves_split_by_position_and_cover_every_query():
    odd, even, both = select(QUERIES, "odd"), select(QUERIES, "even"), select(QUERIES, "all")
    assert [q["id"] for _, q in odd] == ["1", "3", "5", "7"]
    assert [q["id"] for _, q in even] == ["2", "4", "6"]
    assert sorted(n for n, _ in odd + even) == [n for n, _ in both]
    assert [q["id"] for _, q in select(QUERIES, "odd", limit=2)] == ["1", "3"]


def test_paired_difference_per_half():
    base = {"1": 0.5, "2": 0.5, "3": 0.5, "4": 0.5}
    new = {"1": 0.7, "2": 0.4, "3": 0.5, "4": 0.4}
    out = paired(new, base)
    assert out["odd"]["delta"] == pytest.approx(0.1) and out["odd"]["better"] == 1
    assert out["even"]["delta"] == pytest.approx(-0.1) and out["even"]["worse"] == 2
    assert out["all"]["delta"] == pytest.approx(0.0) and out["all"]["se"] > 0


def test_ndcg_uses_exponential_gain_over_the_ideal_order():
    judged = {"a": 2, "b": 1}
    assert ndcg_at(["a", "b"], judged) == pytest.approx(1.0)
    assert ndcg_at(["b", "a"], judged) < 1.0
