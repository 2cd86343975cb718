"""Structure-aware chunking and the PDF line classifier, with a word-count tokenizer."""

from __future__ import annotations

import pytest

from ingest.chunking import Chunker
from ingest.blocks import Block
from ingest.layout import blocks_from_lines, row_cells

pytestmark = pytest.mark.unit


def words(texts):
    return [len(t.split()) for t in texts]


def sentence(i: int) -> str:
    return f"Sentence number {i} talks about the travel policy in some detail."


def test_chunks_follow_titles_and_record_section_paths():
    blocks = [
        Block("Title", "Travel", 1, 0),
        Block("NarrativeText", " ".join(sentence(i) for i in range(8)), 1),
        Block("Title", "Lodging", 2, 1),
        Block("NarrativeText", " ".join(sentence(i) for i in range(8, 16)), 2),
        Block("Title", "Expenses", 3, 0),
        Block("ListItem", "Receipts are required above 25 EUR.", 3),
    ]
    drafts = Chunker(words, chunk_tokens=120, overlap=10).chunk(blocks, "policy")
    sections = [d.section for d in drafts]
    assert sections == ["Travel", "Travel › Lodging", "Expenses"]
    assert [d.page for d in drafts] == [1, 2, 3]
    assert drafts[0].text.startswith("[policy › Travel]\nTravel\n")
    assert "ListItem" in drafts[2].element_types
    assert not any("Sentence number 8 " in d.text for d in drafts[:1])  # no text crosses the section break


def test_long_text_respects_the_token_budget_with_overlap():
    text = " ".join(sentence(i) for i in range(60))
    drafts = Chunker(words, chunk_tokens=64, overlap=12).chunk([Block("NarrativeText", text, 1)], "doc")
    assert len(drafts) > 5
    assert all(len(d.text.split()) <= 64 for d in drafts)
    joined = " ".join(d.text for d in drafts)
    assert all(sentence(i) in joined for i in range(60))  # nothing lost
    first_tail = drafts[0].text.splitlines()[-1]
    assert first_tail in drafts[1].text  # overlap carries the last sentence over


def test_tables_split_between_rows_and_repeat_the_header():
    header = "| Region | Q1 | Q2 |"
    rows = tuple(f"| Region {i} with a long descriptive name | {i},000 | {i + 1},000 |" for i in range(40))
    table = Block("Table", "\n".join((header, "| --- |", *rows)), "Sheet1", 0, (header, "| --- |", *rows))
    drafts = Chunker(words, chunk_tokens=80, overlap=10).chunk([table], "sales")
    assert len(drafts) > 3
    seen = []
    for draft in drafts:
        lines = draft.text.splitlines()
        assert lines[1] == header and lines[2] == "| --- |"
        assert all(line in rows for line in lines[3:])  # whole rows only
        seen.extend(lines[3:])
        assert draft.page == "Sheet1" and draft.element_types == ("Table",)
    assert seen == list(rows)


def test_a_split_table_repeats_its_unit_row_with_the_header():
    """"| (In millions) |" stands below the heading row: without it a later chunk's figures read as dollars."""
    header = "| | Three Months Ended | Nine Months Ended |"
    rows = tuple(f"| Segment {i} with a long descriptive name | {i},000 | {i + 1},000 |" for i in range(30))
    lines = (header, "| --- | --- | --- |", "| (In millions) |", *rows)
    drafts = Chunker(words, chunk_tokens=80, overlap=10).chunk([Block("Table", "\n".join(lines), 4, 0, lines)], "q3")
    assert len(drafts) > 2
    for draft in drafts:
        assert draft.text.splitlines()[1:4] == [header, "| --- | --- | --- |", "| (In millions) |"]
    assert sum(d.text.count("(In millions)") for d in drafts) == len(drafts)  # once per chunk


def test_a_table_after_headings_read_inside_a_short_section_is_named_after_its_own_section():
    """A filing's cover ends in a few words; the table of contents' and the statements' headings
    follow before any section is long enough to close: the chunk open since the cover takes them in.
    The statement table split over the next chunks is named after the heading it stands under
    ("Item 1. Financial Statements"), not after the cover ("Securities registered …"), and so are
    its citations."""
    header = "| (In millions) | Three Months Ended |"
    rows = tuple(f"| Line {i} of the statement of operations | {i},000 |" for i in range(30))
    blocks = [
        Block("Title", "Securities registered pursuant to Section 12(b) of the Act:", 1, 3),
        Block("NarrativeText", "Yes No 15,821,946,000 shares were outstanding.", 2),
        Block("Title", "PART I — FINANCIAL INFORMATION", 4, 0),
        Block("Title", "Item 1. Financial Statements", 4, 1),
        Block("Text", "Apple Inc.", 4),
        Block("Table", "\n".join((header, "| --- | --- |", *rows)), 4, 0, (header, "| --- | --- |", *rows)),
    ]
    drafts = Chunker(words, chunk_tokens=80, overlap=10).chunk(blocks, "10-Q")
    tables = [d for d in drafts if "Line 1 " in d.text or "Line 29 " in d.text]
    assert drafts[0].section.endswith("Section 12(b) of the Act:")
    assert tables and all(d.section == "PART I — FINANCIAL INFORMATION › Item 1. Financial Statements" for d in tables)
    assert all(d.text.startswith("[10-Q › Item 1. Financial Statements]") for d in tables)


