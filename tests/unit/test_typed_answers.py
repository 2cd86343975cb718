"""Typed answers with a scripted fake model: each failure mode users met with the local model is
caught — a marker where the value belongs, a number no passage holds, "N/A", a citation naming
the chunk's first section instead of the sentence's own — in typed and in free-text answers."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from retrieval.text import REFUSAL
from retrieval.assistant import build_assistant
from retrieval.generators import DOC_BLOCK, FakeChatModel
from retrieval.schema import Chunk
from retrieval.testing import CORPUS, seed

pytestmark = pytest.mark.unit

POLICY = Chunk(
    id="policy-1",
    text=(
        "[travel-policy › 1. Purpose and scope]\n1. Purpose and scope\nThis policy covers business travel by all staff.\n"
        "2. Requesting and booking travel\nInternational travel must be requested at least 21 days in advance."
    ),
    source="policies/travel-policy.docx",
    doc_id="policies/travel-policy.docx",
    section="1. Purpose and scope",
    groups=("all-staff",),
    spans=((42, None, "1. Purpose and scope"), (113, None, "2. Requesting and booking travel")),
)
RESULTS = Chunk(
    id="results-1",
    text=(
        "[2023 results › Income statement]\n| (In millions) | Year Ended March 31, 2023 | Year Ended March 31, 2022 |\n"
        "| --- | --- | --- |\n| Widget revenue | 4,120 | 3,870 |\n| Gross margin | 1,650 | 1,512 |"
    ),
    source="finance/results-2023.pdf",
    doc_id="finance/results-2023.pdf",
    page=4,
    section="Income statement",
    groups=("all-staff",),
)


def assistant_with(test_settings, form: dict | str, mode: str = "structured"):
    """An assistant whose model fills every typed form with `form` (a dict, or for free text a string)."""

    def reply(messages, json_schema=None):
        if json_schema is None:
            return form if isinstance(form, str) else json.dumps(form)
        return json.dumps(form) if isinstance(form, dict) else form

    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": mode})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=reply))
    seed(assistant, [*CORPUS, POLICY, RESULTS])
    return assistant


def doc_number(assistant, chunk_id: str) -> int:
    """The prompt number of a chunk in the last prompt the model saw."""
    prompt = assistant.chat_model.calls[-1][-1].content
    for i, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1):
        if next(c for c in [*CORPUS, POLICY, RESULTS] if c.id == chunk_id).text.startswith(text.strip()[:40]):
            return i
    raise AssertionError(f"{chunk_id} not in the prompt")


def table_assistant(test_settings, reply, *chunks: Chunk):
    """A structured-mode assistant over the test corpus and `chunks`, with the model's `reply`. (min_score
    0: the bag-of-words test embedder scores a short question low against a table.)"""
    retrieval = test_settings.retrieval.model_copy(update={"answer_mode": "structured", "min_score": 0.0})
    assistant = build_assistant(test_settings.model_copy(update={"retrieval": retrieval}), chat_model=FakeChatModel(reply=reply))
    seed(assistant, [*CORPUS, *chunks])
    return assistant


def filing(chunk_id: str, name: str, section: str, page: int, body: str) -> Chunk:
    """A passage of the filing `name` ("2023 Q1 Widgetco"), readable by all staff."""
    source = f"filings/{name}.pdf"
    return Chunk(id=chunk_id, text=f"[{name} › {section}]\n{body}", source=source, doc_id=source, page=page, section=section,
                 groups=("all-staff",))


TRAVEL = "How many days in advance must international travel be requested?"
REVENUE = "What was widget revenue in the year ended March 31, 2023?"


def test_a_marker_where_the_value_belongs_is_never_an_answer(test_settings):
    assistant = assistant_with(test_settings, {"facts": [{"doc": 1, "quote": "Widget revenue", "value": "[2]"}]})
    answer = assistant.ask(REVENUE, groups=["all-staff"])
    assert answer.refused and answer.answer == REFUSAL and "not a value" in json.dumps(answer.details)
    text = assistant_with(test_settings, "The widget revenue for the year is [1].", mode="text")
    answer = text.ask(REVENUE, groups=["all-staff"])
    assert answer.refused and answer.answer == REFUSAL


@pytest.mark.parametrize("mode", ["structured", "text"])
def test_a_number_no_passage_holds_is_never_stated(test_settings, mode):
    invented = {"facts": [{"doc": 1, "quote": "| Widget revenue | 1,234,567 |", "value": "$1,234,567"}]}
    form = invented if mode == "structured" else "Widget revenue was $1,234,567 [1]."
    assistant = assistant_with(test_settings, form, mode=mode)
    answer = assistant.ask(REVENUE, groups=["all-staff"])
    assert answer.refused and "1,234,567" not in answer.answer
    reasons = json.dumps(answer.details)
    assert "1,234,567" in reasons  # the reason is kept for the logs and the benchmark


@pytest.mark.parametrize("form", [{"facts": [{"doc": 1, "quote": "N/A", "value": "N/A"}]}, {"facts": []}, "N/A", "not available"])
def test_n_a_and_empty_forms_are_refusals(test_settings, form):
    assistant = assistant_with(test_settings, form)
    answer = assistant.ask(REVENUE, groups=["all-staff"])
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []
    assert answer.to_json()["refused"] is True and answer.to_json(details=True)["answer_type"] == "number"


@pytest.mark.parametrize("value", ["4,120", "{4,120}", '"4,120"', ">4,120"])
def test_a_table_value_is_labelled_from_its_row_and_column_with_the_tables_unit(test_settings, value):
    """(The braces or quotes a form wraps a figure in are not part of it, nor the ">" of a document
    tag it copied; "[4,120]" reads as two markers.)"""
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "results-1"), "quote": "| Widget revenue | 4,120 | 3,870 |", "value": value}]}
    )
    answer = assistant.ask(REVENUE, groups=["all-staff"])
    assert not answer.refused
    assert answer.answer == "Widget revenue, Year Ended March 31, 2023: 4,120 million. [1]"
    assert answer.citations[0].source == "finance/results-2023.pdf" and answer.citations[0].page == 4


def test_a_table_value_the_form_gave_with_its_scale_word_is_labelled_from_its_row_and_column(test_settings):
    """The form wrote "$4,120 million" where the cell says 4,120 under "(In millions)", and quoted the
    row's label only: it is still the table's value, named by its row and column."""
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "results-1"), "quote": "Widget revenue", "value": "$4,120 million"}]}
    )
    answer = assistant.ask(REVENUE, groups=["all-staff"])
    assert answer.answer == "Widget revenue, Year Ended March 31, 2023: $4,120 million. [1]"


def test_a_figure_found_only_in_a_passage_its_quote_is_not_from_and_unlabelled_is_dropped():
    """The form quoted the inventory note and gave "12,131", which stands only in another passage's
    table line cut short by its excerpt: nothing says what the figure is, so it is not shown bare."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    note = filing("note", "2023 Q3 Shopco", "Inventories", 9, (
        "Inventories\nInventories, consisting of products available for sale, are accounted for using the first-in, first-out method."))
    cut = filing("cut", "2023 Q3 Shopco", "Cash flows", 3, "| assets, and other 10,327 12,131 29,236 34,843 …")
    contexts = [ScoredChunk(note, 1.0), ScoredChunk(cut, 0.9)]
    quote = "Inventories, consisting of products available for sale, are accounted for using the first-in, first-out method"
    checked = check(Draft(facts=[Fact(1, quote, "12,131")]), contexts, "How did inventory levels change?")
    assert not checked.facts and "unlabelled" in checked.dropped[0]


def test_a_quote_the_form_wrote_itself_is_not_shown_as_the_documents_sentence(test_settings):
    """The form's quote is mostly the document's words but adds a figure of its own ("… and domestic
    travel 7 days"): the checked value is stated, the quote's other figure is not."""
    assistant = assistant_with(test_settings, {})
    quote = "International travel must be requested at least 21 days in advance, and domestic travel 7 days."
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "policy-1"), "quote": quote, "value": "21 days"}]}
    )
    answer = assistant.ask(TRAVEL, groups=["all-staff"])
    assert not answer.refused and "21 days" in answer.answer and "7 days" not in answer.answer
    assert any("the value alone is shown" in r for r in answer.details["checks"]["repaired"])


def test_a_citation_names_the_section_of_the_sentence_it_cites(test_settings):
    assistant = assistant_with(test_settings, {})
    quote = "International travel must be requested at least 21 days in advance."
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "policy-1"), "quote": quote, "value": "21 days"}]}
    )
    answer = assistant.ask(TRAVEL, groups=["all-staff"])
    assert answer.answer == f"{quote} [1]"
    assert answer.citations[0].section == "2. Requesting and booking travel"  # not the chunk's first heading


def test_a_wrong_document_number_moves_to_the_document_that_holds_the_quote(test_settings):
    assistant = assistant_with(test_settings, {})
    quote = "International travel must be requested at least 21 days in advance."

    def reply(messages, json_schema=None):
        right = doc_number(assistant, "policy-1")
        wrong = 1 if right != 1 else 2
        return json.dumps({"facts": [{"doc": wrong, "quote": quote, "value": "21 days"}]})

    assistant.chat_model.reply = reply
    answer = assistant.ask(TRAVEL, groups=["all-staff"])
    assert not answer.refused and answer.citations[0].chunk_id == "policy-1"
    assert any("cited document" in r for r in answer.details["checks"]["repaired"])


def test_evidence_about_something_else_is_not_an_answer(test_settings):
    """The model copies a real sentence that does not answer the question: a refusal, not an answer."""
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "leave-1"), "quote": "Employees receive 25 days of paid vacation per year.",
                    "value": "25 days"}]}
    )
    answer = assistant.ask("How many days in advance must international travel be requested?", groups=["all-staff"])
    assert answer.refused and "something else" in json.dumps(answer.details)


def test_money_is_not_an_answer_to_how_many(test_settings):
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "results-1"), "quote": "| Widget revenue | 4,120 | 3,870 |", "value": "$4,120"}]}
    )
    answer = assistant.ask("How many widgets were sold in the year ended March 31, 2023?", groups=["all-staff"])
    assert answer.refused and "where a count was asked" in json.dumps(answer.details)


@pytest.mark.parametrize("value", ["2023", ".1 million", "$.146"])
def test_a_bare_year_or_a_cut_off_figure_is_not_an_answer(test_settings, value):
    from retrieval.checks import check
    from retrieval.structured import Draft, Fact
    from retrieval.schema import ScoredChunk

    passage = ScoredChunk(Chunk(id="q", text="[Q3 › Inventories]\nInventories rose to $1.1 million in 2023 from $0.146 million.",
                                source="q3.pdf", doc_id="q3.pdf", groups=("all-staff",)), 1.0)
    checked = check(Draft(facts=[Fact(1, "Inventories rose to $1.1 million in 2023", value)]), [passage],
                    "How have inventory levels changed?")
    assert not checked.facts and "not a figure of its own" in checked.dropped[0]
    if value == "2023":  # a year is the answer when one is asked for
        asked = check(Draft(facts=[Fact(1, "Inventories rose to $1.1 million in 2023", value)]), [passage],
                      "In which year did inventories rise?")
        assert [f.value for f in asked.facts] == ["2023"]


def test_a_point_that_echoes_the_question_around_a_figure_about_something_else_is_dropped():
    """"The latest report shows that the employee satisfaction score is 4,118" — the figure is in the
    passage, but beside repurchased shares: the point's own words only echo the question."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    topic = {"employee", "satisfaction", "score"}

    def relevant(text: str) -> float:
        words = {w.rstrip("s") for w in text.lower().replace(",", " ").split()}
        return len(topic & words) / len(topic)

    passage = ScoredChunk(Chunk(id="q", text=("[Q3 › Key developments]\nWe repurchased 4,118 shares of common stock in the quarter.\n"
                                              "The employee satisfaction score rose to 78 points in the annual survey."),
                                source="q3.pdf", doc_id="q3.pdf", groups=("all-staff",)), 1.0)
    question = "What is the employee satisfaction score?"
    echoed = check(Draft(points=[Point(1, "The latest report shows that the employee satisfaction score is 4,118.")]), [passage],
                   question, relevant=relevant)
    assert not echoed.points and "beside something else" in echoed.dropped[0]
    stated = check(Draft(points=[Point(1, "The employee satisfaction score rose to 78 points in the annual survey.")]), [passage],
                   question, relevant=relevant)
    assert [p.text for p in stated.points] == ["The employee satisfaction score rose to 78 points in the annual survey."]


def test_a_point_that_copies_a_tables_lines_is_not_shown_as_a_sentence():
    """The model copies a table's caption and rows as one point ("The components of debt were as follows:
    … | Dec 2022 | Jun 2022 | 2009 issuance of $3.8 billion | 2039 | 5.20% | …"): the passage holds it
    word for word, but it is no sentence, and the answer never shows cell separators as prose."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    table = ("| The components of debt were as follows: (In millions) | Dec 2022 | Jun 2022 |\n| --- | --- | --- |\n"
             "| 2009 issuance of $3.8 billion | $ 520 | $ 520 |")
    passage = ScoredChunk(Chunk(id="debt", text=f"[Q1 › Note 10 — Debt]\nNote 10 — Debt\n{table}", source="q1.pdf", doc_id="q1.pdf",
                                groups=("all-staff",)), 1.0)
    copied = "The components of debt were as follows: (In millions) | Dec 2022 | Jun 2022 | 2009 issuance of $3.8 billion | $ 520 | $ 520 |"
    checked = check(Draft(points=[Point(1, copied)]), [passage], "What details were provided about Widgetco's debt?")
    assert not checked.points and not checked.facts
    assert checked.dropped == [f"point {copied[:60]!r}: a table's lines, not a sentence"]


