"""Scoring with the fake judge: deterministic scores, NaN handling, raise_exceptions, summaries."""

from __future__ import annotations

import math

import pytest

from eval.datasets import parse_score_line
from eval.judge import FakeJudge, JudgeError
from eval.scorer import Scorer, summarize

pytestmark = pytest.mark.unit

CTX = "Employees receive 25 days of paid vacation per year."


def item(answer, contexts=(CTX,), **extra):
    import json

    return parse_score_line(json.dumps({"id": "x", "question": "How much vacation?", "contexts": list(contexts), "answer": answer, **extra}), 1)


def test_scores_are_deterministic_and_complete():
    scorer = Scorer(FakeJudge())
    a = scorer.score(item("Employees receive 25 days of paid vacation [1].", reference="25 days of paid vacation"))
    b = scorer.score(item("Employees receive 25 days of paid vacation [1].", reference="25 days of paid vacation"))
    assert a.scores == b.scores
    assert a.scores["faithfulness"] == 1.0 and a.scores["citation_validity"] == 1.0
    assert {"rouge_l", "bleu", "chrf", "token_f1", "exact_match", "string_present"} <= set(a.scores)


def test_judge_failure_is_a_counted_null():
    scorer = Scorer(FakeJudge())
    failed = scorer.score(item("<judge-fails> Employees receive 25 days."))
    assert failed.scores["faithfulness"] is None and "JudgeError" in failed.errors["faithfulness"]
    ok = scorer.score(item("Employees receive 25 days of paid vacation."))
    summary = summarize([failed, ok])
    assert summary["metrics"]["faithfulness"] == {"n": 1, "nulls": 1, "mean": 1.0, "median": 1.0, "min": 1.0}
    assert summary["judge_nulls"] == 1 and 0 < summary["judge_nan_rate"] < 1
    assert summary["errors"] == {"faithfulness: JudgeError": 1}


def test_raise_exceptions_stops_the_run():
    with pytest.raises(JudgeError):
        Scorer(FakeJudge(), raise_exceptions=True).score(item("<judge-fails> Employees receive 25 days."))


def test_bad_input_line_is_reported_not_raised():
    bad = parse_score_line("{not json", 7)
    out = Scorer(FakeJudge()).score(bad)
    assert out.scores == {"faithfulness": None} and "line 7" in out.errors["input"]
    missing = parse_score_line('{"id": "m", "question": "q"}', 8)
    assert "answer" in Scorer(FakeJudge()).score(missing).errors["input"]


def test_refusal_is_faithful_and_skips_relevancy():
    out = Scorer(FakeJudge()).score(item("I could not find this in the documents available to you."))
    assert out.scores["faithfulness"] == 1.0 and "answer_relevancy" not in out.scores
    assert out.detail["faithfulness"]["refusal"] is True


def test_citation_validity_checks_the_cited_chunk():
    other = "The VPN client is WireGuard."
    out = Scorer(FakeJudge()).score(item("Employees receive 25 days of paid vacation [2].", contexts=(CTX, other)))
    assert out.scores["faithfulness"] == 1.0  # supported by the contexts as a whole …
    assert out.scores["citation_validity"] == 0.0  # … but not by the chunk it cites
    out_of_range = Scorer(FakeJudge()).score(item("Employees receive 25 days of paid vacation [9].", contexts=(CTX,)))
    assert out_of_range.scores["citation_validity"] == 0.0


def test_score_many_keeps_input_order():
    items = [item(a) for a in ("Employees receive 25 days.", "Cars are free.", "Employees receive paid vacation.")]
    items = [parse_score_line(f'{{"id": "{i}", "question": "q", "contexts": ["{c}"], "answer": "{it.answer}"}}', i)
             for i, (it, c) in enumerate(zip(items, ("b", "a", "b")))]
    out = Scorer(FakeJudge()).score_many(items)
    assert [o.id for o in out] == ["0", "1", "2"]


def test_summary_ignores_nan_values():
    scorer = Scorer(FakeJudge())
    a = scorer.score(item("Employees receive 25 days."))
    a.scores["faithfulness"] = math.nan
    assert summarize([a])["metrics"]["faithfulness"]["nulls"] == 1