def test_row_cells():
    assert row_cells("Total net sales $ 82,959 $ 81,434 (1,102) —") == ["Total net sales", "$ 82,959", "$ 81,434", "(1,102)", "—"]
    assert row_cells("We expect revenue to grow in 2023.") is None
    assert row_cells("June 25, 2022") is None


def test_a_sentence_introducing_a_table_does_not_hide_its_column_headings():
    """The lead-in wrapped into the table's header ("… trailing twelve / months ended September 30, 2022
    and 2023 (in millions):") named four years for two columns, so the columns had no headings and the
    latest period could not be told from the year before (Amazon's free cash flow)."""
    lines = [
        "Free cash flow, a non-GAAP financial measure, was as follows for the trailing twelve",
        "months ended September 30, 2022 and 2023 (in millions):",
        "Twelve Months Ended",
        "September 30,",
        "2022 2023",
        "Net cash provided by (used in) operating activities $ 39,665 $ 71,654",
        "Free cash flow $ (19,686) $ 21,434",
    ]
    table = next(b for b in blocks_from_lines(lines, page=29) if b.kind == "Table")
    assert table.rows[0] == ("| months ended September 30, 2022 and 2023 (in millions) | Twelve Months Ended September 30, 2022 "
                             "| Twelve Months Ended September 30, 2023 |")
    assert table.rows[-1] == "| Free cash flow | $ (19,686) | $ 21,434 |"


BALANCE_SHEET = [
    "CONSOLIDATED BALANCE SHEETS",
    "(in millions)",
    "December 31, 2022 March 31, 2023",
    "Cash and cash equivalents $ 53,888 $ 49,343",
    "Inventories 34,405 34,170",
    "Total current assets 146,791 136,221",
]


def test_a_table_that_goes_on_below_a_wrapped_label_keeps_its_headings_and_the_label_is_whole():
    """A row label wrapped onto a line of its own broke the table in two, and the second part's first
    row became its heading: "| 10,258 shares outstanding) 108 108 |" headed Amazon's retained earnings,
    whose latest column could then not be told."""
    lines = [*BALANCE_SHEET,
             "Common stock ($0.01 par value; 100,000 shares authorized; 10,757 and 10,773 shares issued; 10,242 and",
             "10,258 shares outstanding) 108 108",
             "Retained earnings 83,193 86,365",
             "Total stockholders’ equity 146,043 154,526"]
    tables = [b for b in blocks_from_lines(lines, page=6) if b.kind == "Table"]
    assert len(tables) == 2 and tables[1].rows[0] == tables[0].rows[0]
    assert "December 31, 2022 | March 31, 2023" in tables[1].rows[0]
    assert tables[1].rows[2] == ("| Common stock ($0.01 par value; 100,000 shares authorized; 10,757 and 10,773 shares issued; "
                                 "10,242 and 10,258 shares outstanding) | 108 | 108 |")
    assert "| Retained earnings | 83,193 | 86,365 |" in tables[1].rows
    assert not any(b.kind != "Table" and "shares issued" in b.text for b in blocks_from_lines(lines, page=6))


def test_a_table_opening_a_page_without_a_header_goes_on_from_the_table_that_ended_the_page_before():
    first = [b for b in blocks_from_lines(BALANCE_SHEET, page=6) if b.kind == "Table"][-1]
    rows = ["Treasury stock, at cost (7,837) (7,837)", "Retained earnings 83,193 86,365"]
    going_on = next(b for b in blocks_from_lines(rows, page=7, continued=first.rows[:2]) if b.kind == "Table")
    assert going_on.rows[:2] == first.rows[:2] and going_on.rows[2] == "| Treasury stock, at cost | (7,837) | (7,837) |"
    # not after a title of its own, nor with another number of columns
    titled = blocks_from_lines(["Note 7 — Equity", *rows], page=7, continued=first.rows[:2])
    assert next(b for b in titled if b.kind == "Table").rows[0] != first.rows[0]
    wider = blocks_from_lines(["Treasury stock (7,837) (7,837) 1 2", "Retained earnings 83,193 86,365 3 4"], page=7, continued=first.rows[:2])
    assert next(b for b in wider if b.kind == "Table").rows[0] != first.rows[0]