def test_a_point_quoted_across_a_passage_label_shows_only_the_passages_own_sentence():
    """The model quoted from the end of one passage through the next one's prompt label: "Legal and Other
    Contingencies [2023 Q2 MSFT › Legal and Other Contingencies] Legal and Other Contingencies The
    outcomes of …" was shown to the reader, label and all."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    passage = ScoredChunk(Chunk(id="c", text=("[2023 Q2 MSFT › Legal and Other Contingencies]\nLegal and Other Contingencies\n"
                                              "The outcomes of legal proceedings and claims brought against us are subject to significant uncertainty."),
                                source="2023 Q2 MSFT.pdf", doc_id="msft", groups=("all-staff",)), 1.0)
    said = ("Legal and Other Contingencies [2023 Q2 MSFT › Legal and Other Contingencies] Legal and Other Contingencies "
            "The outcomes of legal proceedings and claims brought against us are subject to significant uncertainty.")
    checked = check(Draft(points=[Point(1, said)]), [passage], "Are there any legal proceedings that could impact Microsoft?")
    assert [p.text for p in checked.points] == [
        "The outcomes of legal proceedings and claims brought against us are subject to significant uncertainty."]
    assert "label" in checked.repaired[0]


def test_a_yes_no_quote_across_a_passage_label_and_two_headings_shows_only_the_passages_sentence():
    """A "yes" backed by a quote that runs through the passage's label and both its headings: the answer
    read "Yes. Note 6 : Investments › Short-term Investments [2022 Q3 INTC › Short-term Investments] Note 6
    : Investments Short-term Investments Short-term investments include …"."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    own = "Short-term investments include marketable debt investments in corporate debt and government debt."
    passage = ScoredChunk(Chunk(id="c", text=f"[2022 Q3 INTC › Short-term Investments]\nNote 6 : Investments\nShort-term Investments\n{own}",
                                source="2022 Q3 INTC.pdf", doc_id="intc", groups=("all-staff",)), 1.0)
    said = f"Note 6 : Investments › Short-term Investments [2022 Q3 INTC › Short-term Investments] Note 6 : Investments Short-term Investments {own}"
    checked = check(Draft(verdict="yes", facts=[Fact(1, said, "yes", "short-term investments")]), [passage],
                    "Did Intel hold any short-term investments in Q3 2022?")
    assert [f.value for f in checked.facts] == [own] and checked.verdict == "yes"
    assert any("label" in r for r in checked.repaired)
    # the same text written as the value, with the passage's sentence as its quote
    checked = check(Draft(verdict="yes", facts=[Fact(1, own, said, "short-term investments")]), [passage],
                    "Did Intel hold any short-term investments in Q3 2022?")
    assert [f.value for f in checked.facts] == [own] and any("label" in r for r in checked.repaired)
    # a quote of the heading alone, found first in the section path the checks read the passage with
    sectioned = ScoredChunk(replace(passage.chunk, section="Notes › Note 6 : Investments › Short-term Investments"), 1.0)
    checked = check(Draft(verdict="yes", facts=[Fact(1, "Note 6 : Investments", own[:80], "short-term investments")]), [sectioned],
                    "Did Intel hold any short-term investments in Q3 2022?")
    assert [f.quote for f in checked.facts] == [own], checked
    # a heading of the passage given as the evidence of a "yes" shows nothing
    headed = ScoredChunk(replace(passage.chunk, text=f"[2023 Q1 INTC › Derivatives]\nVolume of Derivative Activity\n{own}"), 1.0)
    checked = check(Draft(verdict="yes", facts=[Fact(1, own, "Volume of Derivative Activity", "derivatives")]), [headed],
                    "Did Intel hold any short-term investments in Q3 2022?")
    assert not checked.facts and "a heading of document 1" in checked.dropped[0]


def test_a_point_that_rewords_what_its_figures_are_shows_the_passages_sentence():
    """"Interest expense was $277 million and $776 million during Q3 2022 and Q3 2023" — every figure
    is in the passage, but its sentence says interest *income*: the point is replaced by the passage's
    own sentence. A point in the passage's own words, or one stating no figure, stays as written."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    own = ("Our interest income was $277 million and $776 million during Q3 2022 and Q3 2023, primarily due to an increase in "
           "prevailing rates.")
    passage = ScoredChunk(Chunk(id="i", text=f"[2023 Q3 AMZN › Interest Income and Expense]\nInterest Income and Expense\n{own}\n"
                                             "Interest expense was $617 million and $806 million during Q3 2022 and Q3 2023.",
                                source="2023 Q3 AMZN.pdf", doc_id="amzn", groups=("all-staff",)), 1.0)
    question = "Are there any significant changes in Amazon's debt structure or interest expenses?"
    swapped = check(Draft(points=[Point(1, "Interest expense was $277 million and $776 million during Q3 2022 and Q3 2023.")]),
                    [passage], question)
    assert [p.text for p in swapped.points] == [own]
    right = "Interest expense was $617 million and $806 million during Q3 2022 and Q3 2023."
    assert [p.text for p in check(Draft(points=[Point(1, right)]), [passage], question).points] == [right]


def test_a_point_written_around_table_cells_is_shown_as_the_cells_row_and_column():
    """"The operating income for Q2 2023 was $64,269, which is a 2% increase" — $64,269 is the nine
    months' column of a table in millions, and no sentence of the passage says it: the figures are read
    from their cells, so the answer names the row, the column and the unit (and the asked quarter's
    column replaces the nine months'). One figure written two ways is said once."""
    from retrieval.checks import check, render
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    table = ("[2023 Q2 MSFT › Summary]\n| SUMMARY RESULTS OF OPERATIONS (In millions) | Three Months Ended March 31, 2023 "
             "| Three Months Ended March 31, 2022 | Three Months Ended change | Nine Months Ended March 31, 2023 "
             "| Nine Months Ended March 31, 2022 | Nine Months Ended change |\n| --- | --- | --- | --- | --- | --- | --- |\n"
             "| Revenue | $ 52,857 | $ 49,360 | 7% | $ 155,726 | $ 146,405 | 6% |\n| Operating income | 22,352 | 20,364 | 10% | 64,269 | 62,849 | 2% |")
    passage = ScoredChunk(Chunk(id="m", text=table, source="2023 Q2 MSFT.pdf", doc_id="m", groups=("all-staff",)), 1.0)
    question = "For Q2 2023, what was the chief factor affecting Microsoft's operating income?"
    said = ["The operating income for Q2 2023 was $22,352, which is a 10% increase from the same period last year.",
            "The operating income for Q2 2023 was $64,269, which is a 2% increase from the same period last year."]
    checked = check(Draft(points=[Point(1, s) for s in said]), [passage], question)
    assert not checked.points
    assert render(checked, lambda doc, evidence: doc) == "Operating income, Three Months Ended March 31, 2023: $22,352 million. [1]"
    # the passage's own sentence about the figures stays a point
    prose = ScoredChunk(Chunk(id="p", text="[10-Q › Results]\nOperating income increased $2.0 billion or 10% to $22.4 billion.",
                              source="q.pdf", doc_id="q", groups=("all-staff",)), 1.0)
    stays = check(Draft(points=[Point(1, "Operating income increased $2.0 billion or 10% to $22.4 billion.")]), [prose], question)
    assert [p.text for p in stays.points] == ["Operating income increased $2.0 billion or 10% to $22.4 billion."]
    # one cell written "7,709" in one table and "(7,709)" in another is said once
    from retrieval.checks import Checked
    from retrieval.structured import Fact

    twice = Checked(facts=[Fact(1, "| R&D | 7,709 |", "$7,709 million", "Research and development"),
                           Fact(1, "| R&D | (7,709) |", "($7,709 million)", "Research and development")])
    assert render(twice, lambda doc, evidence: doc) == "Research and development: $7,709 million. [1]"
    from retrieval.composer import _said  # and so is the answer shown item by item

    assert _said(twice.facts[0]) == _said(twice.facts[1])


def test_a_value_whose_quote_is_only_its_passages_heading_is_weighed_by_the_line_that_states_it():
    """The form quoted the passage's heading ("Capital Return Program") for "$0.24": the line stating
    the value speaks to the question, so the value is not dropped as about something else."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    topic = {"quarterly", "cash", "dividend", "share"}

    def relevant(text: str) -> float:
        words = {w.strip(".,’'s").rstrip("s") for w in text.lower().split()}
        return len({t.rstrip("s") for t in topic} & words) / len(topic)

    passage = ScoredChunk(Chunk(id="d", text=("[10-Q › Capital Return Program]\nCapital Return Program\nThe programs do not obligate "
                                              "the Company to acquire shares. As of July 1, 2023, the Company’s quarterly cash dividend "
                                              "was $0.24 per share."), source="q3.pdf", doc_id="q3.pdf", groups=("finance",)), 1.0)
    checked = check(Draft(facts=[Fact(1, "Capital Return Program", "$0.24", "")]), [passage],
                    "What was Apple's quarterly cash dividend per share as of July 1, 2023?", relevant=relevant)
    assert [f.value for f in checked.facts] == ["$0.24"], checked.dropped


def test_a_date_no_passage_mentions_is_refused_before_the_model_runs(test_settings):
    assistant = assistant_with(test_settings, {"facts": []})
    answer = assistant.ask("What was widget revenue in the year ended March 31, 2031?", groups=["all-staff"])
    assert answer.refused and "March 31, 2031" in answer.to_json(details=True)["refusal_reason"]
    assert assistant.chat_model.calls == []


def test_a_per_share_figure_keeps_its_own_unit():
    from retrieval.checks import with_scale

    passage = "| (In millions, except per share amounts) | 2023 | 2022 |\n| --- | --- | --- |\n| Revenue | 4,120 | 3,870 |\n| Dividends declared per share | 0.24 | 0.23 |"
    assert with_scale("0.24", "| Dividends declared per share | 0.24 | 0.23 |", passage) == "0.24"
    assert with_scale("4,120", "| Revenue | 4,120 | 3,870 |", passage) == "4,120 million"


def test_a_negative_figure_the_form_scaled_is_not_scaled_again():
    from retrieval.checks import with_scale

    passage = "(In millions)\n| | 2023 | 2022 |\n| --- | --- | --- |\n| Free cash flow | $ (19,686) | $ (23,487) |"
    assert with_scale("(19,686) million", "| Free cash flow | $ (19,686) |", passage) == "(19,686) million"
    assert with_scale("(19,686)", "| Free cash flow | $ (19,686) |", passage) == "($19,686 million)"


def word_by_word(form: dict, written: list[str]):
    """A model's stream of `form` as JSON, a word at a time, each word noted in `written` as it is given."""
    from retrieval.generators import ChatStream
    from retrieval.schema import Usage

    def deltas():
        for word in re.findall(r"\S+\s*", json.dumps(form)):
            written.append(word)
            yield word

    return ChatStream(deltas(), lambda out: Usage(10, len(written)))


def _quarterly(quarter: str, end: str, revenue: str, prior: str) -> list[Chunk]:
    source = f"filings/2023 {quarter} Widgetco.pdf"
    table = Chunk(
        id=f"{quarter}-table",
        text=(f"[2023 {quarter} Widgetco › Net sales by category]\n| (in millions) | Three Months Ended {end} | Three Months Ended {end.replace('2023', '2022')} |\n"
              f"| --- | --- | --- |\n| Gadget revenue | 1,010 | 990 |\n| Widget revenue | {revenue} | {prior} |\n| Total net sales | 9,999 | 9,000 |"),
        source=source, doc_id=source, page=7, section="Net sales by category", groups=("all-staff",),
    )
    prose = Chunk(
        id=f"{quarter}-prose",
        text=f"[2023 {quarter} Widgetco › Results]\nWidget revenue grew on demand from retailers in the quarter ended {end}.",
        source=source, doc_id=source, page=3, section="Results", groups=("all-staff",),
    )
    return [table, prose]


def test_a_figure_asked_of_several_filings_reads_the_ones_the_form_left_empty_from_their_table_row(test_settings):
    """The model often fills one document of several: the others are read from the table row that
    names the topic (the row's first figure, the filing's own quarter), checked like the model's."""
    chunks = _quarterly("Q1", "April 1, 2023", "4,120", "3,870") + _quarterly("Q2", "July 1, 2023", "4,480", "4,010")
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: "{}"))
    seed(assistant, [*CORPUS, *chunks])

    def reply(messages, json_schema=None):
        return json.dumps({"facts": [{"doc": 1, "quote": "| Widget revenue | 4,120 | 3,870 |", "value": "4,120"}]})

    assistant.chat_model.reply = reply
    answer = assistant.ask("How has Widgetco's widget revenue changed over the quarters?", groups=["all-staff"])
    assert not answer.refused
    assert answer.answer.splitlines() == [
        "- 2023 Q1 Widgetco: Widget revenue, Three Months Ended April 1, 2023: 4,120 million. [1]",
        "- 2023 Q2 Widgetco: Widget revenue, Three Months Ended July 1, 2023: 4,480 million. [2]",
    ]
    assert [c.chunk_id for c in answer.citations] == ["Q1-table", "Q2-table"]
    assert any("read from the table row" in r and "4,480" in r for r in answer.details["checks"]["repaired"])


def test_an_answer_over_several_filings_shows_each_filings_line_once_the_model_has_gone_on_to_the_next(test_settings):
    """A filing's line reaches the reader as soon as the model writes an item of a later filing: one
    the model left empty is then read from its table row; an item the model writes for a filing
    already shown, saying nothing new, is not said again."""
    chunks = (_quarterly("Q1", "April 1, 2023", "4,120", "3,870") + _quarterly("Q2", "July 1, 2023", "4,480", "4,010")
              + _quarterly("Q3", "September 30, 2023", "4,700", "4,100"))
    written: list[str] = []

    class Writing(FakeChatModel):
        def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None):
            blocks = DOC_BLOCK.findall(messages[-1].content)
            row = {re.search(r"2023 Q\d Widgetco", text).group(0): (int(n), re.search(r"\| Widget revenue \|[^\n]*", text).group(0))
                   for n, text in blocks if "| Widget revenue |" in text}
            form = {"facts": [{"doc": row[name][0], "quote": row[name][1], "value": value}
                              for name, value in (("2023 Q2 Widgetco", "4,480"), ("2023 Q1 Widgetco", "4,120"))]}
            return word_by_word(form, written)

    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=Writing())
    seed(assistant, [*CORPUS, *chunks])
    shown: list[tuple[str, str]] = []
    answer = assistant.ask("How has Widgetco's widget revenue changed over the quarters?", groups=["all-staff"],
                           on_token=lambda text: shown.append((text, "".join(written))))
    lines = answer.answer.splitlines()
    assert [line.split(":")[0] for line in lines] == ["- 2023 Q1 Widgetco", "- 2023 Q2 Widgetco", "- 2023 Q3 Widgetco"], lines
    assert ["4,120" in lines[0], "4,480" in lines[1], "4,700" in lines[2]] == [True, True, True]
    assert "".join(text for text, _ in shown) == answer.answer
    assert "4,120" in shown[0][0] and "4,120" not in shown[0][1]  # read from its row once the model went on to Q2,
    assert '"doc"' in shown[0][1] and '"4,480"' not in shown[0][1]  # as soon as Q2's item names its document


def test_a_yes_no_question_over_several_filings_opens_with_one_verdict(test_settings):
    """"Did widget revenue grow over the quarters?" over two filings: "Yes." once, first, then what
    each filing says on its own line (not "Yes." repeated inside every line, where a reader
    skimming the answer's first word finds a filing's name)."""
    chunks = _quarterly("Q1", "April 1, 2023", "4,120", "3,870") + _quarterly("Q2", "July 1, 2023", "4,480", "4,010")
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: "{}"))
    seed(assistant, [*CORPUS, *chunks])

    def reply(messages, json_schema=None):  # the widget row of each filing's table
        blocks = DOC_BLOCK.findall(messages[-1].content)
        rows = [(n, re.search(r"\| Widget revenue \| ([\d,]+) \|[^\n]*", text)) for n, (_, text) in enumerate(blocks, start=1)]
        return json.dumps({"answer": "yes", "facts": [{"doc": n, "quote": row.group(0), "value": row.group(1)} for n, row in rows if row]})

    assistant.chat_model.reply = reply
    answer = assistant.ask("Did Widgetco's widget revenue grow over the quarters?", groups=["all-staff"])
    assert answer.to_json(details=True)["answer_type"] == "yes_no"
    lines = answer.answer.splitlines()
    assert lines[0] == "Yes."
    assert [line.split(":")[0] for line in lines[1:]] == ["- 2023 Q1 Widgetco", "- 2023 Q2 Widgetco"]
    assert "Yes" not in "\n".join(lines[1:])


