"""The answer benchmark's scorer: which parts of a reference answer are key facts, and when an
answer states them."""

from __future__ import annotations

import pytest

from eval.keyfacts import KeyFact, correct, expects_refusal, key_facts, score

pytestmark = pytest.mark.unit


def test_amounts_names_and_the_opening_yes_are_key_facts():
    facts = key_facts(
        "Did Apple repurchase shares?",
        "Yes, Apple repurchased $19.0 billion of its common stock under a program approved by the Board of Directors.",
    )
    assert KeyFact("amount", "$19.0 billion") in facts
    assert KeyFact("name", "Board of Directors") in facts
    assert KeyFact("yes", "yes") in facts


def test_quarter_and_fiscal_year_labels_are_not_key_facts():
    facts = key_facts(
        "How did Intel's inventories change?",
        "In Q3 2022, inventories were $13.224 billion. By Q1 2023 they were $12.993 billion; in Q3 they fell. FY2023 guidance.",
    )
    assert [f.text for f in facts] == ["$13.224 billion", "$12.993 billion"]


def test_the_operands_of_a_calculation_are_not_key_facts_its_result_is():
    facts = key_facts(
        "What percentage of Apple's total revenue did Services contribute?",
        "Services contributed 21,213 million dollars of total net sales of 81,797 million dollars. "
        "(21,213 / 81,797) * 100 = 25.93%",
    )
    assert [f.text for f in facts] == ["21,213 million", "81,797 million", "25.93%"]


def test_an_amount_matches_within_the_precision_it_was_written_with_and_needs_its_scale():
    facts = [KeyFact("amount", "$36.4 billion")]
    assert score("q", "", "Gross margin was $36,413 million. [1]", facts=facts).recall == 1.0
    assert score("q", "", "Gross margin was 36,413. [1]", facts=facts).recall == 0.0


def test_an_answer_is_correct_with_half_its_facts_and_the_right_polarity():
    facts = [KeyFact("yes", "yes"), KeyFact("amount", "$5 million"), KeyFact("amount", "$7 million")]
    assert correct(score("q", "", "Yes. It paid $5 million. [1]", facts=facts), refused=False)
    assert not correct(score("q", "", "No. It paid $5 million and $7 million. [1]", facts=facts), refused=False)
    assert not correct(score("q", "", "Yes. It paid $5 million. [1]", facts=facts), refused=True)


def test_a_company_named_by_the_question_is_not_a_key_fact_with_its_legal_form():
    facts = key_facts("What legal proceedings involve Apple?", "Apple Inc. is a defendant in a case brought by the European Commission.")
    assert facts == [KeyFact("name", "European Commission")]


def test_a_reference_saying_none_happened_expects_that_answer_not_a_refusal():
    """"NVIDIA did not disclose any significant acquisitions" answers the question (there were none);
    "does not provide specific details" says the documents lack the answer."""
    reference = "NVIDIA did not disclose any significant acquisitions or divestitures in the Q2 2023 10-Q."
    facts = key_facts("Did NVIDIA disclose any significant acquisitions or divestitures in the Q2 2023 10-Q?", reference)
    assert facts == [KeyFact("no", "no")] and not expects_refusal(reference, facts)
    assert correct(score("q", reference, "No. There were no acquisitions in the quarter. [1]", facts=facts), refused=False)
    assert not correct(score("q", reference, "I could not find this in the documents available to you.", facts=facts), refused=True)
    lacking = "The 10-Q does not provide any specific details on the relationship between R&D spending and new services."
    assert expects_refusal(lacking, key_facts("How does R&D spending relate to new services?", lacking))


def test_a_question_asking_what_changed_if_any_takes_a_negative_answer():
    reference = "Apple did not disclose any changes to its significant accounting policies in its most recent 10-Q."
    facts = key_facts("What significant accounting policy changes, if any, did Apple disclose in its most recent 10-Q?", reference)
    assert facts == [KeyFact("no", "no")]
    assert correct(score("q", reference, "There have been no material changes to the Company's critical accounting estimates. [1]", facts=facts),
                   refused=False)
