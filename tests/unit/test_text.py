"""Where a sentence ends (retrieval/text.py): not after an abbreviation or initials."""

import pytest

from retrieval.checks import _answer_sentences
from retrieval.text import sentences

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "Services gross margin fell due to the weakness in foreign currencies relative to the U.S. Dollar and higher costs.",
        "The agreement with iRobot Corp. was amended in July 2023.",
        "See Note No. 7 for details, e.g. the fair value hierarchy.",
        "Revenue was up 12% vs. the prior year.",
        "Foreign currency risks related to certain non-U.S. Dollar-denominated investments are hedged.",
    ],
)
def test_an_abbreviation_does_not_end_a_sentence(text):
    assert sentences(text) == [text]
    assert sentences(text, capital=True) == [text]


def test_sentences_end_at_stops_and_line_breaks_and_the_caller_chooses_the_stops():
    text = "Net sales rose. Margins fell; costs rose!\nIs that all? yes"
    assert sentences(text) == ["Net sales rose.", "Margins fell; costs rose!", "Is that all?", "yes"]
    assert sentences(text, ends=".!?;") == ["Net sales rose.", "Margins fell;", "costs rose!", "Is that all?", "yes"]
    # capital: a stop before a lower-case word is not an end
    assert sentences(text, capital=True) == ["Net sales rose.", "Margins fell; costs rose!", "Is that all? yes"]


def test_a_sentence_that_ends_with_initials_before_a_line_break_still_ends():
    assert sentences("Sold in the U.S.\nSold abroad.") == ["Sold in the U.S.", "Sold abroad."]


def test_a_citation_marker_stays_with_its_sentence():
    assert sentences("Vacation is 25 days. [1] Requests go to HR. [2]", capital=True) == ["Vacation is 25 days. [1] Requests go to HR. [2]"]
    assert _answer_sentences("Vacation is 25 days. [1] Requests go to HR. [2]") == ["Vacation is 25 days. [1]", "Requests go to HR. [2]"]
    assert _answer_sentences("Margins fell relative to the U.S. Dollar. Costs rose.") == [
        "Margins fell relative to the U.S. Dollar.", "Costs rose."]