def test_a_figure_the_form_got_from_the_wrong_row_is_read_from_the_row_that_names_the_topic(test_settings):
    """The model answers "gross margin" with the revenue row's figure: that fact is dropped (its row is
    about something else) and the row naming gross margin is read instead of refusing."""
    margin = Chunk(
        id="margin-1",
        text=("[2023 results › Results]\n| (In millions) | Year Ended March 31, 2023 | Year Ended March 31, 2022 |\n"
              "| --- | --- | --- |\n| Widget revenue | 4,120 | 3,870 |\n| Total gross margin | 1,650 | 1,512 |"),
        source="finance/results-2023.pdf", doc_id="finance/results-2023.pdf", page=5, section="Results", groups=("all-staff",),
    )
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": 1, "quote": "| Widget revenue | 4,120 | 3,870 |", "value": "4,120"}]}), margin)
    answer = assistant.ask("What was the gross margin?", groups=["all-staff"])
    assert not answer.refused
    assert answer.answer == "Total gross margin, Year Ended March 31, 2023: 1,650 million. [1]"
    assert answer.citations[0].chunk_id == "margin-1"
    checks = answer.details["checks"]
    assert any("4,120" in d and "something else" in d for d in checks["dropped"])
    assert any("read from the table row" in r and "1,650" in r for r in checks["repaired"])


def ask_with_fact(test_settings, quote: str, value: str, question: str = REVENUE):
    """The answer when the model's form holds one fact from the results table, as written here."""
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": doc_number(assistant, "results-1"), "quote": quote, "value": value}]}
    )
    return assistant.ask(question, groups=["all-staff"])


def test_a_value_listing_several_table_figures_is_one_labelled_fact_per_figure(test_settings):
    answer = ask_with_fact(test_settings, "| Widget revenue | 4,120 | 3,870 |", "Mar 2023: 4,120, Mar 2022: 3,870")
    assert answer.answer == ("Widget revenue, Year Ended March 31, 2023: 4,120 million. [1] "
                             "Widget revenue, Year Ended March 31, 2022: 3,870 million. [1]")


def test_a_figure_written_without_its_separators_is_shown_as_its_table_writes_it(test_settings):
    answer = ask_with_fact(test_settings, "Widget revenue | 4,120 | 3,870", '{"facts": [4120]}')
    assert answer.answer == "Widget revenue, Year Ended March 31, 2023: 4,120 million. [1]"
    assert any("'4,120' (as the document writes it)" in r for r in answer.details["checks"]["repaired"])


def test_a_figure_dressed_in_words_its_quote_lacks_is_shown_as_the_quote_writes_it(test_settings):
    from retrieval.checks import bare_figure, from_quote

    quote = "Our overall gross margin increased to 74.0% and 70.9% for the third quarter"
    assert from_quote("GBP 74.0", quote) == "74.0%"
    assert from_quote("$74.0 million", quote) == "$74.0 million"  # another figure: left to the checks, which drop it
    assert [bare_figure(v) for v in ("(4,268, %)", "(543)", "-12", "4,120 million")] == ["4,268", "(543)", "-12", "4,120 million"]
    assert [bare_figure(v) for v in ("(1.3)%", "-1.3 %")] == ["(1.3)%", "-1.3 %"]  # a negative rate keeps its sign
    answer = ask_with_fact(test_settings, "Gross margin | 1,650 | 1,512", "GBP 1,650", "What was the gross margin in the year ended March 31, 2023?")
    assert answer.answer == "Gross margin, Year Ended March 31, 2023: 1,650 million. [1]"


def test_a_yes_no_question_the_form_leaves_open_is_answered_no_from_the_passage_that_says_there_was_none(test_settings):
    policies = Chunk(
        id="policies-1",
        text=("[2023 Q3 report › Accounting policies]\nThere have been no material changes to our significant accounting policies "
              "since our annual report. Revenue is recognised when control passes to the customer."),
        source="finance/q3-report.pdf", doc_id="finance/q3-report.pdf", page=9, section="Accounting policies", groups=("all-staff",),
    )
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(
        {"answer": "not stated", "facts": [{"doc": 1, "quote": "", "value": "not stated"}]})))
    seed(assistant, [*CORPUS, policies])
    answer = assistant.ask("Were there any significant changes in accounting policies?", groups=["all-staff"])
    assert answer.answer == ("No. There have been no material changes to our significant accounting policies since our annual report. [1]")
    assert answer.citations[0].chunk_id == "policies-1"
    # a sentence saying "no" about something else is not an answer
    answer = assistant.ask("Were there any significant changes in the travel policy?", groups=["all-staff"])
    assert answer.refused


def test_a_quote_the_form_cut_short_is_shown_whole():
    from retrieval.checks import whole_sentence

    passage = ("[Q3 › Share repurchases]\nFor the three months ended September 30, 2023 and 2022, we repurchased 11 million "
               "shares and 17 million shares of our common stock for $3.6 billion and $4.6 billion, respectively. Other text.")
    cut = "For the three months ended September 30, 2023 and 2022, we repurchased 11 million shares and 17 million shares of our common stock for $3.6 billion and $4.6"
    assert whole_sentence(cut, passage).endswith("for $3.6 billion and $4.6 billion, respectively.")
    assert whole_sentence(cut + " ...", passage).endswith("for $3.6 billion and $4.6 billion, respectively.")  # cut, and marked so
    assert whole_sentence("Other text.", passage) == "Other text."
    assert whole_sentence("not in the passage", passage) == "not in the passage"
    miscopied = cut.replace("and $4.6", "andthe")  # the form's last word miscopied where its limit fell
    assert whole_sentence(miscopied, passage).endswith("for $3.6 billion and $4.6 billion, respectively.")


@pytest.mark.parametrize("value", ["yes", "quote", "11 million"])
def test_a_yes_whose_quote_the_form_cut_short_shows_the_whole_sentence(test_settings, value):
    """A yes/no answer's evidence is its quote: cut at the form's length limit it stated "$4.6" for
    "$4.6 billion" (a number its passage does not hold)."""
    repurchases = Chunk(
        id="buyback-1",
        text=("[Q3 Widgetco › Share repurchases]\nFor the three months ended September 30, 2023 and 2022, we repurchased 11 million "
              "shares and 17 million shares of our common stock for $3.6 billion and $4.6 billion, respectively. Other text."),
        source="filings/2023 Q3 Widgetco.pdf", doc_id="filings/2023 Q3 Widgetco.pdf", page=39, section="Share repurchases",
        groups=("all-staff",),
    )
    cut = "For the three months ended September 30, 2023 and 2022, we repurchased 11 million shares and 17 million shares of our common stock for $3.6 billion and $4.6"
    value = cut if value == "quote" else value  # the verdict word, the cut sentence itself, or a figure of it
    quote = cut + " ..." if value[0].isdigit() else cut  # the model marks its own cut
    form = {"answer": "yes", "facts": [{"doc": 1, "quote": quote, "value": value}]}
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(form)))
    seed(assistant, [*CORPUS, repurchases])
    answer = assistant.ask("Did Widgetco repurchase shares of its common stock in the quarter, and how many?", groups=["all-staff"])
    assert answer.answer.startswith("Yes. ") and answer.answer.endswith("for $3.6 billion and $4.6 billion, respectively. [1]")


def test_a_point_cut_at_its_length_limit_keeps_only_its_complete_sentences():
    from retrieval.checks import without_cut_sentence
    from retrieval.structured import POINT_CHARS

    whole = "The Company is subject to various legal proceedings and claims that have not been fully resolved. "
    cut = (whole * 3 + "In the opinion of management, there was not at least a reasonable possibility the Company may have incurred a mater")
    cut = cut[:POINT_CHARS]
    assert without_cut_sentence(cut) == (whole * 3).strip()
    assert without_cut_sentence("A short point without a full stop") == "A short point without a full stop"
    # the stop of an initial ends no sentence: "… in conformity with U.S." was shown as the point
    gaap = ("The preparation of financial statements and related disclosures in conformity with U.S. GAAP requires the Company to "
            "make estimates and judgments that affect the reported amounts of assets, liabilities, net sales and expenses. ")
    assert without_cut_sentence((gaap * 2)[:POINT_CHARS]) == gaap.strip()
    assert not without_cut_sentence(gaap[:POINT_CHARS] + "x" * (POINT_CHARS - len(gaap))).endswith("U.S.")


def test_a_point_cut_at_its_length_limit_is_completed_from_the_passage_it_copies():
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import POINT_CHARS, Draft, Point

    sentence = ("Note 1, Summary of Significant Accounting Policies of the Notes to Condensed Consolidated Financial Statements in "
                "Part I, Item 1 of this Form 10-Q and in the Notes to Consolidated Financial Statements in Part II, Item 8 of the "
                "2022 Form 10-K describe the significant accounting policies and methods used in the preparation of the Company's "
                "condensed consolidated financial statements.")
    passage = ScoredChunk(Chunk(id="a", text=f"[2023 Q3 AAPL › Critical Accounting Estimates]\n{sentence}\nThere have been no material changes.",
                                source="a.pdf", doc_id="a", groups=("all-staff",)), 1.0)
    cut = sentence[:POINT_CHARS]
    checked = check(Draft(points=[Point(1, cut)]), [passage], "What significant accounting policy changes did Apple disclose?")
    assert [p.text for p in checked.points] == [sentence]


def test_a_question_over_several_filings_that_also_asks_why_is_read_from_the_rows_when_the_form_is_empty(test_settings):
    """The form says "yes" with nothing usable as its evidence ("]["): the figures are read from each
    filing's row naming the topic, and the form's "yes" stands on them."""
    chunks = _quarterly("Q1", "April 1, 2023", "4,120", "3,870") + _quarterly("Q2", "July 1, 2023", "4,480", "4,010")
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: '{"answer": "yes", "facts": [{"doc": 1, "quote": "][", "value": "]["}]}'))
    seed(assistant, [*CORPUS, *chunks])
    answer = assistant.ask("Has Widgetco's widget revenue changed over the quarters? If so, what are the key drivers?", groups=["all-staff"])
    assert answer.answer.splitlines() == [
        "Yes.",
        "- 2023 Q1 Widgetco: Widget revenue, Three Months Ended April 1, 2023: 4,120 million. [1]",
        "- 2023 Q2 Widgetco: Widget revenue, Three Months Ended July 1, 2023: 4,480 million. [2]",
    ]


@pytest.mark.parametrize("kind", ["text", "yes_no"])
def test_an_answer_shows_each_item_as_soon_as_the_model_has_written_it(test_settings, kind):
    """The reader sees the first checked point (or a yes/no verdict with its first fact) while the
    model still writes the next (on 2 CPU cores the rest of a form takes seconds); the pieces make
    up the whole answer."""
    first = "This policy covers business travel by all staff."
    second = "International travel must be requested at least 21 days in advance."
    written: list[str] = []

    class Writing(FakeChatModel):
        def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None):
            self.calls.append(list(messages))
            doc = doc_number(assistant, "policy-1")
            if kind == "text":
                form = {"points": [{"doc": doc, "text": first}, {"doc": doc, "text": second}]}
            else:
                form = {"answer": "yes", "facts": [{"doc": doc, "quote": first, "value": "yes"},
                                                    {"doc": doc, "quote": second, "value": "21 days"}]}
            return word_by_word(form, written)

    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=Writing())
    seed(assistant, [*CORPUS, POLICY, RESULTS])
    question = ("What does the travel policy say about booking international travel?" if kind == "text"
                else "Does the travel policy cover booking international travel for all staff?")
    shown: list[tuple[str, str]] = []
    answer = assistant.ask(question, groups=["all-staff"], on_token=lambda text: shown.append((text, "".join(written))))
    assert answer.to_json(details=True)["answer_type"] == kind
    lead = "Yes. " if kind == "yes_no" else ""
    assert answer.answer == f"{lead}{first} [1] {second} [1]"
    assert "".join(text for text, _ in shown) == answer.answer
    assert shown[0][0] == f"{lead}{first} [1]" and second not in shown[0][1]  # shown before the second item was written



def _segments(split: bool) -> list[Chunk]:
    """A revenue-by-segment table; `split`: its total row in the next passage, as a long table is chunked
    (the heading and the unit row repeated there)."""
    source = "filings/2023 Q3 Widgetco.pdf"
    heading = "| | Three Months Ended October 29, 2023 | Three Months Ended October 30, 2022 |\n| --- | --- | --- |\n| (In millions) |"
    rows = "| Data Center | $ 14,514 | $ 3,833 |\n| Gaming | 2,856 | 1,574 |"
    total = "| Total revenue | $ 18,120 | $ 5,931 |"
    first = Chunk(id="seg-1", text=f"[2023 Q3 Widgetco › Revenue by market]\n{heading}\n{rows}" + ("" if split else f"\n{total}"),
                  source=source, doc_id=source, page=20, section="Revenue by market", groups=("all-staff",), chunk_index=40)
    chunks = [first]
    if split:
        chunks.append(Chunk(id="seg-2", text=f"[2023 Q3 Widgetco › Revenue by market]\n{heading}\n{total}", source=source, doc_id=source,
                            page=20, section="Revenue by market", groups=("all-staff",), chunk_index=41))
    return chunks


@pytest.mark.parametrize("split", [False, True])
def test_a_share_question_is_answered_with_the_figure_and_its_tables_total(test_settings, split):
    """"What proportion of revenue came from X" is answered with X's figure and the total it is a share
    of, both from the table (the total from the next passage when the table continues there); the
    share itself is not computed, since no passage states it."""
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    form = {"facts": [{"doc": 1, "quote": "| Gaming | 2,856 | 1,574 |", "value": "2,856"}]}  # the wrong row
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(form)))
    seed(assistant, [*CORPUS, *_segments(split)])
    answer = assistant.ask("What proportion of Widgetco's revenue was generated by its data center business?", groups=["all-staff"])
    assert answer.answer == (
        "Data Center, Three Months Ended October 29, 2023: $14,514 million. [1] "
        f"Total revenue, Three Months Ended October 29, 2023: $18,120 million. [{2 if split else 1}]"
    )
    assert [c.chunk_id for c in answer.citations] == (["seg-1", "seg-2"] if split else ["seg-1"])
    assert "%" not in answer.answer


def test_a_share_question_keeps_the_forms_answer_when_the_table_has_no_total(test_settings):
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    form = {"facts": [{"doc": 1, "quote": "| Data Center | $ 14,514 | $ 3,833 |", "value": "14,514"}]}
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(form)))
    chunk = _segments(False)[0]
    seed(assistant, [*CORPUS, replace(chunk, text=chunk.text.rsplit("\n", 1)[0])])
    answer = assistant.ask("What proportion of Widgetco's revenue was generated by its data center business?", groups=["all-staff"])
    assert answer.answer == "Data Center, Three Months Ended October 29, 2023: $14,514 million. [1]"


@pytest.mark.parametrize("question, expected", [
    ("What were Widgetco's total net sales for the three months ended July 1, 2023?", "Total net sales, Three Months Ended July 1, 2023: $81,797 million. [1]"),
    ("What were Widgetco's total net sales for the nine months ended July 1, 2023?", "Total net sales, Nine Months Ended July 1, 2023: $293,787 million. [1]"),
])
def test_a_figure_from_the_column_of_another_period_is_read_from_the_column_asked_for(test_settings, question, expected):
    """The model often copies the nine-month figure for a quarter (or the reverse): the same row's
    value under the asked period's column is the answer."""
    statement = Chunk(
        id="statement-1",
        text=("[2023 Q3 Widgetco › Statements of operations]\n| (In millions) | Three Months Ended July 1, 2023 | Three Months Ended "
              "June 25, 2022 | Nine Months Ended July 1, 2023 | Nine Months Ended June 25, 2022 |\n| --- | --- | --- | --- | --- |\n"
              "| Total net sales | $ 81,797 | $ 82,959 | $ 293,787 | $ 304,182 |"),
        source="filings/2023 Q3 Widgetco.pdf", doc_id="filings/2023 Q3 Widgetco.pdf", page=4, section="Statements of operations",
        groups=("all-staff",),
    )
    wrong = "293,787" if "three" in question else "81,797"
    form = {"facts": [{"doc": 1, "quote": "| Total net sales | $ 81,797 | $ 82,959 | $ 293,787 | $ 304,182 |", "value": f"$ {wrong}"}]}
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "structured"})})
    assistant = build_assistant(settings, chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(form)))
    seed(assistant, [*CORPUS, statement])
    answer = assistant.ask(question, groups=["all-staff"])
    assert answer.answer == expected
    assert any("the column of the period asked" in r for r in answer.details["checks"]["repaired"])