def test_each_period_group_of_a_table_with_change_columns_is_headed():
    """Microsoft's summary table names one day per period group and the years after all groups
    ("Three Months Ended March 31, Percentage Change Nine Months Ended March 31, Percentage Change
    2023 2022 2023 2022"): its six columns had no headings, so the quarter's revenue could not be
    told from the year-ago or the nine months' figure."""
    lines = ["SUMMARY RESULTS OF OPERATIONS", "(In millions, except percentages and per share amounts)", "Three Months Ended",
             "March 31,", "Percentage Change", "Nine Months Ended", "March 31,", "Percentage Change", "2023 2022 2023 2022",
             "Revenue $ 52,857 $ 49,360 7% $ 155,726 $ 146,405 6%"]
    table = next(b for b in blocks_from_lines(lines, page=31) if b.kind == "Table")
    assert table.rows[0] == (
        "| SUMMARY RESULTS OF OPERATIONS (In millions, except percentages and per share amounts) | Three Months Ended March 31, 2023 "
        "| Three Months Ended March 31, 2022 | Three Months Ended change | Nine Months Ended March 31, 2023 "
        "| Nine Months Ended March 31, 2022 | Nine Months Ended change |")


def test_a_row_label_repeated_under_sub_headings_is_named_with_its_sub_heading():
    """Amazon's segment table repeats "Net sales" under "North America", "International" and "AWS":
    read alone (its chunk, an answer's label, a search for AWS net sales) the row could not say whose
    it is. A sub-heading ending in a colon introduces a list and names nothing; a label said once stays."""
    lines = ["Segment results (in millions):", "Three Months Ended", "September 30,", "2022 2023",
             "North America", "Net sales $ 78,843 $ 87,887", "Operating income (loss) $ (412) $ 4,307",
             "AWS", "Net sales $ 20,538 $ 23,059", "Operating income $ 6,403 $ 6,976",
             "Current assets:", "Cash and cash equivalents 1,000 2,000", "Net sales 5 6"]
    table = next(b for b in blocks_from_lines(lines, page=19) if b.kind == "Table")
    assert "| North America — Net sales | $ 78,843 | $ 87,887 |" in table.rows
    assert "| AWS — Net sales | $ 20,538 | $ 23,059 |" in table.rows
    assert "| Operating income | $ 6,403 | $ 6,976 |" in table.rows  # said once in the table
    assert "| Cash and cash equivalents | 1,000 | 2,000 |" in table.rows and "| Net sales | 5 | 6 |" in table.rows


def test_a_row_label_wrapped_over_two_lines_is_one_label_not_a_sub_heading():
    """"Reclassification adjustments for net realized gain included in net" / "income — 1": the line
    on its own is the first half of the next row's label (which goes on in lower case), not a
    sub-heading naming the rows below it ("… included in net — income", "… included in net — Net
    change in unrealized gain (loss)")."""
    lines = ["Other comprehensive income (in millions):", "Three Months Ended", "July 30,", "2023 2022",
             "Net change in realized gain (loss) (11) (12)", "Reclassification adjustments for net realized gain included in net",
             "income — 1", "Net change in unrealized gain (loss) 10 (15)", "Net change in realized gain (loss) 3 4"]
    table = next(b for b in blocks_from_lines(lines, page=19) if b.kind == "Table")
    assert "| Reclassification adjustments for net realized gain included in net income | — | 1 |" in table.rows
    assert "| Net change in realized gain (loss) | 3 | 4 |" in table.rows
    assert "| Net change in unrealized gain (loss) | 10 | (15) |" in table.rows and not any("in net —" in r for r in table.rows)


def test_pdf_lines_become_titles_tables_and_list_items():
    lines = [
        "Item 2. Management's Discussion and Analysis",
        "Net Sales",
        "The following table shows net sales by category for the three months ended June 25, 2022 and June 26, 2021",
        "(dollars in millions):",
        "Three Months Ended",
        "iPhone $ 40,665 $ 39,570 3 %",
        "Mac 7,382 8,235 (10)%",
        "Services 19,604 17,486 12 %",
        "• iPhone net sales increased due to higher net sales of the new models.",
        "Total net sales decreased during the quarter, driven primarily by lower net sales of Mac and iPad and",
        "partially offset by higher Services sales.",
    ]
    blocks = blocks_from_lines(lines, page=7)
    kinds = [b.kind for b in blocks]
    assert kinds[:2] == ["Title", "Title"] and blocks[0].depth == 1
    table = next(b for b in blocks if b.kind == "Table")
    assert table.rows[0].endswith("Three Months Ended |")  # caption lines above the rows form the header
    assert "| iPhone | $ 40,665 | $ 39,570 | 3 % |" in table.rows
    assert len(table.rows) == 5
    assert any(b.kind == "ListItem" and b.text.startswith("• iPhone") for b in blocks)
    assert blocks[-1].text.endswith("higher Services sales.")  # wrapped lines joined
    assert {b.page for b in blocks} == {7}


