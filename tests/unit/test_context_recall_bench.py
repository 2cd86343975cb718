"""The context-recall benchmark's matching: an amount is found by its digits as a filing writes
them (a table cell under "(In millions)"), never inside a longer number; the summary counts the
questions that have at least half their key facts at each depth."""

from __future__ import annotations

import pytest

from eval.bench.context_recall import DEPTHS, held, summarise
from eval.keyfacts import KeyFact

pytestmark = pytest.mark.unit


def test_an_amount_is_found_by_its_digits_in_a_table_cell_and_not_inside_another_number():
    table = "| Total gross margin | $ 36,413 | $ 35,885 |"
    assert held(KeyFact("amount", "$36,413 million"), table)
    assert not held(KeyFact("amount", "$36,41 million"), table)
    assert not held(KeyFact("amount", "$6,413 million"), table)
    assert not held(KeyFact("amount", "$36,413 million"), "| Other | 136,413 | 36,4130 |")
    assert held(KeyFact("amount", "$18.7 billion"), "we had $18.7 billion of commercial paper")
    assert not held(KeyFact("amount", "$18.7 billion"), "we had $118.75 billion")


def test_names_and_dates_are_matched_as_in_answers():
    assert held(KeyFact("name", "Activision Blizzard"), "the acquisition of Activision Blizzard, Inc. closed")
    assert not held(KeyFact("name", "Activision Blizzard"), "the acquisition of Nuance closed")


def test_the_summary_counts_questions_with_half_their_facts():
    ranked_all = {k: 1.0 for k in DEPTHS}
    ranked_none = {k: 0.0 for k in DEPTHS}
    rows = [
        {"in_filings": 1.0, "in_prompt": 0.5, "ranked": ranked_all},
        {"in_filings": 0.5, "in_prompt": 0.0, "ranked": ranked_none},
    ]
    out = summarise(rows)
    assert out["questions"] == 2
    assert out["fact_recall"]["in_prompt"] == 0.25 and out["questions_with_half_the_facts"]["in_prompt"] == 0.5
    assert out["questions_with_half_the_facts"]["in_filings"] == 1.0 and out["fact_recall"]["top_8"] == 0.5