def test_two_amounts_compared_are_each_read_from_their_row_for_the_latest_period(test_settings):
    """"How did operating expenses compare to revenue?": the model works out a share no passage
    states; the answer is the two figures, each from the row naming it, in the column of the latest
    period even where the table puts the year-ago column first."""
    statement = filing("statement-1", "2023 Q1 Widgetco", "Statements of operations", 4, (
        "| (In millions) | Three Months Ended March 31, 2022 | Three Months Ended March 31, 2023 |\n| --- | --- | --- |\n"
        "| Net sales | 116,444 | 127,358 |\n| Total operating expenses | 112,775 | 122,584 |\n| Operating income | 3,669 | 4,774 |"))
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(
        {"points": [{"doc": 1, "text": "Operating expenses were 96% of net sales, at $112,775 million."}]}), statement)
    answer = assistant.ask("How did Widgetco's operating expenses compare to its net sales?", groups=["all-staff"])
    assert answer.details["type"] == "text" and not answer.refused
    assert answer.answer == ("Total operating expenses, Three Months Ended March 31, 2023: 122,584 million. [1] "
                             "Net sales, Three Months Ended March 31, 2023: 127,358 million. [1]")
    assert "96%" not in answer.answer
    assert any(r.startswith("compared:") for r in answer.details["checks"]["repaired"])


def test_two_amounts_compared_bring_the_row_stating_one_as_a_share_of_the_other(test_settings):
    """"How did operating expenses compare to revenue?" where the filing states it: the row under
    operating expenses, "% of net revenue", is the comparison in the filing's own figure."""
    statement = filing("statement-1", "2023 Q1 Widgetco", "Operating expenses", 4, (
        "| ($ in millions) | Apr 30, 2023 | May 1, 2022 |\n| --- | --- | --- |\n| Revenue | $ 7,192 | $ 8,288 |\n"
        "| Total operating expenses | $ 2,508 | $ 3,563 |\n| % of net revenue | 34.9 % | 42.9 % |\n| Net income | 2,043 | 1,618 |"))
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(
        {"points": [{"doc": 1, "text": "Operating expenses were $2,508 million."}]}), statement)
    answer = assistant.ask("How did Widgetco's operating expenses compare to its revenues?", groups=["all-staff"])
    assert "Total operating expenses, % of net revenue, Apr 30, 2023: 34.9 %" in answer.answer, answer.answer
    other = assistant.ask("How did Widgetco's operating expenses compare to its net income?", groups=["all-staff"])
    assert "34.9" not in other.answer  # a share of revenue says nothing of net income


def _inventories(flows_label: str) -> tuple[Chunk, Chunk]:
    """A filing's balance sheet row "Inventories" (the amount) and its cash flow statement's row
    `flows_label` (the period's change)."""
    balance = filing("balance-1", "2022 Q3 Widgetco", "Balance sheets", 3, (
        "| CONDENSED CONSOLIDATED BALANCE SHEETS (In millions) | June 25, 2022 | September 25, 2021 |\n| --- | --- | --- |\n"
        "| Inventories | 5,433 | 6,580 |\n| Total current assets | 112,292 | 134,836 |"))
    flows = filing("flows-1", "2022 Q3 Widgetco", "Statements of cash flows", 5, (
        "| CONDENSED CONSOLIDATED STATEMENTS OF CASH FLOWS (In millions) | Nine Months Ended June 25, 2022 | Nine Months Ended June 26, 2021 |\n"
        f"| --- | --- | --- |\n| {flows_label} | 1,049 | (1,213) |\n| Vendor non-trade receivables | 9,109 | (1,494) |"))
    return balance, flows


def test_a_figure_from_a_row_that_names_the_topic_less_well_is_read_from_the_better_row(test_settings):
    """The model copies the cash flow statement's "Inventories" (the period's change) while the
    balance sheet's row, which names the inventories themselves, is in the prompt: its figure for the
    latest date is shown instead."""
    balance, flows = _inventories("Inventories")
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: "{}", balance, flows)
    assistant.ask("What were Widgetco's inventories?", groups=["all-staff"])  # the prompt's numbering, for the scripted form
    flows_doc = next(
        i for i, (_, text) in enumerate(DOC_BLOCK.findall(assistant.chat_model.calls[-1][-1].content), start=1) if "1,049" in text)
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": flows_doc, "quote": "| Inventories | 1,049 | (1,213) |", "value": "1,049"}]})
    answer = assistant.ask("What were Widgetco's inventories?", groups=["all-staff"])
    assert answer.answer == "Inventories, June 25, 2022: 5,433 million. [1]"
    assert answer.citations[0].chunk_id == "balance-1"
    assert any("names the topic better" in r for r in answer.details["checks"]["repaired"])


def test_a_figure_from_a_weaker_row_is_replaced_whatever_the_questions_wording():
    """The row rule does not depend on the question asking a change: only a sentence's figure does."""
    from retrieval.checks import Checked
    from retrieval.composer import Composer, _topic_row
    from retrieval.focus import term_weights
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Fact

    balance, flows = _inventories("Changes in operating assets: Inventories")
    contexts = [ScoredChunk(flows, 1.0), ScoredChunk(balance, 0.9)]
    weights = term_weights("inventories", lambda words: {w: 1 for w in words}, 1000)
    for question in ("What were Widgetco's inventories?", "What was the change in Widgetco's inventories?"):
        checked = Checked(facts=[Fact(1, "| Changes in operating assets: Inventories | 1,049 | (1,213) |", "1,049 million", "Inventories")])
        Composer._prefer_topic_row(checked, _topic_row(contexts, weights), contexts, [c.chunk.text for c in contexts], weights, question, None)
        assert [f.value for f in checked.facts] == ["5,433 million"], question


def _cloud_filing(test_settings):
    prose = filing("cloud-prose", "2023 Q3 Widgetco", "Cloud", 34, (
        "Cloud\nRevenue increased $3.9 billion or 19%.\n• Server and cloud services revenue increased $3.9 billion or 21% "
        "driven by Skyward and other cloud services. Skyward revenue grew 29%."))
    table = filing("cloud-table", "2023 Q3 Widgetco", "Segment information", 27, (
        "| Revenue, classified by significant product and service offerings (In millions) | Three Months Ended September 30, 2023 "
        "| Three Months Ended September 30, 2022 |\n| --- | --- | --- |\n| Server and cloud services | $ 22,308 | $ 18,388 |\n"
        "| Office products | 13,140 | 11,577 |"))
    return table_assistant(test_settings, lambda messages, json_schema=None: "{}", prose, table)


def _scripted_change(assistant, question: str) -> None:
    """The form states the prose's change ("increased $3.9 billion") as the answer's figure."""
    assistant.ask(question, groups=["all-staff"])  # the prompt's numbering, for the scripted form
    prose_doc = next(
        i for i, (_, text) in enumerate(DOC_BLOCK.findall(assistant.chat_model.calls[-1][-1].content), start=1) if "$3.9 billion" in text)
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps({"facts": [{
        "doc": prose_doc, "quote": "Server and cloud services revenue increased $3.9 billion or 21%", "value": "$3.9 billion"}]})


def test_a_change_given_for_the_amount_asked_is_read_from_the_row_that_names_the_topic(test_settings):
    """"What was the revenue from cloud services, including Skyward?": the form gives the sentence's
    "increased $3.9 billion", the change, while the row "Server and cloud services" holds the amount;
    Skyward, an example of what the row holds, is not a word its label must carry."""
    assistant = _cloud_filing(test_settings)
    question = "What was Widgetco's revenue from cloud services, including Skyward, in the latest quarter?"
    _scripted_change(assistant, question)
    answer = assistant.ask(question, groups=["all-staff"])
    assert answer.answer == "Server and cloud services, Three Months Ended September 30, 2023: $22,308 million. [1]"
    assert answer.citations[0].chunk_id == "cloud-table"
    assert any("names the topic better" in r for r in answer.details["checks"]["repaired"])


def test_a_change_stays_when_the_question_asks_how_much_the_amount_grew(test_settings):
    assistant = _cloud_filing(test_settings)
    question = "How much did Widgetco's revenue from cloud services grow in the latest quarter?"
    _scripted_change(assistant, question)
    answer = assistant.ask(question, groups=["all-staff"])
    assert "$3.9 billion" in answer.answer and "22,308" not in answer.answer


def _shopco(quarter: str, month: str, label: str, prior: str, current: str, pay: str) -> list[Chunk]:
    """A filing that counts research and development under `label`, tabulates the year-ago quarter
    first, and lists the same line again in its stock-based compensation note."""
    name = f"2023 {quarter} Shopco"
    heading = f"| (in millions) | Three Months Ended {month} 30, 2022 | Three Months Ended {month} 30, 2023 |\n| --- | --- | --- |\n"
    return [
        filing(f"{quarter}-ops", name, "Statements of operations", 4,
               f"| CONSOLIDATED STATEMENTS OF OPERATIONS {heading[2:]}| Fulfillment | 20,342 | 21,305 |\n| {label} | {prior} | {current} |"),
        filing(f"{quarter}-pay", name, "Stock award activity", 16,
               f"| Stock-based compensation expense is as follows {heading[2:]}| Fulfillment | 763 | 932 |\n| {label} | {pay} | 4,043 |"),
        filing(f"{quarter}-def", name, label, 25,
               f"{label}\n{label} costs include payroll and related expenses for employees involved in the research and development "
               "of new and existing products and services, and infrastructure costs."),
    ]


def test_a_figure_no_row_names_is_read_from_the_line_item_its_filing_defines_as_covering_it(test_settings):
    """"R&D expenditure" over two filings that count it under another line item, named differently in
    each ("Technology and content", later "Technology and infrastructure"): each filing's row of that
    item is read, from its statement of operations rather than its stock-based compensation note, and
    for the filing's own quarter although its table puts the year-ago quarter first."""
    chunks = [*_shopco("Q1", "March", "Technology and content", "14,842", "20,450", "1,645"),
              *_shopco("Q2", "June", "Technology and infrastructure", "18,072", "21,931", "2,814")]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: "{}", *chunks)
    question = "How has Shopco's R&D expenditure changed over the quarters?"
    assistant.ask(question, groups=["all-staff"])  # the prompt, for the scripted form
    prompt = assistant.chat_model.calls[-1][-1].content
    assert prompt.index("14,842") < prompt.index("1,645") and prompt.index("18,072") < prompt.index("2,814")  # operations first
    q2 = next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1) if "18,072" in text)
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(  # the year-ago column, as small models do
        {"facts": [{"doc": q2, "quote": "| Technology and infrastructure | 18,072 | 21,931 |", "value": "18,072"}]})
    answer = assistant.ask(question, groups=["all-staff"])
    assert answer.answer.splitlines() == [
        "- 2023 Q1 Shopco: Technology and content, Three Months Ended March 30, 2023: 20,450 million. [1]",
        "- 2023 Q2 Shopco: Technology and infrastructure, Three Months Ended June 30, 2023: 21,931 million. [2]",
    ]
    assert answer.details["defined_as"] == ["Technology and content", "Technology and infrastructure"]
    assert any("own period" in r for r in answer.details["checks"]["repaired"])


def _chipco(quarter: str, year: int, rates: str) -> Chunk:
    """A filing whose tax table puts the quarter's columns before the year to date's ("Q3 2022 | Q3
    2021 | YTD 2022 | YTD 2021", as Intel's do)."""
    return filing(f"{quarter}-tax", f"{year} {quarter} Chipco", "Provision for Taxes", 35,
                  f"| Provision for Taxes (In Millions) | {quarter} {year} | {quarter} {year - 1} | YTD {year} | YTD {year - 1} |\n"
                  f"| --- | --- | --- | --- | --- |\n| Effective tax rate | {rates} |")


@pytest.mark.parametrize("question, stated", [
    ("How has Chipco's effective tax rate changed across these quarters?", ["642.0 %", "139.0 %"]),
    ("How has Chipco's YTD effective tax rate changed across these filings?", ["(1.3)%", "139.0 %"]),
])
def test_a_figure_over_several_filings_is_the_quarters_own_not_the_year_to_dates_beside_it(test_settings, question, stated):
    """Over several filings each is answered for its own quarter: the year to date's figure the form
    copied from the same row is read again from the quarter's column, unless the question asks for
    the year to date."""
    chunks = [_chipco("Q3", 2022, "642.0 % | 15.9 % | (1.3)% | 12.5 %"), _chipco("Q1", 2023, "139.0 % | 13.2 % | 139.0 % | 13.2 %")]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: "{}", *chunks)
    first = assistant.ask(question, groups=["all-staff"])  # the prompt, for the scripted form
    assert assistant.chat_model.calls, first.details
    prompt = assistant.chat_model.calls[-1][-1].content
    docs = {text.split("\n")[0]: i for i, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1)}
    q3 = next(i for head, i in docs.items() if "2022 Q3" in head)
    q1 = next(i for head, i in docs.items() if "2023 Q1" in head)
    row = next(line for line in chunks[0].text.splitlines() if line.startswith("| Effective"))
    q1_row = next(line for line in chunks[1].text.splitlines() if line.startswith("| Effective"))
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": q3, "quote": row, "value": "(1.3)%"}, {"doc": q1, "quote": q1_row, "value": "139.0 %"}]})
    answer = assistant.ask(question, groups=["all-staff"])
    lines = answer.answer.splitlines()
    assert len(lines) == 2 and stated[0] in lines[0] and stated[1] in lines[1], answer.answer
    assert ("Q3 2022" in lines[0]) == (stated[0] == "642.0 %")


def test_a_quarters_figure_and_its_year_to_date_stated_together_both_stay_and_the_year_agos_go(test_settings):
    chunks = [_chipco("Q3", 2022, "642.0 % | 15.9 % | (1.3)% | 12.5 %"), _chipco("Q1", 2023, "139.0 % | 13.2 % | 139.0 % | 13.2 %")]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: "{}", *chunks)
    question = "How has Chipco's effective tax rate changed across these quarters?"
    assistant.ask(question, groups=["all-staff"])
    prompt = assistant.chat_model.calls[-1][-1].content
    q3 = next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1) if "2022 Q3" in text.split("\n")[0])
    row = next(line for line in chunks[0].text.splitlines() if line.startswith("| Effective"))
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps(  # every column of the row, as small models do
        {"facts": [{"doc": q3, "quote": row, "value": v} for v in ("642.0 %", "15.9 %", "(1.3)%", "12.5 %")]})
    answer = assistant.ask(question, groups=["all-staff"])
    line = answer.answer.splitlines()[0]
    assert "642.0 %" in line and "(1.3)%" in line and "15.9" not in line and "12.5" not in line, answer.answer


