"""Questions over a company's segments: the segments' names read from the filing, each segment's
figure from the table shapes filings use, and the answer that lists them (retrieval/segments.py)."""

from __future__ import annotations

import json

import pytest

from retrieval import segments
from retrieval.assistant import build_assistant
from retrieval.generators import FakeChatModel
from retrieval.schema import Chunk
from retrieval.testing import CORPUS, seed

HEADING = "| (In millions) | Three Months Ended September 30, 2022 | Three Months Ended September 30, 2023 |\n| --- | --- | --- |"


def names(*texts: str) -> list[tuple[str, str]]:
    return [(s.name, s.abbreviation) for s in segments.names(texts)]


@pytest.mark.parametrize("text, expected", [
    ("We have organized our operations into three segments: North America, International, and AWS. These segments reflect …",
     [("North America", ""), ("International", ""), ("AWS", "")]),
    ("we reported our financial performance based on the following segments: Productivity and Business Processes, Intelligent Cloud, "
     "and More Personal Computing.", [("Productivity and Business Processes", ""), ("Intelligent Cloud", ""), ("More Personal Computing", "")]),
    ("The Company’s reportable segments consist of the Americas, Europe, Greater China, Japan and Rest of Asia Pacific.",
     [("Americas", ""), ("Europe", ""), ("Greater China", ""), ("Japan", ""), ("Rest of Asia Pacific", "")]),
    ('Our two operating segments are "Compute & Networking" and "Graphics," as described in Note 15.',
     [("Compute & Networking", ""), ("Graphics", "")]),
    ("We manage our business through the following operating segments:\n▪ Client Computing (CCG)\n▪ Data Center and AI (DCAI)\n"
     "▪ Mobileye\n▪ Intel Foundry Services (IFS) We derive a substantial majority of our revenue from …",
     [("Client Computing", "CCG"), ("Data Center and AI", "DCAI"), ("Mobileye", ""), ("Intel Foundry Services", "IFS")]),
])
def test_the_segments_are_read_from_the_sentence_or_list_that_names_them(text, expected):
    """Oxford comma or not ("Japan and Rest of Asia Pacific" are two; "Productivity and Business
    Processes" is one), quoted names, a bulleted list whose last item runs into the next sentence."""
    assert names(text) == expected


def test_without_a_list_the_segments_are_read_from_a_by_segment_tables_rows_or_their_descriptions():
    table = ("| (dollars in millions) Net sales by reportable segment | Three Months Ended July 1, 2023 | change |\n| --- | --- | --- |\n"
             "| Americas | $ 35,383 | (6)% |\n| Europe | 20,205 | 5 % |\n| Total net sales | $ 81,797 | (1)% |")
    assert names(table) == [("Americas", ""), ("Europe", "")]
    described = ("The Compute & Networking segment includes our Data Center platforms.", "The Graphics segment includes GeForce GPUs.")
    assert names(*described) == [("Compute & Networking", ""), ("Graphics", "")]
    assert names("Our segment includes everything.") == []  # one description names no set of segments


SEGMENTS = [segments.Segment("North America"), segments.Segment("International"), segments.Segment("AWS")]


def figures(text: str, measures=("revenue", "operating income", "operating expenses"), named=SEGMENTS) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for row in segments.figures(text, named, measures):
        found.setdefault((row.segment.name, row.measure), row.value(text))
    return found


def test_a_row_named_for_the_segment_and_the_measure_or_under_their_headings_gives_the_latest_periods_figure():
    note = (f"{HEADING}\n| North America |\n| North America — Net sales | $ 78,843 | $ 87,887 |\n"
            "| North America — Operating expenses | 79,255 | 83,580 |\n| Operating income (loss) | $ (412) | $ 4,307 |\n"
            "| International |\n| International — Net sales | $ 27,720 | $ 32,137 |")
    assert figures(note) == {("North America", "revenue"): "$ 87,887", ("North America", "operating expenses"): "83,580",
                             ("North America", "operating income"): "$ 4,307", ("International", "revenue"): "$ 32,137"}
    mdna = (f"{HEADING}\n| Net Sales: |\n| North America | $ 78,843 | $ 87,887 |\n| AWS | 20,538 | 23,059 |\n"
            "| Consolidated | $ 127,101 | $ 143,083 |\n| Net Sales Mix: |\n| North America | 62 | 61 |\n| Operating Income: |\n| AWS | 5,403 | 6,976 |")
    assert figures(mdna) == {("North America", "revenue"): "$ 87,887", ("AWS", "revenue"): "23,059", ("AWS", "operating income"): "6,976"}
    assert figures(mdna, measures=("revenue",)) == {("North America", "revenue"): "$ 87,887", ("AWS", "revenue"): "23,059"}


