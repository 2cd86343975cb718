"""Existence questions ("were there any acquisitions …"): what is asked, its head words, and the
sentences that name an instance of it rather than use its word (retrieval/instances.py)."""

from __future__ import annotations

import pytest

from retrieval.instances import asked_any, heads, instance_sentences, names_instance
from retrieval.schema import Chunk

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("question, asked", [
    ("Were there any significant acquisitions or divestitures reported by Apple in the Q2 2023 10-Q?",
     "significant acquisitions or divestitures"),
    ("In the Q2 2023 10-Q, did Microsoft announce any major business acquisitions or spin-offs?", "major business acquisitions or spin-offs"),
    ("Does Apple report any significant new business acquisitions or divestitures in these 10-Qs?",
     "significant new business acquisitions or divestitures"),
    ("Has Apple engaged in any significant share repurchase activities in the reported quarters?", "significant share repurchase activities"),
    # a change or a trend is reported in some figure by every filing: not an existence question
    ("Were there any significant changes in accounting policies reported by Microsoft in the most recent 10-Q?", None),
    ("Are there any substantial alterations in Microsoft's debt configuration over these quarters?", None),
    ("Can any trends be identified in Apple's Services segment revenue over the reported periods?", None),
    ("What was Apple's revenue in Q2 2023?", None),
])
def test_the_thing_an_existence_question_asks_about(question, asked):
    assert asked_any(question) == asked


def test_each_alternatives_head_word_ignoring_light_nouns():
    assert heads("significant acquisitions or divestitures") == ["acquisit", "divestitur"]
    assert heads("significant share repurchase activities") == ["repurchas"]
    assert heads("major business acquisitions or spin-offs") == ["acquisit", "spin-off"]


def _passage(chunk_id: str, text: str) -> Chunk:
    return Chunk(id=chunk_id, text=text, source="filings/2023 Q2 Widgetco.pdf", doc_id="filings/2023 Q2 Widgetco.pdf", groups=("all-staff",))


QUESTION = "Were there any significant acquisitions or divestitures reported by Widgetco in the Q2 2023 10-Q?"
HEADS = heads("significant acquisitions or divestitures")


def test_a_sentence_naming_an_acquired_company_is_an_instance_and_boilerplate_is_not():
    risks = _passage("risks", "Risk factors\nWe may not realise the benefits we expect from our acquisitions, and integrating them may "
                              "divert management's attention from our business.")
    table = _passage("cash", "| Investing activities | 6M 2023 |\n| --- | --- |\n| Payments for acquisition of property, plant and equipment | (6,703) |")
    deal = _passage("deal", "Acquisition Activity\nOn March 4, 2023, we completed our acquisition of Gizmo Labs Inc. for $1.2 billion, "
                            "consisting primarily of cash. Gizmo Labs makes sensors.")
    found = instance_sentences([risks, table, deal], HEADS, QUESTION, limit=2)
    assert found == [(deal, "On March 4, 2023, we completed our acquisition of Gizmo Labs Inc. for $1.2 billion, consisting primarily of cash.")]
    assert instance_sentences([risks, table], HEADS, QUESTION, limit=2) == []


def test_the_verb_counts_as_the_noun_and_each_instance_is_shown_once():
    """"acquire" is "acquisition" (their first five letters, as focus.topic_share matches words); a
    second sentence about an instance already named is passed over for the next instance."""
    one = _passage("one", "On February 22, 2023, we acquired Healthco Inc. for approximately $3.5 billion. "
                          "The acquisition of Healthco Inc. was funded with cash on hand.")
    two = _passage("two", "In August 2022, we entered into an agreement to acquire Robotix Corporation for approximately $1.7 billion.")
    found = [sentence for _, sentence in instance_sentences([one, two], HEADS, QUESTION, limit=2)]
    assert found == ["On February 22, 2023, we acquired Healthco Inc. for approximately $3.5 billion.",
                     "In August 2022, we entered into an agreement to acquire Robotix Corporation for approximately $1.7 billion."]


def test_the_questions_own_names_are_no_instance():
    own = _passage("own", "Widgetco continues to evaluate acquisitions that fit Widgetco's strategy.")
    assert instance_sentences([own], HEADS, QUESTION, limit=2) == []


def test_the_forms_evidence_counts_only_when_it_names_an_instance():
    """A point about something else ("the third phase of our partnership", asked about acquisitions) or
    a line item with other words ("Payments for acquisition of property, plant and equipment") is
    not evidence that an acquisition happened; a sentence naming one, or a row saying only what was
    asked, is."""
    assert names_instance("On March 4, 2023, we completed our acquisition of Gizmo Labs Inc.", HEADS, QUESTION)
    assert not names_instance("In January 2023 we announced the third phase of our partnership with Openco.", HEADS, QUESTION)
    assert not names_instance("We may not realise the benefits we expect from our acquisitions.", HEADS, QUESTION)
    # the names of a document tag the form copied into its quote are the document's
    assert not names_instance("Additional risks related to acquisitions include, but are not limited to: [2023 Q2 WDGT › ITEM 1A.",
                              HEADS, QUESTION)
    assert not names_instance("(6,703)", HEADS, QUESTION, row_label="Payments for acquisition of property, plant and equipment")
    impairments = "Were there any impairment charges in the 2023 Q2 10-Q?"
    assert names_instance("1,234", heads(asked_any(impairments)), impairments, row_label="Impairment charges")


def test_a_dated_or_measured_instance_comes_before_a_capitalised_word_beside_the_head_word():
    """"Under the Program, shares may be repurchased …" has a capitalised word beside "repurchased" but
    says nothing happened; "the Company repurchased 408 million shares … for $65.0 billion" does."""
    question = "Has Widgetco engaged in any significant share repurchase activities in the reported quarters?"
    passage = _passage("buybacks", "Under the Program, shares may be repurchased in privately negotiated or open market transactions "
                                   "under Rule 10b5-1. During the nine months ended June 25, 2022, the Company repurchased 408 million "
                                   "shares of its common stock for $65.0 billion.")
    found = [s for _, s in instance_sentences([passage], heads(asked_any(question)), question, limit=1)]
    assert found == ["During the nine months ended June 25, 2022, the Company repurchased 408 million shares of its common stock for $65.0 billion."]