def test_one_figure_read_from_two_passages_is_stated_once():
    """The same row in two passages (a table split over chunks repeats rows; two statements list the
    same total) gives the same figure twice: the answer says it once, citing where it was first read."""
    from retrieval.composer import _LiveText
    from retrieval.checks import Checked
    from retrieval.structured import Fact

    shown: list[str] = []
    cited: list[int] = []
    live = _LiveText(shown.append, lambda doc, said: cited.append(doc) or len(cited),
                     lambda draft: Checked(facts=list(draft.facts), points=list(draft.points)))
    live.add(Fact(1, "| Total inventories | $ 4,454 |", "$4,454 million", "Total inventories, October 30, 2022"), None)
    live.add(Fact(2, "| Inventories | $ 4,454 |", "$4,454 million", "Inventories, October 30, 2022"), None)
    live.add(Fact(2, "| Raw materials | $ 1,021 |", "$1,021 million", "Raw materials, October 30, 2022"), None)
    assert len(live.pieces) == 2 and "4,454" in live.pieces[0] and "1,021" in live.pieces[1]
    assert cited == [1, 2]


def test_a_figure_read_off_the_row_above_the_one_its_quote_names_is_read_from_the_named_row():
    """"Research and development | 3M to Sep 2023", value "$14,158": the figure the form copied stands
    on the Net revenue row above; the named row's figure in the same column is the answer."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    table = ScoredChunk(Chunk(id="t", text=(
        "[2023 Q3 Widgetco › Statements of Income]\n| (In Millions) | Three Months Ended Sep 30, 2023 | Three Months Ended Oct 1, 2022 |\n"
        "| --- | --- | --- |\n| Net revenue | $ 14,158 | $ 15,338 |\n| Research and development | 3,870 | 4,302 |"),
        source="q3.pdf", doc_id="q3.pdf", groups=("all-staff",)), 1.0)
    question = "How much did Widgetco spend on research and development in the quarter?"
    checked = check(Draft(facts=[Fact(1, "Research and development | 3M to Sep 2023 | 3M to Oct 2022", "$14,158")]), [table], question)
    assert [f.value for f in checked.facts] == ["$3,870 million"]
    assert checked.facts[0].about == "Research and development, Three Months Ended Sep 30, 2023"
    assert any("the row its quote names" in r for r in checked.repaired)
    # a value on the row its quote names stays as it is
    kept = check(Draft(facts=[Fact(1, "Research and development | 3,870 | 4,302", "4,302")]), [table], question)
    assert [f.value for f in kept.facts] == ["$4,302 million"] and not any("names" in r for r in kept.repaired)


def test_a_value_that_repeats_the_question_shows_the_sentence_it_quotes():
    """The form's value is the question's own words ("debt structure or interest expenses"): the quoted
    sentence of the document is the answer; a quote no document holds leaves nothing to show."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    sentence = "Interest expense was $472 million and $823 million during Q1 2022 and Q1 2023, and was primarily related to debt."
    passage = ScoredChunk(Chunk(id="i", text=f"[2023 Q1 Widgetco › Interest Income and Expense]\n{sentence}",
                                source="q1.pdf", doc_id="q1.pdf", groups=("all-staff",)), 1.0)
    question = "Are there any significant changes in Widgetco's debt structure or interest expenses across these quarters?"
    checked = check(Draft(facts=[Fact(1, sentence[:90], "debt structure or interest expenses")]), [passage], question)
    assert [f.value for f in checked.facts] == [sentence]
    invented = check(Draft(facts=[Fact(1, "Interest expense was $9 million lower because the company repaid its notes early",
                                       "debt structure or interest expenses")]), [passage], question)
    assert not invented.facts and "the question's words" in invented.dropped[0]


@pytest.mark.parametrize("point, kept", [
    ("Widgetco's commitments in ESG areas relate to the expenses and investments reported in the financial statements.", False),
    ("The operational expenses section relates to the segment reporting of the expenses and investments, as aligned.", False),
    ("The department head approves the ESG expenses reported in the financial statements.", True),
    ("ESG expenses reported in the financial statements were 12 million.", True),
])
def test_a_point_that_only_restates_the_question_is_not_an_answer(point, kept):
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    passage = ScoredChunk(Chunk(id="e", text=f"[Widgetco › ESG]\n{point}", source="esg.pdf", doc_id="esg.pdf", groups=("all-staff",)), 1.0)
    question = ("How do Widgetco's commitments in ESG areas relate to the expenses and investments reported in the financial "
                "statements, and how does the operational expenses section relate to the segment reporting?")
    checked = check(Draft(points=[Point(1, point)]), [passage], question)
    assert bool(checked.points) is kept
    assert kept or "the question's words" in checked.dropped[0]


def test_a_sentence_of_a_point_that_only_restates_the_question_is_left_out_and_a_lead_is_not_said_twice():
    from retrieval.checks import Checked, check, render
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    own = "Inventories fell to $1,200 million as the company cut purchase commitments."
    passage = ScoredChunk(Chunk(id="i", text=f"[Widgetco › Inventories]\n{own}", source="q.pdf", doc_id="q.pdf", groups=("all-staff",)), 1.0)
    question = "How do the reported changes in Widgetco's inventory levels relate to the discussion of its supply chain?"
    echo = "The reported changes in Widgetco's inventory levels relate to the discussion of its supply chain."
    checked = check(Draft(points=[Point(1, f"{echo} {own}")]), [passage], question)
    assert [p.text for p in checked.points] == [own] and "restating the question" in checked.repaired[0]
    # a point that opens with its part's lead ("Inventory levels: …") is not led twice
    assert render(Checked(points=[Point(1, f"Inventory levels: {own}")]), lambda doc, said: doc, lead="Inventory levels") == (
        f"Inventory levels: {own} [1]")


def test_a_sentence_whose_words_are_not_its_passages_is_left_out_and_a_point_of_only_such_sentences_is_dropped():
    """"The key factors influencing Widgetco's net income were the company's financial performance and the
    market conditions. [1]" cited to an income statement: no figure to check, and words of its own the
    passage never uses — the model's, not the filing's. A sentence that says the passage's words in another
    order stays, cited to the passage whose words they are."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    table = ("[2023 Q2 Widgetco › Statements of Income]\n| (In millions) | Three Months Ended Jul 1, 2023 |\n| --- | --- |\n"
             "| Net revenue | 12,949 |\n| Net income | 1,473 |")
    prose = ("[2023 Q2 Widgetco › Overview]\nNet income rose as lower inventory reserves and a gain on the sale of the "
             "memory business offset weaker demand for client processors.")
    passages = [ScoredChunk(Chunk(id=f"p{i}", text=t, source="q2.pdf", doc_id="q2.pdf", groups=("all-staff",)), 1.0)
                for i, t in enumerate((table, prose))]
    question = "What were the key factors influencing Widgetco's net income in Q2 2023?"
    fluff = "The key factors influencing Widgetco's net income in Q2 2023 were the company's financial performance and the market conditions."
    checked = check(Draft(points=[Point(1, fluff)]), passages, question)
    assert not checked.points and "its words are not document 1's" in checked.dropped[0]
    own = "Weaker demand for client processors was offset by lower inventory reserves and the gain on the memory business sale."
    checked = check(Draft(points=[Point(2, f"{own} This shows the company's resilience in a tough market environment.")]), passages, question)
    assert [p.text for p in checked.points] == [own] and "whose words are not document 2's" in checked.repaired[0]
    # the model copied the second passage's sentence and cited the first: cited where its words are
    checked = check(Draft(points=[Point(1, own)]), passages, question)
    assert [(p.doc, p.text) for p in checked.points] == [(2, own)] and "document 1 → 2: its words are that document's" in checked.repaired[0]


def test_a_negative_table_figure_in_parentheses_is_labelled_from_its_row():
    from retrieval.checks import table_label

    passage = ("| (in millions) | Three Months Ended September 30, 2023 | Nine Months Ended September 30, 2023 |\n| --- | --- | --- |\n"
               "| Inventories | 732 | (5,772) |\n| Accounts receivable, net and other | (4,794) | $ (13,109) |")
    assert table_label("(5,772)", "Inventories", passage) == "Inventories, Nine Months Ended September 30, 2023"
    assert table_label("-13,109", "", passage) == "Accounts receivable, net and other, Nine Months Ended September 30, 2023"


def test_a_figure_from_the_column_of_another_year_is_read_from_the_year_asked():
    """"… in its Q3 2023 10-Q": the form copied the prior year's nine months; the row's 2023 nine
    months is the answer. A question naming no year, or two, leaves the value where it is."""
    from retrieval.checks import column_for_year

    passage = ("| (in millions) | Three Months Ended September 30, 2022 | Three Months Ended September 30, 2023 | "
               "Nine Months Ended September 30, 2022 | Nine Months Ended September 30, 2023 |\n| --- | --- | --- | --- | --- |\n"
               "| Common stock repurchased | 1,500 | 300 | 6,000 | 900 |\n| Proceeds from notes | — | 12 | 40 | — |")
    quote = "Common stock repurchased | 1,500 | 300 | 6,000 | 900"
    assert column_for_year("6,000", quote, passage, "What did Widgetco repurchase in its Q3 2023 10-Q?") == "900"
    assert column_for_year("1,500", quote, passage, "What did Widgetco repurchase in its Q3 2023 10-Q?") == "300"
    assert column_for_year("900", quote, passage, "What did Widgetco repurchase in its Q3 2023 10-Q?") is None
    assert column_for_year("6,000", quote, passage, "What did Widgetco repurchase?") is None
    assert column_for_year("6,000", quote, passage, "How did repurchases in 2023 compare with 2022?") is None
    # the asked year's cell holds no figure: the value stays
    assert column_for_year("40", "Proceeds from notes | — | 12 | 40 | —", passage, "Proceeds in 2023?") is None


def test_the_prior_years_figure_alone_is_read_from_the_column_of_the_year_asked(test_settings):
    answer = ask_with_fact(test_settings, "| Widget revenue | 4,120 | 3,870 |", "3,870")
    assert answer.answer == "Widget revenue, Year Ended March 31, 2023: 4,120 million. [1]"
    assert any("the column of the year asked" in r for r in answer.details["checks"]["repaired"])


def test_a_percentage_given_where_an_amount_was_asked_is_read_as_the_rows_amount():
    from retrieval.checks import amount_for_percentage, check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    passage = ("| (In millions) | Three Months Ended Oct 29, 2023 | Three Months Ended Oct 30, 2022 | $ Change | % Change |\n"
               "| --- | --- | --- | --- | --- |\n| Gaming | $ 2,856 | $ 1,574 | $ 1,282 | 81 % |\n| Professional Visualization | 416 | 200 | 216 | 108 % |")
    asked = "In the latest quarter, what were the sales figures for Widgetco's gaming and professional segments?"
    assert amount_for_percentage("81%", "| Gaming |", passage, asked) == "$ 2,856"
    assert amount_for_percentage("81%", "| Gaming |", passage, "How much did gaming revenue grow?") is None
    assert amount_for_percentage("$2,856", "| Gaming |", passage, asked) is None
    table = ScoredChunk(Chunk(id="g", text=f"[2023 Q3 Widgetco › Revenue by market]\n{passage}", source="q3.pdf", doc_id="q3.pdf",
                              groups=("all-staff",)), 1.0)  # fmt: skip
    checked = check(Draft(facts=[Fact(1, "| Gaming | $ 2,856 | $ 1,574 | $ 1,282 | 81 % |", "81%")]), [table], asked)
    assert [(f.value, f.about) for f in checked.facts] == [("$2,856 million", "Gaming, Three Months Ended Oct 29, 2023")]


def test_a_nil_in_the_asked_years_column_is_the_answer_and_turns_a_yes_into_no(test_settings):
    """Asked about its Q3 2023 10-Q, the form copied the nine months of 2022 ("(6,000)"); the 2023
    cell of that row is "—": nothing was repurchased, so "Yes" was wrong."""
    from retrieval.checks import nil_in_year

    heading = ("| (in millions) | Nine Months Ended September 30, 2022 | Nine Months Ended September 30, 2023 |\n"
               "| --- | --- | --- |\n")
    body = heading + "| Common stock repurchased | (6,000) | — |\n| Proceeds from notes | 40 | 12 |"
    quote = "Common stock repurchased | (6,000) | —"
    asked = "Did Widgetco report any stock buybacks in its Q3 2023 10-Q, and what was the extent?"
    assert nil_in_year("(6,000)", quote, body, asked) == "Common stock repurchased, Nine Months Ended September 30, 2023"
    assert nil_in_year("40", "Proceeds from notes | 40 | 12", body, asked) is None  # the 2023 cell holds a figure
    assert nil_in_year("(6,000)", quote, body, "Did Widgetco buy back stock?") is None  # no year asked

    chunk = filing("cf", "2023 Q3 Widgetco", "Cash flows", 7, body)

    def reply(messages, json_schema=None):
        doc = next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(messages[-1].content), start=1) if "Common stock" in text)
        return json.dumps({"answer": "yes", "facts": [{"doc": doc, "quote": quote, "value": "(6,000)"}]})

    answer = table_assistant(test_settings, reply, chunk).ask(asked, groups=["all-staff"])
    assert answer.answer == "No. Common stock repurchased, Nine Months Ended September 30, 2023: none. [1]"
    assert not answer.refused and answer.citations[0].source == "filings/2023 Q3 Widgetco.pdf"


def test_a_question_in_words_whose_form_held_nothing_gets_the_closest_sentences_not_a_refusal(test_settings):
    """The model's point only restated the question; the passage's own sentence about the topic is
    shown, under a lead that says it is the closest the documents come. Nothing near the topic:
    still the refusal."""
    chunk = filing("seg", "2023 Q3 Widgetco", "Segment information", 12,
                   "Our chief operating decision maker reviews segment operating income for Widgets and Gadgets. "
                   "Operating expenses are allocated to the Widgets and Gadgets segments by headcount.")
    asked = "How do Widgetco's operating expenses relate to its segment reporting?"

    def reply(messages, json_schema=None):
        return json.dumps({"points": [{"doc": 1, "text": "Widgetco's operating expenses relate to its segment reporting."}]})

    answer = table_assistant(test_settings, reply, chunk).ask(asked, groups=["all-staff"])
    assert not answer.refused
    # (a question relating two things: one line per side that has a passage)
    assert answer.answer == ("Nothing answers this in so many words; the passages closest to it say:\n"
                             "- Operating expenses: Operating expenses are allocated to the Widgets and Gadgets segments by headcount. [1]")
    assert answer.citations[0].source == "filings/2023 Q3 Widgetco.pdf" and answer.details["closest"] >= 1
    unrelated = table_assistant(test_settings, reply, chunk).ask("How does Widgetco's carbon offset programme work?", groups=["all-staff"])
    assert unrelated.refused


def test_the_same_sentence_given_as_a_value_and_as_a_point_is_said_once(test_settings):
    sentence = "International travel must be requested at least 21 days in advance."
    assistant = assistant_with(test_settings, {})
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps({
        "facts": [{"doc": doc_number(assistant, "policy-1"), "quote": sentence, "value": "21 days"}],
        "points": [{"doc": doc_number(assistant, "policy-1"), "text": sentence}],
    })
    answer = assistant.ask(TRAVEL, groups=["all-staff"])
    assert answer.answer == f"{sentence} [1]"


def test_a_sentence_two_facts_would_show_is_said_once():
    """Two facts of one table cell (ga-010: "14" and "48" of "Apple MacBook Pro 14 (M4 Pro, 48 GB)")
    render to one sentence, said once; a point repeating it adds nothing."""
    from retrieval.checks import Checked, render
    from retrieval.structured import Fact, Point

    cell = "Apple MacBook Pro 14 (M4 Pro, 48 GB)"
    cited: list[int] = []
    checked = Checked(facts=[Fact(1, "| Engineering | " + cell + " |", cell), Fact(1, "| Engineering | " + cell + " |", cell)],
                      points=[Point(2, cell + ".")])
    assert render(checked, lambda doc, said: cited.append(doc) or 1) == f"{cell}. [1]"
    assert cited == [1]  # the point's document, which shows nothing, is not cited


def test_a_bare_figure_the_answers_sentence_already_states_is_not_shown_item_by_item(test_settings):
    """The same as the answer streams item by item (sec10q-094, as users saw it)."""
    sentence = "Our effective tax rate was 18% and 19% for the three months ended September 30, 2023 and 2022, respectively."
    chunk = filing("tax", "2023 Q3 Widgetco", "Income taxes", 40, f"Effective tax rate\n{sentence}")
    reply = json.dumps({"facts": [{"doc": 1, "quote": sentence, "value": "18%"}, {"doc": 1, "quote": "", "value": "(19%)"}]})
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: reply, chunk)
    answer = assistant.ask("What was Widgetco's effective tax rate in the latest quarter?", groups=["all-staff"])
    assert answer.answer == f"{sentence} [1]"


def test_a_figure_may_round_its_passages_but_not_state_digits_the_passage_lacks():
    """sec10q-042: the form's "$50.122 million" passed as supported by a "50" under "(In millions)"
    elsewhere in the passage (rounding was allowed to the coarser precision of the two)."""
    from retrieval.facts import amount_in, quantities

    table = "(In millions)\n| Total revenue | 52,747 | 50,122 |"
    page = "(In millions) Item 3 is on page 50."
    held = {claim: amount_in(quantities(claim)[0], passage) for claim, passage in [
        ("$50.122 million", page), ("$50.1 billion", table), ("$50,122 million", table),
        ("$3,512 million", "revenue of $3.5 billion"), ("$3,500 million", "revenue of $3.5 billion"),
        ("74.3%", "a margin of 74%"), ("74.0%", "a margin of 74%"), ("$1.2 billion", "$1,234 million")]}
    assert held == {"$50.122 million": False, "$50.1 billion": True, "$50,122 million": True, "$3,512 million": False,
                    "$3,500 million": True, "74.3%": False, "74.0%": True, "$1.2 billion": True}


def test_a_bare_figure_a_sentence_already_shown_states_is_not_said_again():
    """sec10q-094: the form gave "18%" with the filing's sentence and "(19%)" with no sentence of its
    own; the answer read "… was 18% and 19% for the three months … respectively. [1] (19%). [1]"."""
    from retrieval.checks import Checked, render
    from retrieval.structured import Fact

    sentence = "Our effective tax rate was 18% and 19% for the three months ended September 30, 2023 and 2022, respectively."
    checked = Checked(facts=[Fact(1, sentence, "18%"), Fact(1, "19%", "(19%)"), Fact(1, "21%", "21%")])
    assert render(checked, lambda doc, said: 1) == f"{sentence} [1] 21%. [1]"


def test_a_section_named_by_the_topic_comes_whole_and_a_swapped_name_shows_the_passages_sentence(test_settings):
    """The best passage is the section's closing boilerplate; the case itself stands in the passage
    before it, under the same "Item 1. Legal Proceedings". Both reach the prompt, tagged with the
    section's heading. The model wrote the company the question names where the passage names who
    sued: the passage's own sentence is shown instead."""
    case = replace(filing("lp1", "2023 Q2 Widgetco", "Item 1. Legal Proceedings › Acme Holdings", 23,
                          "Acme Holdings, Inc. filed a lawsuit against the Company in the District Court of Delaware alleging patent infringement."),
                   chunk_index=40)
    other = replace(filing("lp2", "2023 Q2 Widgetco", "Item 1. Legal Proceedings › Acme Holdings › Other Legal Proceedings", 23,
                           "Other legal proceedings. The Company is subject to other legal proceedings and claims. "
                           "The outcome of legal proceedings is inherently uncertain."),
                    chunk_index=41)
    prompts = []

    def reply(messages, json_schema=None):
        prompts.append(messages[-1].content)
        doc = next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(messages[-1].content), start=1) if "Acme" in text)
        return json.dumps({"points": [{"doc": doc, "text": "Widgetco filed a lawsuit against the Company in the District Court of Delaware alleging patent infringement."}]})

    answer = table_assistant(test_settings, reply, case, other).ask("What were the legal proceedings in Widgetco's Q2 2023 10-Q?", groups=["all-staff"])
    assert "[2023 Q2 Widgetco › Item 1. Legal Proceedings › Acme Holdings]" in prompts[0], prompts[0]
    assert answer.answer.startswith("Acme Holdings, Inc. filed a lawsuit against the Company in the District Court of Delaware"), (prompts[0], answer.details)
    assert any("its sentence is shown" in r for r in answer.details["checks"]["repaired"])


