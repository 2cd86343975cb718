"""Metrics that need no judge: each case pins a value a bug would change."""

from __future__ import annotations

import pytest

from eval import metrics as m

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "answer, reference, expected",
    [
        ("The answer is 21 days [1].", "the answer is 21 days", 1.0),
        ("21 days", "twenty-one days", 0.0),
        ("anything", None, None),
    ],
)
def test_exact_match(answer, reference, expected):
    assert m.exact_match(answer, reference) == expected


def test_string_present_and_token_f1():
    assert m.string_present("Requests need 21 days notice [1].", "21 days") == 1.0
    assert m.string_present("Requests need 14 days notice.", "21 days") == 0.0
    assert m.token_f1("25 days of vacation", "25 days of vacation") == pytest.approx(1.0)
    assert m.token_f1("25 days", "25 days of paid vacation") == pytest.approx(2 * 1.0 * 0.4 / 1.4)  # recall 2 of 5 words
    assert m.token_f1("nothing shared", "25 days") == 0.0


def test_overlap_metrics_rank_a_close_answer_above_a_wrong_one():
    ref = "International travel must be requested at least 21 days in advance."
    close = "International travel must be requested 21 days in advance [1]."
    wrong = "The cafeteria opens at nine."
    for metric in (m.rouge_l, m.bleu, m.chrf):
        good, bad = metric(close, ref), metric(wrong, ref)
        assert 0.0 <= bad < good <= 1.0, metric.__name__
    assert m.rouge_l(close, None) is None


def test_context_ids_recall_and_precision():
    retrieved = ["data/sample/policies/travel.docx", "hr/leave.md", "policies/travel.docx"]
    assert m.context_recall_ids(retrieved, ["policies/travel.docx"]) == 1.0
    assert m.context_recall_ids(retrieved, ["policies/travel.docx", "it/vpn.md"]) == 0.5
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    assert m.context_precision_ids(retrieved, ["policies/travel.docx"]) == pytest.approx((1 + 2 / 3) / 2)
    assert m.context_precision_ids(["x.md"], ["y.md"]) == 0.0
    assert m.context_recall_ids(retrieved, []) is None


def test_context_recall_text():
    contexts = ["Employees receive 25 days of paid vacation per year."]
    assert m.context_recall_text(contexts, ["25 days of paid vacation per year"]) == 1.0
    assert m.context_recall_text(contexts, ["The VPN client is WireGuard."]) == 0.0


@pytest.mark.parametrize("refused, answerable, expected", [(False, True, 1.0), (True, False, 1.0), (True, True, 0.0), (False, False, 0.0)])
def test_refusal_correct(refused, answerable, expected):
    assert m.refusal_correct(refused, answerable) == expected


def test_cited_sentences_and_coverage():
    answer = "Vacation is 25 days [1]. It expires in March [1, 2]. Ask HR."
    assert m.cited_sentences(answer) == [("Vacation is 25 days.", [1]), ("It expires in March.", [1, 2])]
    assert m.citation_coverage(answer) == pytest.approx(2 / 3)


def test_a_sentence_takes_the_markers_of_the_next_marked_sentence_on_its_line():
    answer = "- Q3: Yes. In January 2022 we agreed to buy Activision. [1]\n- Q4: No. [2]\nAsk HR."
    assert m.sentence_citations(answer) == [
        ("- Q3: Yes.", [1]), ("In January 2022 we agreed to buy Activision.", [1]), ("- Q4: No.", [2]), ("Ask HR.", []),
    ]


def test_a_marker_after_a_full_stop_cites_the_sentence_before_it():
    """The composer writes "… customers. [1] In August 2022, …. [2]": [1] cites the first sentence,
    not the second (citation support read the second against both passages)."""
    answer = "Yes. On February 22, 2023, we acquired Healthco Inc. for $3.5 billion. [1] In August 2022, we agreed to buy Robotix. [2]"
    assert m.sentence_citations(answer) == [
        ("Yes.", [1]), ("On February 22, 2023, we acquired Healthco Inc. for $3.5 billion.", [1]),
        ("In August 2022, we agreed to buy Robotix.", [2]),
    ]
    assert m.cited_sentences("It expires in March. [1, 2] Ask HR.") == [("It expires in March.", [1, 2])]


def test_refusal_detection():
    assert m.looks_like_refusal("I could not find this in the documents available to you.")
    assert m.looks_like_refusal("")
    assert not m.looks_like_refusal("Vacation is 25 days [1].")