def test_an_unlabelled_subtotal_under_a_segments_heading_is_its_figure_and_a_product_row_is_not():
    named = [segments.Segment("Client Computing", "CCG"), segments.Segment("Data Center and AI", "DCAI")]
    text = ("| Net revenue and operating income (loss) were as follows: (In Millions) Net revenue: Client Computing | Q3 2023 | Q3 2022 |\n"
            "| --- | --- | --- |\n| Desktop | $ 2,753 | $ 3,222 |\n|  | 7,867 | 8,128 |\n| Data Center and AI | 3,814 | 4,255 |\n"
            "| Total net revenue | $ 14,158 | $ 15,338 |\n| Operating income (loss): |\n| Client Computing | $ 2,073 | $ 1,447 |")
    assert figures(text, named=named) == {("Client Computing", "revenue"): "7,867", ("Data Center and AI", "revenue"): "3,814",
                                          ("Client Computing", "operating income"): "$ 2,073"}


def test_segments_as_columns_named_by_the_caption_give_each_its_cell():
    named = [segments.Segment("Compute & Networking"), segments.Segment("Graphics")]
    text = ("| Compute & Networking Graphics All Other Consolidated (In millions) Three Months Ended October 29, 2023 |\n| --- |\n"
            "| Revenue | $ 14,645 | $ 3,475 | $ — | $ 18,120 |\n| Operating income (loss) | $ 10,262 | $ 1,493 | $ (1,338) | $ 10,417 |\n"
            "| Three Months Ended October 30, 2022 — Revenue | $ 3,816 | $ 2,115 | $ — | $ 5,931 |")
    assert figures(text, named=named) == {("Compute & Networking", "revenue"): "$ 14,645", ("Graphics", "revenue"): "$ 3,475",
                                          ("Compute & Networking", "operating income"): "$ 10,262", ("Graphics", "operating income"): "$ 1,493"}


def test_unearned_revenue_by_segment_is_not_the_segments_revenue():
    text = f"| Unearned revenue by segment was as follows: (In millions) | September 30, 2023 | June 30, 2023 |\n| --- | --- | --- |\n| AWS | $ 25,316 | $ 27,572 |"
    assert figures(text) == {}


@pytest.mark.parametrize("question, measures, all_of_them", [
    ("How does Widgetco's revenue distribution across its various business segments compare to the cost of sales for those segments?",
     ("revenue", "operating expenses"), True),
    ("From Widgetco's Q3 2023 10-Q, how does the operational expenses section relate to the segment reporting?", ("operating expenses",), True),
    ("What was the reported revenue from Widgetco's e-commerce and AWS segments in the latest quarter?", ("revenue",), True),
    ("In the latest quarter, what were the sales figures for Widgetco's gaming and professional GPU segments?", ("revenue",), False),
    ("Can any trends be identified in Widgetco's AWS segment revenue over the reported periods?", None, False),
])
def test_a_question_over_the_segments_as_a_whole_is_told_from_one_naming_some(question, measures, all_of_them):
    """Two things named as segments, one of them the filing's and the other not ("e-commerce"), ask for
    all of them; two that are none of its segments ("gaming and professional GPU") are the model's."""
    assert segments.asked(question) == measures
    assert segments.widened(question, SEGMENTS) is all_of_them
    assert segments.asked(question, "segment reporting") in (None, segments.DEFAULT_MEASURES)