def test_a_heading_names_the_topic_when_all_its_words_are_the_topics():
    from retrieval.focus import names_only, question_terms

    wanted = set(question_terms("What legal proceedings or risk factors were disclosed?"))
    assert names_only("Item 1. Legal Proceedings", wanted) and names_only("Item 1A. Risk Factors", wanted)
    assert not names_only("Note 3 – Financial Instruments", wanted) and not names_only("Interest Rate Risk", wanted)
    assert not names_only("Note 12", wanted)  # a number names nothing


def test_a_relation_side_of_framing_words_alone_is_about_them_and_its_section_is_named():
    """"How does the operational expenses section relate to the segment reporting": "segment" frames most
    questions ("which segment drove …") and is dropped from a topic's words, which left this side with no
    word to search or excerpt by; a side keeps them when it has no other, and its heading "Note 15 -
    Segment Information" names it ("Information" says only that the section informs)."""
    from retrieval.focus import names_only, question_terms, side_terms

    assert question_terms("segment reporting") == [] and side_terms("segment reporting") == ["segment"]
    assert side_terms("operational expenses") == question_terms("operational expenses")  # a side with subject words keeps only those
    wanted = set(side_terms("segment reporting"))
    assert names_only("Note 15 - Segment Information", wanted, side=True)
    assert not names_only("Note 15 - Segment Information", set(question_terms("segment reporting")))
    assert not names_only("Note 16 - Geographic Information", wanted, side=True)
    assert not names_only("Information", wanted, side=True)  # a filler alone names nothing


def test_debt_securities_held_are_not_the_companys_debt_and_borrowings_are():
    """A question about a company's debt is not answered by the debt securities it holds ("Change in fair
    value of marketable debt securities" is an investment's gain), while Intel's "Note 9 : Borrowings" is
    its debt."""
    from retrieval.focus import question_terms

    debt = set(question_terms("debt structure"))
    assert not debt & set(question_terms("Change in fair value of marketable debt securities"))
    assert not debt & set(question_terms("Short-term investments include marketable debt investments"))
    assert debt & set(question_terms("Note 9 : Borrowings")) and debt & set(question_terms("Term Debt"))


def _acquisitions_filing(quarter: str, *bodies: tuple[str, str]) -> list[Chunk]:
    return [filing(f"{quarter}-{n}", f"2023 {quarter} Widgetco", section, 5 + n, body) for n, (section, body) in enumerate(bodies)]


def test_an_existence_question_is_answered_from_the_instances_the_named_filing_names(test_settings):
    """"Were there any acquisitions …" of a named filing: the model's "yes" backed only by a table line
    item ("Payments for acquisition of property, plant and equipment") becomes "no", said as what was
    searched, when no sentence of the filing names an acquisition; a form that found nothing gets the
    sentences that do name one, cited, when the filing has them."""
    q1 = _acquisitions_filing(
        "Q1",
        ("Cash flows", "| (In millions) | Six Months Ended April 1, 2023 |\n| --- | --- |\n"
                       "| Payments for acquisition of property, plant and equipment | (6,703) |"),
        ("Risk factors", "We may not realise the benefits we expect from future acquisitions or divestitures, and integrating "
                         "an acquired business may divert management's attention."),
    )
    q2 = _acquisitions_filing(
        "Q2",
        ("Acquisition activity", "On June 2, 2023, we completed our acquisition of Gizmo Labs Inc. for $1.2 billion, consisting "
                                 "primarily of cash."),
        ("Risk factors", "We may not realise the benefits we expect from future acquisitions or divestitures."),
    )
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: "{}", *q1, *q2)

    def table_yes(messages, json_schema=None):
        blocks = DOC_BLOCK.findall(messages[-1].content)
        n, row = next((n, re.search(r"\| Payments for acquisition[^\n]*", text)) for n, (_, text) in enumerate(blocks, start=1)
                      if "Payments for acquisition" in text)
        return json.dumps({"answer": "yes", "facts": [{"doc": n, "quote": row.group(0), "value": "(6,703)"}]})

    assistant.chat_model.reply = table_yes
    answer = assistant.ask("Were there any significant acquisitions or divestitures reported by Widgetco in the 2023 Q1 10-Q?",
                           groups=["all-staff"])
    assert answer.answer == "No. No passage of 2023 Q1 Widgetco reports any significant acquisitions or divestitures."
    assert not answer.refused and answer.citations == []

    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps({"answer": "yes"})
    answer = assistant.ask("Were there any significant acquisitions or divestitures reported by Widgetco in the 2023 Q2 10-Q?",
                           groups=["all-staff"])
    assert answer.answer == ("Yes. On June 2, 2023, we completed our acquisition of Gizmo Labs Inc. for $1.2 billion, "
                             "consisting primarily of cash. [1]")
    assert [c.chunk_id for c in answer.citations] == ["Q2-0"]

    def risk_yes(messages, json_schema=None):  # a "yes" backed by a risk factor, which names no acquisition
        blocks = DOC_BLOCK.findall(messages[-1].content)
        n = next(n for n, (_, text) in enumerate(blocks, start=1) if "Risk factors" in text)
        return json.dumps({"answer": "yes", "points": [{"doc": n, "text": "We may not realise the benefits we expect from future "
                                                                          "acquisitions or divestitures."}]})

    assistant.chat_model.reply = risk_yes
    answer = assistant.ask("Were there any significant acquisitions or divestitures reported by Widgetco in the 2023 Q2 10-Q?",
                           groups=["all-staff"])
    assert answer.answer.startswith("Yes. On June 2, 2023, we completed our acquisition of Gizmo Labs Inc.")
    assert [c.chunk_id for c in answer.citations] == ["Q2-0"]


def test_a_question_relating_two_things_searches_each_and_answers_each_on_its_own_line(test_settings):
    """"How does the information on legal contingencies relate to the reserves set aside for these
    liabilities?": one search for the whole question finds passages about neither; each side is
    searched on its own in the named filing, the model is asked for each, and the answer gives one
    line per side, each citing its own passage."""
    q3 = _acquisitions_filing(
        "Q3",
        ("Critical accounting estimates", "Legal and other contingencies: the outcomes of legal proceedings are uncertain, and a loss "
                                          "contingency is accrued when a loss is probable and can be estimated."),
        ("Note 14 — Contingencies", "As of September 30, 2023, we accrued aggregate legal liabilities of $264 million; reserves for "
                                    "liabilities beyond recorded amounts could reach $500 million."),
        ("Goodwill", "Goodwill is tested for impairment annually; the business climate and legal factors could change the fair value."),
    )
    prompts: list[str] = []

    def per_side(messages, json_schema=None):
        prompts.append(messages[-1].content)
        blocks = DOC_BLOCK.findall(messages[-1].content)
        doc = {key: n for n, (_, text) in enumerate(blocks, start=1) for key in ("accounting", "$264") if key in text}
        return json.dumps({"points": [
            {"doc": doc["accounting"], "text": "A loss contingency is accrued when a loss is probable and can be estimated."},
            {"doc": doc["$264"], "text": "As of September 30, 2023, we accrued aggregate legal liabilities of $264 million."}]})

    assistant = table_assistant(test_settings, per_side, *q3)
    answer = assistant.ask("In Widgetco's 2023 Q3 10-Q, how does the information on legal contingencies relate to the reserves "
                           "set aside for these liabilities?", groups=["all-staff"])
    assert [p["label"] for p in answer.details["parts"]] == ["Legal contingencies", "Reserves set aside for these liabilities"]
    assert "Answer each separately: Legal contingencies; Reserves set aside for these liabilities." in prompts[-1]
    assert answer.answer.splitlines() == [
        "- Legal contingencies: A loss contingency is accrued when a loss is probable and can be estimated. [1]",
        "- Reserves set aside for these liabilities: As of September 30, 2023, we accrued aggregate legal liabilities of $264 million. [2]",
    ]
    assert [c.chunk_id for c in answer.citations] == ["Q3-0", "Q3-1"]


def test_a_question_about_what_no_readable_passage_names_is_refused_before_the_model(test_settings):
    """"Salesforce's … in its Q2 2023 10-Q": the period names filings, but none of another company;
    "how is travel for a sabbatical requested": passages on requesting travel do not speak of
    sabbaticals. Both are refused with the reason, without a prompt."""
    def no_prompt(messages, json_schema=None):
        raise AssertionError("the model was asked")

    q2 = _acquisitions_filing("Q2", ("Revenue", "Revenue allocated to remaining performance obligations was $717 million."))
    assistant = table_assistant(test_settings, no_prompt, *q2)
    other = assistant.ask("What was Salesforce's remaining performance obligation in its Q2 2023 10-Q?", groups=["all-staff"])
    assert other.refused and other.details["reason"] == "no document available to you mentions Salesforce"
    never = assistant.ask("How is travel for a sabbatical requested?", groups=["all-staff"])
    assert never.refused and never.details["reason"] == "no passage available to you mentions 'sabbatical'"


def test_a_fiscal_quarter_no_passage_names_is_refused_and_one_a_passage_names_is_answered(test_settings):
    """A filing's name gives the calendar quarter; whether it covers "the fourth quarter of fiscal year
    2024" only its text can say. A figure stated for another fiscal quarter is no answer."""
    q2 = _acquisitions_filing("Q2", ("Revenue", "Gaming revenue for the second quarter of fiscal year 2024 was $2.49 billion."),
                              ("Outlook", "We expect sales to China to decline in the fourth quarter of fiscal year 2024."))
    facts = {"facts": [{"doc": 1, "quote": "Gaming revenue for the second quarter of fiscal year 2024 was $2.49 billion.", "value": "$2.49 billion"}]}
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(facts), *q2)
    never = assistant.ask("What was Widgetco's Gaming revenue in the third quarter of fiscal year 2024?", groups=["all-staff"])
    assert never.refused and never.details["reason"] == "no passage available to you mentions Q3 of fiscal 2024"
    other = assistant.ask("What was Widgetco's Gaming revenue in the fourth quarter of fiscal year 2024?", groups=["all-staff"])
    assert other.refused and "states Q2 of fiscal 2024, not the quarter asked" in other.details["reason"]
    asked = assistant.ask("What was Widgetco's Gaming revenue in Q2 fiscal 2024?", groups=["all-staff"])
    assert not asked.refused and "$2.49 billion" in asked.answer