# ---- stored chunks are re-made when the code that makes them changes ------------------------------------------

SAMPLE_LINES = [
    "PART I — FINANCIAL INFORMATION",
    "Item 2. Management's Discussion and Analysis",
    "Net Sales",
    "The following table shows net sales by category for the three months ended June 25, 2022 and June 26, 2021",
    "(dollars in millions):",
    "Three Months Ended",
    "June 25, 2022 June 26, 2021 Change",
    "iPhone $ 40,665 $ 39,570 3 %",
    "Mac 7,382 8,235 (10)%",
    "Services 19,604 17,486 12 %",
    "Total net sales $ 82,959 $ 81,434 2 %",
    "• iPhone net sales increased due to higher net sales of the new models.",
    "Total net sales decreased during the quarter, driven primarily by lower net sales of Mac and iPad and",
    "partially offset by higher Services sales.",
    "Free cash flow, a non-GAAP financial measure, was as follows for the trailing twelve",
    "months ended September 30, 2022 and 2023 (in millions):",
    "Twelve Months Ended",
    "September 30,",
    "2022 2023",
    "Free cash flow $ (19,686) $ 21,434",
    "Three Months Ended",
    "March 31,",
    "Percentage Change",
    "Nine Months Ended",
    "March 31,",
    "Percentage Change",
    "2023 2022 2023 2022",
    "Revenue $ 52,857 $ 49,360 7% $ 155,726 $ 146,405 6%",
    "Segment results (in millions):",
    "Three Months Ended",
    "September 30,",
    "2022 2023",
    "North America",
    "Net sales $ 78,843 $ 87,887",
    "AWS",
    "Net sales $ 20,538 $ 23,059",
    "Reclassification adjustments for net realized gain included in net",
    "income — 1",
    "Liquidity and Capital Resources",
] + [sentence(i) for i in range(30)]
# The digest of the sample's blocks (ingest/layout.py) per PARSER_VERSION, and of its chunks per Chunker.VERSION.
LAYOUT_DIGESTS = {"13": "2c734210bf89143d"}  # 13: tables going on (the sample has none; tests below)
CHUNK_DIGESTS = {"1": "83a76cd521842cdd"}  # the sample grew with PARSER_VERSIONs 9 to 12; the chunker did not change


def _digest(items) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(items, default=str).encode()).hexdigest()[:16]


def test_a_layout_change_comes_with_a_parser_version():
    """Stored files are parsed again only when PARSER_VERSION changes: a change to the layout rules
    that keeps the version would leave every stored file's old chunks in place, silently."""
    from ingest.pipeline import PARSER_VERSION

    got = _digest([(b.kind, b.text, b.page, b.depth, b.rows) for b in blocks_from_lines(SAMPLE_LINES, page=3)])
    assert LAYOUT_DIGESTS.get(PARSER_VERSION) == got, (
        f"the layout of the sample changed ({got}): bump PARSER_VERSION in ingest/pipeline.py and pin the new digest here")


def test_a_chunking_change_comes_with_a_chunker_version():
    """The ingest fingerprint holds Chunker.VERSION: the same blocks must give the same chunks under one version."""
    blocks = blocks_from_lines(SAMPLE_LINES, page=3)
    drafts = Chunker(words, chunk_tokens=60, overlap=10).chunk(blocks, "2022 Q3 AAPL")
    got = _digest([(d.text, d.page, d.section, d.element_types, d.spans) for d in drafts])
    assert CHUNK_DIGESTS.get(Chunker.VERSION) == got, (
        f"the chunks of the sample changed ({got}): bump Chunker.VERSION in ingest/chunking.py and pin the new digest here")


def test_the_fingerprint_holds_the_chunkers_version_and_every_setting():
    one = Chunker(words, chunk_tokens=220, overlap=32).fingerprint
    assert one != Chunker(words, chunk_tokens=200, overlap=32).fingerprint != Chunker(words, chunk_tokens=200, overlap=16).fingerprint
    assert f"chunker {Chunker.VERSION}|" in one