def test_an_answer_over_the_segments_gives_each_segments_figure_from_its_row(test_settings):
    """The model states one segment's row (what the question's words found first); the answer gives each
    segment's figure for the latest quarter after it, named by segment, each cited to its row's passage."""
    source = "filings/2023 Q3 Widgetco.pdf"

    def passage(cid: str, index: int, section: str, body: str) -> Chunk:
        return Chunk(id=cid, text=f"[2023 Q3 Widgetco › {section}]\n{body}", source=source, doc_id=source, page=10 + index,
                     section=section, groups=("all-staff",), chunk_index=index)

    chunks = [
        passage("seg-note", 30, "Note 8 — Segment Information",
                "We have organized our operations into three segments: North America, International, and AWS. These segments reflect "
                "the way our chief operating decision maker evaluates the business. The North America segment consists of amounts "
                "earned from retail sales through e-commerce stores."),
        passage("seg-table", 31, "Note 8 — Segment Information",
                f"{HEADING}\n| North America |\n| North America — Net sales | $ 78,843 | $ 87,887 |\n"
                "| International |\n| International — Net sales | $ 27,720 | $ 32,137 |\n"),
        passage("seg-aws", 32, "Note 8 — Segment Information", f"{HEADING}\n| AWS |\n| AWS — Net sales | $ 20,538 | $ 23,059 |"),
    ]
    form = {"facts": [{"doc": 1, "quote": "| AWS — Net sales | $ 20,538 | $ 23,059 |", "value": "$23,059"}]}
    retrieval = test_settings.retrieval.model_copy(update={"answer_mode": "structured", "min_score": 0.0})
    assistant = build_assistant(test_settings.model_copy(update={"retrieval": retrieval}),
                                chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps(form)))
    seed(assistant, [*CORPUS, *chunks])
    answer = assistant.ask("What was the reported revenue from Widgetco's e-commerce and AWS segments in the latest quarter?", groups=["all-staff"])
    assert answer.answer.startswith("AWS — Net sales"), answer.answer  # the model's item, shown as it was written
    assert "North America — Net sales, Three Months Ended September 30, 2023: $87,887 million." in answer.answer
    assert "International — Net sales, Three Months Ended September 30, 2023: $32,137 million." in answer.answer
    assert answer.answer.count("$23,059 million") == 1  # the row the model read is not said again
    assert {c.chunk_id for c in answer.citations} == {"seg-table", "seg-aws"}


def test_the_segment_reporting_side_of_a_relation_question_gets_each_segments_revenue_and_operating_income(test_settings):
    """"How does the operational expenses section relate to the segment reporting?": the side that
    speaks of the segments gets each segment's revenue and operating income (what a segment note
    reports, the side naming no measure) on its own line, even when the model wrote nothing for it."""
    source = "filings/2023 Q3 Widgetco.pdf"

    def passage(cid: str, index: int, section: str, body: str) -> Chunk:
        return Chunk(id=cid, text=f"[2023 Q3 Widgetco › {section}]\n{body}", source=source, doc_id=source, page=10 + index,
                     section=section, groups=("all-staff",), chunk_index=index)

    chunks = [
        passage("opex", 20, "Operating Expenses", "Operating expenses increased $1.2 billion or 10% driven by investments in cloud "
                "engineering and headcount growth in the operational expenses section."),
        passage("seg-note", 30, "Note 16 — Segment Information", "We report our financial performance based on the following "
                "segments: Productivity and Business Processes, Intelligent Cloud, and More Personal Computing."),
        passage("seg-table", 31, "Note 16 — Segment Information",
                "| Segment revenue and operating income were as follows: (In millions) | Three Months Ended September 30, 2023 | "
                "Three Months Ended September 30, 2022 |\n| --- | --- | --- |\n| Revenue |\n"
                "| Revenue — Productivity and Business Processes | $ 18,592 | $ 16,465 |\n| Revenue — Intelligent Cloud | 24,259 | 20,325 |\n"
                "| Revenue — More Personal Computing | 13,666 | 13,332 |\n| Operating Income |\n"
                "| Operating Income — Productivity and Business Processes | $ 9,970 | $ 8,323 |\n"
                "| Operating Income — Intelligent Cloud | 11,751 | 8,978 |\n| Operating Income — More Personal Computing | 5,174 | 4,217 |"),
    ]
    retrieval = test_settings.retrieval.model_copy(update={"answer_mode": "structured", "min_score": 0.0})
    assistant = build_assistant(test_settings.model_copy(update={"retrieval": retrieval}),
                                chat_model=FakeChatModel(reply=lambda messages, json_schema=None: json.dumps({"facts": [], "points": []})))
    seed(assistant, [*CORPUS, *chunks])
    answer = assistant.ask("From Widgetco's Q3 2023 10-Q, how does the operational expenses section relate to the segment reporting?",
                           groups=["all-staff"])
    line = next(line for line in answer.answer.splitlines() if line.startswith("- Segment reporting:"))
    for figure in ("$18,592 million", "24,259 million", "13,666 million", "$9,970 million", "11,751 million", "5,174 million"):
        assert figure in line, (figure, answer.answer)
    assert not any(line.startswith("- Operational expenses:") and "18,592" in line for line in answer.answer.splitlines())
    assert [c.chunk_id for c in answer.citations] == ["seg-table"]