def test_a_period_column_of_the_prompt_is_not_a_value():
    """The prompt's tables name their columns "3M to Sep 2021"; a form that gives that as the value
    has said nothing the document states."""
    from retrieval.checks import check
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Fact

    passage = ScoredChunk(Chunk(id="c", text="[2022 Q3 AMZN › Cash flows]\n| | Three Months Ended September 30, 2021 | 2022 |\n"
                                             "| --- | --- | --- |\n| Net cash provided by operating activities | 11,325 | 11,422 |",
                                source="amzn.pdf", doc_id="amzn.pdf", groups=("all-staff",)), 1.0)
    checked = check(Draft(facts=[Fact(1, "| Net cash provided by operating activities | 11,325 | 11,422 |", "3M to Sep 2021")]), [passage],
                    "Are there any notable changes in Amazon's cash flows?",
                    shown=["| | 3M to Sep 2021 | 2022 |\n| --- | --- | --- |\n| Net cash provided by operating activities | 11,325 | 11,422 |"])
    assert not checked.facts and "not a value" in checked.dropped[0]


def test_a_point_speaks_of_periods_as_the_document_does_not_as_the_prompts_table_headings():
    """A point about table cells is shown as the cells' row and column headings, the document's words
    for the periods, not the prompt's compact "3M to Oct 2023"."""
    from retrieval.checks import check, render
    from retrieval.schema import ScoredChunk
    from retrieval.structured import Draft, Point

    passage = ScoredChunk(Chunk(id="c", text="[2023 Q3 NVDA › Operating expenses]\n(In millions)\n| | Three Months Ended October 29, 2023 | "
                                             "Nine Months Ended October 30, 2022 |\n| --- | --- | --- |\n| Research and development | 2,294 | 5,387 |",
                                source="nvda.pdf", doc_id="nvda.pdf", groups=("all-staff",)), 1.0)
    shown = "(In millions)\n| | 3M to Oct 2023 | 9M to Oct 2022 |\n| --- | --- | --- |\n| Research and development | 2,294 | 5,387 |"
    checked = check(Draft(points=[Point(1, "Research and development expenses were 2,294 million in the 3M to Oct 2023 period "
                                          "and 5,387 million in 9M to Oct 2022.")]), [passage],
                    "What were NVIDIA's research and development expenses?", shown=[shown])
    assert render(checked, lambda doc, evidence: doc) == (
        "Research and development, Three Months Ended October 29, 2023: 2,294 million. [1] "
        "Research and development, Nine Months Ended October 30, 2022: 5,387 million. [1]")


def test_a_word_that_names_a_passages_sheet_or_section_is_no_unknown_word(test_settings):
    """"Which laptop is in the IT equipment catalogue?": the catalogue is a sheet's name, the page label
    of its rows, not a word of their text."""
    sheet = Chunk(id="sheet-1", text="[equipment]\n| Item | Model |\n| --- | --- |\n| Standard laptop | Dell Latitude 7450 |",
                  source="operations/equipment.xlsx", doc_id="operations/equipment.xlsx", page="IT equipment catalogue",
                  groups=("all-staff",))
    form = {"facts": [{"doc": 1, "quote": "| Standard laptop | Dell Latitude 7450 |", "value": "Dell Latitude 7450"}]}
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(form), sheet)
    answer = assistant.ask("Which laptop is in the IT equipment catalogue?", groups=["all-staff"])
    assert not answer.refused and "Dell Latitude 7450" in answer.answer


def test_a_figure_dated_outside_the_asked_fiscal_year_is_no_answer():
    """"Three Months Ended October 30, 2022" names no fiscal quarter, but no quarter of fiscal 2024
    ends in 2022: the figure is another period's. A date that may lie in the asked year is kept."""
    from retrieval.checks import other_fiscal_quarter

    question = "What was NVIDIA's Gaming revenue in the fourth quarter of fiscal year 2024?"
    assert other_fiscal_quarter("Gaming, Three Months Ended October 30, 2022 | $1,574", question) == \
        "a period ending October 30, 2022 (outside fiscal 2024)"
    assert other_fiscal_quarter("Gaming, Three Months Ended January 28, 2024 | $2,865", question) is None
    assert other_fiscal_quarter("Gaming | October 29, 2023 | October 30, 2022", question) is None  # one date may be asked
    assert other_fiscal_quarter("Gaming, Three Months Ended October 30, 2022", "What was Gaming revenue in Q3 2022?") is None
    assert other_fiscal_quarter("Gaming revenue was up 81% from a year ago", question) is None


def test_a_figure_of_a_catalogue_row_is_read_from_the_column_the_question_names(test_settings):
    """"How often are standard laptops refreshed?": the form's "4" quotes "4 years", which the sheet
    does not say; the standard laptop's row (named after its item code) is read in the "Refresh cycle
    (years)" column, labelled by what the row names."""
    sheet = Chunk(id="catalogue", text="[equipment › IT equipment catalogue]\n"
                  "| Item code | Item | Model | Unit price (USD) | Refresh cycle (years) |\n| --- | --- | --- | --- | --- |\n"
                  "| NW-LT-01 | Standard laptop | Dell Latitude 7450 | 1350 | 4 |\n| NW-MN-01 | Monitor | Dell UltraSharp U2724D 27-inch | 389 | 5 |",
                  source="operations/equipment.xlsx", doc_id="operations/equipment.xlsx", page="IT equipment catalogue",
                  groups=("all-staff",))
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": 1, "quote": "4 years", "value": "4"}]}), sheet)
    answer = assistant.ask("How often are standard laptops refreshed?", groups=["all-staff"])
    assert answer.answer == "NW-LT-01 Standard laptop Dell Latitude 7450, Refresh cycle (years): 4. [1]", answer.details


def test_an_item_whose_citation_the_checks_move_to_another_filing_is_shown_under_that_filing():
    """The model cites the Q2 passage for a figure quoted from Q1's: checked, it cites Q1's passage,
    and is Q1's — on Q1's line while Q1 is not shown yet, else on a line of its own after the rest."""
    from retrieval.checks import Checked
    from retrieval.composer import _LiveParts
    from retrieval.structured import Fact

    def check_part(index, items, first):  # the checks' repair: a quote of "Q1" is document 1's
        return Checked(facts=[Fact(1 if "Q1" in f.quote else f.doc, f.quote, f.value) for f in items])

    shown: list[str] = []
    parts = _LiveParts(shown.append, lambda doc, said: doc, check_part, owner=[0, 1, 2], labels=["Q1", "Q2", "Q3"])
    parts.add(Fact(2, "Q2 revenue", "4,480"), None)
    parts.add(Fact(2, "Q1 revenue", "4,120"), None)  # cited as Q2's: moved to Q1, shown after the rest
    parts.add(Fact(3, "Q3 revenue", "4,700"), None)
    assert parts.finish(None)
    assert "".join(shown).splitlines() == ["- Q2: 4,480. [2]", "- Q3: 4,700. [3]", "- Q1: 4,120. [1]"]


def test_a_name_the_form_left_out_is_read_from_the_row_and_the_column_the_question_names(test_settings):
    """"Who is the office manager of the London headquarters?": the form gives the question's own words;
    the London row's cell under "Office manager" is the answer."""
    sheet = Chunk(id="offices", text="[equipment › Office locations]\n"
                  "| Office | Address | Country | Opened | Desks | Office manager |\n| --- | --- | --- | --- | --- | --- |\n"
                  "| London (headquarters) | 20 Fenchurch Street, London EC3M 3BY | United Kingdom | 2015 | 180 | Priya Natarajan |\n"
                  "| Berlin | Torstrasse 140, 10119 Berlin | Germany | 2019 | 85 | Jonas Weber |",
                  source="operations/equipment.xlsx", doc_id="operations/equipment.xlsx", page="Office locations", groups=("all-staff",))
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps(
        {"facts": [{"doc": 1, "quote": "Office manager", "value": "Office manager of the London headquarters"}]}), sheet)
    answer = assistant.ask("Who is the office manager of the London headquarters?", groups=["all-staff"])
    assert answer.details["type"] == "name"
    assert "Priya Natarajan" in answer.answer and "Jonas" not in answer.answer, answer.details
    berlin = assistant.ask("Who manages the Berlin office's desks budget?", groups=["all-staff"])
    assert "Priya" not in berlin.answer


def test_a_yes_no_answer_over_several_filings_is_shown_part_by_part_once_a_fact_backs_its_verdict():
    """"Yes." leads the lines as soon as a line with a fact (not the asked period's nil) is ready; a
    "yes" whose facts are all nil waits for the whole form, which makes it a "no"."""
    from retrieval.checks import NIL_VALUE, Checked
    from retrieval.composer import _LiveParts
    from retrieval.structured import Fact, Point

    def check_part(index, items, first):
        return Checked(facts=[i for i in items if isinstance(i, Fact)], points=[i for i in items if isinstance(i, Point)])

    shown: list[str] = []
    parts = _LiveParts(shown.append, lambda doc, said: doc, check_part, owner=[0, 1], labels=["Q1", "Q2"])
    parts.add(Point(1, "Revenue grew."), "yes")
    parts.add(Fact(1, "| Revenue | 4,120 |", "4,120"), "yes")
    parts.starting(2, "yes")  # the model has begun Q2's item: Q1's line is ready, and backs the "yes"
    assert "".join(shown).splitlines() == ["Yes.", "- Q1: 4,120. [1] Revenue grew. [1]"]
    parts.add(Fact(2, "| Revenue | 4,480 |", "4,480"), "yes")
    assert parts.finish("yes") and "".join(shown).splitlines()[-1] == "- Q2: 4,480. [2]"

    nil: list[str] = []
    parts = _LiveParts(nil.append, lambda doc, said: doc, check_part, owner=[0, 1], labels=["Q1", "Q2"])
    parts.add(Fact(1, "| Repurchases | — |", NIL_VALUE), "yes")
    parts.starting(2, "yes")
    assert nil == []  # a nil fact backs no "yes": held
    parts.add(Point(2, "No shares were repurchased."), "yes")
    assert parts.finish("yes") and "".join(nil).splitlines()[0] == "No."


def _tax_filing(test_settings, section: str = "Income Taxes"):
    note = filing("tax-note", "2023 Q3 Widgetco", section, 37, (
        "Effective Tax Rate\nOur effective tax rate was 18% and 19% for the three months ended September 30, 2023 and 2022, "
        "respectively. The decrease in our effective tax rate for the current quarter compared to the prior year was primarily "
        "due to tax benefits from tax law changes, including the impact from the issuance of Notice 2023-55 by the IRS. "
        "Tax contingencies are reviewed every quarter."))
    return table_assistant(test_settings, lambda messages, json_schema=None: "{}", note)


def _scripted_rate(assistant, question: str) -> None:
    """The form states the rate from its sentence, and nothing else (when the model is asked)."""
    assistant.ask(question, groups=["all-staff"])
    if not assistant.chat_model.calls:
        return
    doc = next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(assistant.chat_model.calls[-1][-1].content), start=1) if "18%" in text)
    assistant.chat_model.reply = lambda messages, json_schema=None: json.dumps({"facts": [{
        "doc": doc, "quote": "Our effective tax rate was 18% and 19% for the three months ended September 30, 2023 and 2022, respectively.",
        "value": "18%"}]})


@pytest.mark.parametrize("section", ["Income Taxes", "Results of Operations"])
def test_a_figure_set_against_its_past_comes_with_the_passages_reason_for_its_change(test_settings, section):
    """"…, and how does it align with previous tax rates?": the rates' sentence, then the one after it
    in the filing that says why the rate changed — read from the note on income taxes without the
    model, or, from another section, added to the form's rates (the form gave the rates only)."""
    assistant = _tax_filing(test_settings, section)
    question = "What was the effective tax rate for Widgetco in the latest 10-Q, and how does it align with previous tax rates?"
    _scripted_rate(assistant, question)
    answer = assistant.ask(question, groups=["all-staff"])
    assert answer.answer.startswith("Our effective tax rate was 18% and 19%")
    assert "The decrease in our effective tax rate for the current quarter compared to the prior year was primarily due to" in answer.answer
    assert "contingencies" not in answer.answer
    assert answer.answer.count("[1]") == 2 and len(answer.citations) == 1
    assert bool(assistant.chat_model.calls) == (section != "Income Taxes")


def test_a_figure_asked_alone_comes_without_the_reason_for_its_change(test_settings):
    assistant = _tax_filing(test_settings)
    question = "What was the effective tax rate for Widgetco in the latest 10-Q?"
    _scripted_rate(assistant, question)
    answer = assistant.ask(question, groups=["all-staff"])
    assert answer.answer.startswith("Our effective tax rate was 18% and 19%") and "decrease" not in answer.answer



def _currency_filing(quarter: str, figure: str) -> list[Chunk]:
    name = f"2023 {quarter} Widgetco"
    hedging = filing(f"{quarter}-hedging", name, "Foreign Exchange Risk", 11,
                     "Foreign Exchange Risk\nTo protect gross margins from fluctuations in foreign exchange rates, the Company may "
                     "enter into forward contracts. The Company may use derivative instruments to offset its exposure to foreign "
                     "exchange rates.")
    highlights = filing(f"{quarter}-highlights", name, "Quarterly Highlights", 17,
                        "Quarterly Highlights\nWeakness in foreign currencies relative to the U.S. dollar had an unfavorable impact "
                        f"on total net sales, which decreased {figure} during the quarter. The Company announced three new widgets.")
    return [hedging, highlights]


def test_an_effect_question_is_answered_with_the_filings_statement_of_what_the_cause_did(test_settings):
    """"How did foreign exchange rates affect …": the passages using those words most say how the
    company hedges them; the filing's sentence stating what the cause did, in figures, is the answer,
    cited to its own passage, one per filing asked about, without the model writing it."""
    chunks = _currency_filing("Q1", "5% or $6.8 billion") + _currency_filing("Q2", "3% or $2.4 billion")

    def reply(messages, json_schema=None):
        return json.dumps({"points": [{"doc": 1, "text": "The Company may enter into forward contracts."}]})

    assistant = table_assistant(test_settings, reply, *chunks)
    answer = assistant.ask("How did foreign exchange rates affect Widgetco's net sales in its 2023 Q2 10-Q?",
                           groups=["all-staff"])
    assert answer.answer == ("Weakness in foreign currencies relative to the U.S. dollar had an unfavorable impact on total net "
                             "sales, which decreased 3% or $2.4 billion during the quarter. [1]")
    assert [c.chunk_id for c in answer.citations] == ["Q2-highlights"] and not answer.refused
    assert assistant.chat_model.calls == []
    several = assistant.ask("What is the impact of foreign exchange rates on Widgetco's net sales? List it for each "
                            "reported period.", groups=["all-staff"])
    lines = several.answer.splitlines()
    assert [line.split(":")[0] for line in lines] == ["- 2023 Q1 Widgetco", "- 2023 Q2 Widgetco"], lines
    assert "5% or $6.8 billion" in lines[0] and "3% or $2.4 billion" in lines[1]


