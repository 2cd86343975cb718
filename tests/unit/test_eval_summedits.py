"""The SummEdits judge benchmark's arithmetic: balanced accuracy, threshold choice, group-wise split."""

from __future__ import annotations

import pytest

from eval.bench.summedits import balanced_accuracy, best_threshold, evaluate, sample_pairs

pytestmark = pytest.mark.unit


def test_balanced_accuracy():
    assert balanced_accuracy([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    assert balanced_accuracy([1, 0, 0, 0], [1, 1, 1, 1]) == 0.5  # always "consistent": chance, whatever the prior
    assert balanced_accuracy([1, 1, 1, 0], [1, 0, 0, 0]) == pytest.approx((1 / 3 + 1) / 2)
    assert balanced_accuracy([1, 1], [1, 0]) is None


def test_best_threshold_separates_when_possible():
    cut = best_threshold([0.0, 0.5, 1.0, 1.0], [0, 0, 1, 1])
    assert 0.5 < cut <= 1.0


def test_threshold_is_chosen_on_tune_and_measured_on_test():
    pairs = [
        {"domain": "d", "half": "tune", "label": 1, "score": 1.0}, {"domain": "d", "half": "tune", "label": 0, "score": 0.0},
        {"domain": "d", "half": "test", "label": 1, "score": 0.4}, {"domain": "d", "half": "test", "label": 0, "score": 0.0},
        {"domain": "d", "half": "test", "label": 0, "score": None},
    ]
    out = evaluate(pairs)
    assert out["balanced_accuracy_tune"] == 1.0
    # the tune cut lies in (0, 1]; 0.4 on test may fall either side, but a null is never counted
    assert out["n_test"] == 2


def test_sample_keeps_groups_within_one_half():
    rows = [{"id": f"{d}/{g}_{i}", "domain": d, "group_id": f"{d}/{g}", "label": i % 2, "document": "", "summary": ""}
            for d in ("a", "b") for g in range(6) for i in range(8)]
    pairs = sample_pairs(rows, groups_per_domain=4, pairs_per_group=4, seed=1)
    halves = {}
    for p in pairs:
        halves.setdefault(p["group_id"], set()).add(p["half"])
    assert all(len(h) == 1 for h in halves.values()) and len(halves) == 8
    assert {p["half"] for p in pairs} == {"tune", "test"}
    assert sum(p["label"] for p in pairs) == len(pairs) // 2