def test_an_effect_question_without_a_stated_figure_is_read_by_the_model_from_the_statement_first(test_settings):
    """Where the filing only says the cause moved something ("gross margin decreased due to the weakness
    in foreign currencies"), the model answers, with that passage first in its prompt."""
    hedging, _ = _currency_filing("Q3", "")
    margin = filing("Q3-margin", "2023 Q3 Widgetco", "Gross Margin", 20,
                    "Gross Margin\nGross margin decreased due primarily to the weakness in foreign currencies relative to the U.S. "
                    "dollar. Widget volumes were higher.")

    def reply(messages, json_schema=None):
        return json.dumps({"points": [{"doc": 1, "text": "Gross margin decreased due primarily to the weakness in foreign "
                                                         "currencies relative to the U.S. dollar."}]})

    assistant = table_assistant(test_settings, reply, hedging, margin)
    answer = assistant.ask("How did foreign exchange rates affect Widgetco's gross margin?", groups=["all-staff"])
    assert len(assistant.chat_model.calls) == 1 and doc_number_of(assistant, "Gross margin decreased") == 1
    assert answer.citations[0].chunk_id == "Q3-margin" and "weakness in foreign currencies" in answer.answer


def doc_number_of(assistant, words: str) -> int:
    """The prompt number of the passage holding `words` in the last prompt the model saw."""
    prompt = assistant.chat_model.calls[-1][-1].content
    return next(i for i, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1) if words in text)


REPURCHASES = "Did Widgetco report any share repurchase activities in its 2023 Q3 10-Q, and what was the scale of these buybacks?"
CASH_FLOWS = filing("cf", "2023 Q3 Widgetco", "Cash flows", 8,
                    "| (In millions) | Nine Months Ended September 30, 2023 |\n| --- | --- |\n| Repurchases of common stock | (6,874) |")


def _asked_of_repurchases(test_settings, section: str, body: str):
    """The repurchase question over the cash flow statement and a passage of `body`, with a form that
    copies the statement's row: (the assistant, its answer)."""
    def cash_flow_row(messages, json_schema=None):
        return json.dumps({"answer": "yes", "facts": [{"doc": 1, "quote": "| Repurchases of common stock | (6,874) |", "value": "(6,874)"}]})

    assistant = table_assistant(test_settings, cash_flow_row, CASH_FLOWS, filing("said", "2023 Q3 Widgetco", section, 14, body))
    return assistant, assistant.ask(REPURCHASES, groups=["all-staff"])


def test_what_the_company_did_is_answered_yes_with_its_own_sentence(test_settings):
    """"Did Widgetco report any share repurchases …, and what was the scale?": the table row of the
    cash flow statement would answer with the nine months' total; the filing's sentence saying what the
    company repurchased in the quarter is the answer, without the model, with what the passage adds of
    the program that year (not the dividend per share)."""
    assistant, answer = _asked_of_repurchases(
        test_settings, "Capital Return Program",
        "Capital Return Program\nDuring the third quarter of 2023, we repurchased 8.3 million shares of our common stock for $3.72 "
        "billion. The quarterly dividend was $0.04 per share in 2023. As of October 29, 2023, $3.0 billion remained of our "
        "repurchase program.")
    assert answer.answer == ("Yes. During the third quarter of 2023, we repurchased 8.3 million shares of our common stock for "
                             "$3.72 billion. [1] As of October 29, 2023, $3.0 billion remained of our repurchase program. [1]")
    assert [c.chunk_id for c in answer.citations] == ["said"] and assistant.chat_model.calls == []


def test_last_years_repurchases_beside_none_this_year_are_no_answer(test_settings):
    """Where a passage says there were none this year, last year's repurchases are no answer: the form
    is filled as before."""
    assistant, answer = _asked_of_repurchases(
        test_settings, "Stock Repurchase Activity",
        "Stock Repurchase Activity\nWe repurchased 46.2 million shares of our common stock for $6.0 billion during the nine months "
        "ended September 30, 2022. There were no repurchases of our common stock during the nine months ended September 30, 2023.")
    assert len(assistant.chat_model.calls) == 1 and "46.2 million" not in answer.answer


def test_a_question_whether_anything_changed_is_answered_no_with_the_filings_own_statement(test_settings):
    """"Are there any significant changes in Widgetco's accounting policies?": the passages the question's
    words find are about disclosure controls; the filing's statement that nothing changed is the answer."""
    controls = filing("controls", "2023 Q3 Widgetco", "Disclosure Controls", 22,
                      "Disclosure Controls\nNew disclosures are evaluated by the disclosure committee each quarter.")
    estimates = filing("estimates", "2023 Q3 Widgetco", "Basis of Presentation", 9,
                       "Basis of Presentation\nThe Company's significant accounting policies are those of its annual report. "
                       "There have been no material changes to the Company's critical accounting estimates since the 2022 Form 10-K.")
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps({"answer": "yes", "facts": []}),
                                controls, estimates)
    answer = assistant.ask("Are there any significant changes or new disclosures in Widgetco's accounting policies in its 2023 Q3 "
                           "10-Q?", groups=["all-staff"])
    assert answer.answer == ("No. There have been no material changes to the Company's critical accounting estimates since the "
                             "2022 Form 10-K. [1]")
    assert [c.chunk_id for c in answer.citations] == ["estimates"] and assistant.chat_model.calls == []


def test_two_filings_stating_in_the_same_words_that_nothing_changed_each_get_their_line(test_settings):
    said = ("Basis of Presentation\nThe Company's significant accounting policies are those of its annual report. "
            "There have been no material changes to the Company's critical accounting estimates since the 2022 Form 10-K.")
    chunks = [filing(f"{q}-estimates", f"2023 {q} Widgetco", "Basis of Presentation", 9, said) for q in ("Q2", "Q3")]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps({"answer": "yes", "facts": []}), *chunks)
    answer = assistant.ask("Are there any significant changes in Widgetco's accounting policies as reported in these 10-Qs?",
                           groups=["all-staff"])
    lines = answer.answer.splitlines()
    assert lines[0] == "No." and [line.split(":")[0] for line in lines[1:]] == ["- 2023 Q2 Widgetco", "- 2023 Q3 Widgetco"], lines
    assert [c.chunk_id for c in answer.citations] == ["Q2-estimates", "Q3-estimates"]


def _debt_filing(quarter: str, body: str, index: int) -> list[Chunk]:
    name = f"2023 {quarter} Widgetco"
    held = filing(f"{quarter}-held", name, "Unrealized Losses on Debt Investments", 10,
                  "Unrealized Losses on Debt Investments\nUnrealized losses on debt investments were $2.1 billion.")
    note = replace(filing(f"{quarter}-debt", name, "Note 5 — Debt", 12, f"Note 5 — Debt\n{body}"), chunk_index=index)
    return [held, note]


def test_a_question_on_changes_in_debt_is_answered_from_each_filings_note_on_it(test_settings):
    """"Are there any significant changes in Widgetco's debt as reported in these 10-Qs?": the
    question's words find the debt securities the company holds; each filing's note on its debt states
    what it owes, and the answer is those sentences, without the model: yes, for the notes outstanding
    differ from one filing to the next."""
    chunks = (_debt_filing("Q1", "As of March 31, 2023, we had $68.5 billion of unsecured senior notes outstanding.", 30)
              + _debt_filing("Q2", "As of June 30, 2023, we had $66.5 billion of unsecured senior notes outstanding.", 31))
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps({"answer": "yes", "facts": []}), *chunks)
    answer = assistant.ask("Are there any significant changes in Widgetco's debt as reported in these 10-Qs?",
                           groups=["all-staff"])
    lines = answer.answer.splitlines()
    assert lines[0] == "Yes." and [line.split(":")[0] for line in lines[1:]] == ["- 2023 Q1 Widgetco", "- 2023 Q2 Widgetco"], lines
    assert "$68.5 billion" in lines[1] and "$66.5 billion" in lines[2]
    assert [c.chunk_id for c in answer.citations] == ["Q1-debt", "Q2-debt"] and assistant.chat_model.calls == []


def test_a_note_on_debt_that_opens_with_its_table_is_read_by_the_model(test_settings):
    """NVIDIA's "Long-Term Debt" lists its notes in a table: a later sentence of the note ("We have a $575
    million commercial paper program") is not what changed, and the model reads the note."""
    table = replace(filing("notes", "2023 Q1 Widgetco", "Long-Term Debt", 15,
                           "Long-Term Debt\n| (In millions) | April 30, 2023 |\n| --- | --- |\n| 1.55% Notes Due 2028 | 1,250 |"),
                    chunk_index=40)
    program = replace(filing("program", "2023 Q1 Widgetco", "Commercial Paper", 16,
                             "Commercial Paper\nWe have a $575 million commercial paper program to support general corporate "
                             "purposes."), chunk_index=41)

    def reply(messages, json_schema=None):
        return json.dumps({"answer": "", "facts": [{"doc": 1, "quote": "| 1.55% Notes Due 2028 | 1,250 |", "value": "1,250"}]})

    assistant = table_assistant(test_settings, reply, table, program)
    answer = assistant.ask("What changes in debt did Widgetco disclose in its 2023 Q1 10-Q?", groups=["all-staff"])
    assert len(assistant.chat_model.calls) == 1 and "$575 million" not in answer.answer


def test_a_note_given_as_a_table_answers_with_its_rows_beside_what_the_model_read(test_settings):
    """NVIDIA's "Long-Term Debt" runs over passages: the answer gives what the model read (the interest
    expense row) and the table's rows, each note's carrying value for the latest date (its last cells,
    under a caption in one cell; not the maturity year), from the table's first passage and its last
    (its totals), each cited to its passage."""
    caption = "| Carrying Value at Expected Remaining Term (years) April 30, 2023 January 29, 2023 (In millions) |\n| --- |"
    first = replace(filing("notes-1", "2023 Q1 Widgetco", "Long-Term Debt", 15,
                           f"Long-Term Debt\n{caption}\n| 0.309% Notes Due | 2023 | 0.1 | $ 1,250 | $ 1,250 |\n"
                           "| 3.20% Notes Due | 2026 | 3.4 | 1,000 | 1,000 |"), chunk_index=40)
    middle = replace(filing("notes-2", "2023 Q1 Widgetco", "Long-Term Debt", 15,
                            f"{caption}\n| 3.70% Notes Due | 2060 | 36.9 | 500 | 500 |"), chunk_index=41)
    last = replace(filing("notes-3", "2023 Q1 Widgetco", "Long-Term Debt", 16,
                          f"{caption}\n| Net carrying amount | $ 10,954 | $ 10,953 |"), chunk_index=42)
    interest = replace(filing("income", "2023 Q1 Widgetco", "Statement of Income", 4,
                              "| (In millions) | Three Months Ended April 30, 2023 |\n| --- | --- |\n| Interest expense | (66) |"),
                       chunk_index=5)

    def reply(messages, json_schema=None):
        prompt = messages[-1].content
        doc = next(n for n, (_, text) in enumerate(DOC_BLOCK.findall(prompt), start=1) if "Interest expense" in text)
        return json.dumps({"answer": "", "facts": [{"doc": doc, "quote": "| Interest expense | (66) |", "value": "(66)"}]})

    assistant = table_assistant(test_settings, reply, first, middle, last, interest)
    answer = assistant.ask("What changes in debt and interest expense were reported by Widgetco in the Q1 2023 10-Q?", groups=["all-staff"])
    assert answer.answer.startswith("Interest expense"), answer.answer
    for said in ("0.309% Notes Due", "$1,250 million", "3.20% Notes Due", "1,000 million", "Net carrying amount", "10,954 million"):
        assert said in answer.answer, (said, answer.answer)
    assert "2023 million" not in answer.answer and "3.70%" not in answer.answer  # not the maturity year; the middle passage is not read
    assert {c.chunk_id for c in answer.citations} == {"income", "notes-1", "notes-3"}


def test_a_table_captioned_by_the_topic_in_another_note_answers_with_its_rows_and_not_the_next_tables(test_settings):
    """Intel has no note headed "Inventories": its inventories are a table of "Other Financial Statement
    Details", captioned by them, followed in the same passage by the interest table. The answer gives the
    inventories table's rows, not the next table's."""
    body = ("Note 4 : Other Financial Statement Details\n"
            "| Inventories (In Millions) | Oct 1, 2022 | Dec 25, 2021 |\n| --- | --- | --- |\n| Raw materials | $ 1,635 | $ 1,441 |\n"
            "| Work in process | 7,030 | 6,656 |\n| Total inventories | $ 12,831 | $ 10,776 |\n"
            "Interest and other, net\n| (In Millions) | Oct 1, 2022 | Oct 2, 2021 |\n| --- | --- | --- |\n| Interest income | 334 | 130 |")
    # the next table may run on without a line between, under a heading row of its own
    body = body.replace("| Total inventories | $ 12,831 | $ 10,776 |\n", "| Total inventories | $ 12,831 | $ 10,776 |\n| Interest and Other, Net |\n"
                        "| Interest expense | (193) | (124) |\n")
    details = replace(filing("details", "2022 Q3 Widgetco", "Note 3 : Earnings Per Share", 14, body), chunk_index=35)

    def reply(messages, json_schema=None):
        return json.dumps({"answer": "", "facts": [], "points": []})

    assistant = table_assistant(test_settings, reply, details)
    answer = assistant.ask("What insights into inventory management could be gleaned from Widgetco's Q3 2022 inventory levels?",
                           groups=["all-staff"])
    for said in ("Raw materials, Oct 1, 2022: $1,635 million", "Work in process, Oct 1, 2022: $7,030 million",
                 "Total inventories, Oct 1, 2022: $12,831 million"):
        assert said in answer.answer, (said, answer.answer)
    assert "334" not in answer.answer and "193" not in answer.answer and [c.chunk_id for c in answer.citations] == ["details"]


def test_a_table_inside_a_note_after_its_opening_leaves_the_notes_sentences_the_answer(test_settings):
    """Amazon's note on income taxes opens with how interim rates are estimated, then a table, then the
    figures: only a note opening with its table is left to the model."""
    passages = [
        ("opening", "Note 7 — Income Taxes\nOur tax provision for interim periods is determined using an estimate of our annual "
                    "effective tax rate."),
        ("table", "| (In millions) | Q3 2023 |\n| --- | --- |\n| Provision for income taxes | 2,306 |"),
        ("figures", "Our income tax provision for the nine months ended September 30, 2023 was $4.1 billion, which included $175 "
                    "million of net discrete tax expense."),
    ]
    chunks = [replace(filing(name, "2023 Q3 Widgetco", "Note 7 — Income Taxes", 20 + i, body), chunk_index=60 + i)
              for i, (name, body) in enumerate(passages)]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps({"facts": []}), *chunks)
    answer = assistant.ask("What effective tax rate did Widgetco report in its 2023 Q3 10-Q, and how does it compare to previous "
                           "quarters?", groups=["all-staff"])
    assert "$4.1 billion" in answer.answer and assistant.chat_model.calls == [], answer.answer
    assert [c.chunk_id for c in answer.citations] == ["figures"]


def test_notes_of_two_documents_at_the_same_place_in_them_are_read_without_a_crash(test_settings):
    """A question naming no company searches every document: two notes on debt, each its document's 30th
    passage, are both read."""
    chunks = [replace(filing(f"{q}-debt", f"2023 {q} Widgetco", "Note 5 — Debt", 12,
                             f"Note 5 — Debt\nAs of {end}, 2023, we had {amount} of unsecured senior notes outstanding."), chunk_index=30)
              for q, end, amount in (("Q1", "March 31", "$68.5 billion"), ("Q2", "June 30", "$66.5 billion"))]
    assistant = table_assistant(test_settings, lambda messages, json_schema=None: json.dumps({"facts": []}), *chunks)
    answer = assistant.ask("What changes in debt were disclosed?", groups=["all-staff"])
    assert not answer.refused and "senior notes outstanding" in answer.answer, answer.answer
