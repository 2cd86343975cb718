"""Question analysis: answer type, the topic without document words, named periods, parts."""

from __future__ import annotations

import re

import pytest

from retrieval.questions import answer_kind, asked_periods, asks_against_past, document_period, plan, related, topic_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "kind", "yes_no_first"),
    [
        ("What was the gross margin for Apple in the latest 10-Q report?", "number", False),
        ("How many days in advance must international travel be requested?", "number", False),
        ("When does the Lisbon office open?", "date", False),
        ("Who is the office manager of the London headquarters?", "name", False),
        ("Is premium economy allowed on long flights?", "yes_no", False),
        ("Did Apple report any share repurchase activities in its Q3 2023 10-Q, and if so, what was the scale of these buybacks?", "number", True),
        ("In the second quarter of 2023, what was the primary driver behind the change in Apple's net income?", "text", False),
        ("Summarize the risk factors to Apple's business.", "text", False),
    ],
)
def test_answer_type_from_the_wording(question, kind, yes_no_first):
    assert answer_kind(question) == (kind, yes_no_first)


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What was the gross margin for Apple in the latest 10-Q report?", "What was the gross margin?"),
        ("What did Microsoft report as its net cash from operating activities in the Q3 2022 10-Q?", "What did as its net cash from operating activities?"),
        # the opening preposition goes with the document it pointed at, whatever its case
        ("In Microsoft's latest 10-Q, how does revenue compare to cost?", "how does revenue compare to cost?"),
        ("In the latest quarter, what were the sales figures for the gaming segment?", "what were the sales figures for the gaming segment?"),
    ],
)
def test_the_topic_leaves_out_the_words_that_only_point_at_documents(question, topic):
    assert topic_of(question, {"appl", "microsoft", "q3", "2022"}) == topic


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What was Apple's AWS (Amazon Web Services) segment revenue?", "What was AWS segment revenue?"),
        ("What was the revenue of Data Center and AI (DCAI)?", "What was the revenue of Data Center and AI?"),
        ("How did research and development (R&D) spending change?", "How did research and development spending change?"),
        # a parenthesis that is not the acronym's spelling stays
        ("What do the notes to financial statements (continued) say?", "What do the notes to financial statements (continued) say?"),
        ("What was Intel (INTC) revenue?", "What was Intel (INTC) revenue?"),
    ],
)
def test_an_acronym_spelled_out_in_a_parenthesis_is_one_topic_word(question, topic):
    assert topic_of(question, {"appl"}) == topic


def test_periods_are_read_in_every_spelling():
    assert asked_periods("Intel's Q3 2022 10-Q and the second quarter of 2023") == {(2022, 3), (2023, 2)}
    assert document_period("2023 Q1 AAPL | Apple Inc.") == (2023, 1, 0)
    assert document_period("FORM 10-Q for the quarterly period ended July 1, 2023")[:2] == (2023, 3)


NAMES = {"a22": "2022 Q3 ACME", "a1": "2023 Q1 ACME", "a3": "2023 Q3 ACME", "a2": "2023 Q2 ACME"}


def analyse(question: str):
    return plan(question, named=lambda text: list(NAMES) if "Acme" in text else [], doc_name=NAMES.get,
                name_terms=lambda docs: {"acm"}, present=lambda word: word != "Globex")


def test_a_question_over_time_is_one_part_per_document_in_period_order():
    p = analyse("How has Acme's total revenue changed over time?")
    assert [part.label for part in p.parts] == ["2022 Q3 ACME", "2023 Q1 ACME", "2023 Q2 ACME", "2023 Q3 ACME"]
    assert "changed" not in p.topic and "time" not in p.topic


def test_latest_keeps_the_newest_document_and_a_named_period_its_own():
    assert analyse("What was Acme's revenue in the latest quarter?").parts[0].docs == ("a3",)
    assert analyse("What was Acme's revenue in Q1 2023?").parts[0].docs == ("a1",)
    looking_back = analyse("How does Acme's R&D expense in the most recent quarter compare to previous quarters?")
    assert [p.docs for p in looking_back.parts] == [("a22",), ("a1",), ("a2",), ("a3",)]


def test_a_period_no_document_covers_and_an_absent_subject_are_known_before_retrieval():
    assert analyse("What was Acme's revenue in the fourth quarter of 2023?").missing_period == "Q4 2023"
    assert analyse("What was Acme's revenue in the fourth quarter of fiscal year 2024?").missing_period == ""  # fiscal calendars differ
    assert analyse("What was Globex's revenue in 2023?").absent == ("Globex",)


def test_the_topic_is_weighed_by_its_subject_not_by_the_framing_of_the_question():
    from retrieval.focus import question_terms, question_words, topic_share

    assert question_words("How does R&D expenditure compare to previous quarters, and what implications might this have?") == [
        "research", "development", "expense"]
    assert question_words("Has there been significant stock buyback activity, and what scale did it take?") == [
        "stock", "repurchase"]
    weights = {t: 1.0 for t in question_terms("How much did the company allocate to R&D, and what were the key areas of focus?")}
    assert topic_share("Research and development expense was $7,442 million.", weights) == 1.0
    assert topic_share("Net sales of iPhone were $39,669 million.", weights) == 0.0


def test_a_quarter_label_is_supported_in_any_of_its_spellings_and_by_its_filings_name():
    from retrieval.checks import quarters, supported

    assert quarters("2023 Q3 AAPL.pdf; Q1 FY2024; the second quarter of fiscal 2023") == {(3, 2023), (1, 2024), (2, 2023)}
    assert supported("R&D expense in Q3 2023 was $7,442 million.", "2023 Q3 AAPL.pdf | Research and development | 7,442 |\n(In millions)",
                     "How does Apple's R&D compare?") == []
    assert supported("R&D expense in Q2 2023 was $7,442 million.", "2023 Q3 AAPL.pdf | Research and development | 7,442 |\n(In millions)",
                     "How does Apple's R&D compare?") == ["Q2 2023"]


def test_evidence_about_one_of_the_asks_is_relevant_to_the_question():
    from retrieval.focus import relevance, term_weights, topic_clauses

    assert topic_clauses("did the company announce any major business acquisitions or spin-offs?") == [
        "did the company announce any major business acquisitions", "spin-offs"]
    frequencies = {"announce": 40, "business": 900, "acquisitions": 60, "spin": 2, "offs": 3, "company": 1000}
    topic = "did the company announce any major business acquisitions or spin-offs?"
    df = lambda words: {w: frequencies.get(w, 1) for w in words}  # noqa: E731
    relevant = relevance(topic, term_weights(topic, df, 5000), df, 5000)
    assert relevant("In January 2022 we announced a definitive agreement to acquire Activision Blizzard.") >= 0.3
    assert relevant("Cash and cash equivalents were $13,931 million.") == 0.0


@pytest.mark.parametrize("question, share", [
    ("What percentage of Apple's total revenue did the Services segment contribute in Q3 2023?", True),
    ("For Q3 2023, what proportion of NVIDIA's revenue was generated by its data center business?", True),
    ("What was Data Center revenue as a share of total revenue?", True),
    ("What was the gross margin percentage?", False),
    ("What share repurchases did Apple make?", False),
])
def test_share_questions_are_told_apart_and_searched_for_their_subject(question, share):
    the_plan = plan(question)
    assert the_plan.share is share and the_plan.kind == "number"
    if share:
        assert not re.search(r"percentage|proportion|share of|contribute|generated|business", the_plan.topic, re.I)


def test_net_sales_is_found_as_revenue_and_an_amount_row_before_a_row_of_percentages():
    from retrieval.focus import best_row, question_terms, search_text

    weights = {t: 1.0 for t in question_terms("total net sales")}  # the topic of "How has NVIDIA's total net sales trended?"
    shares = "| | 3M to Oct 2023 | 3M to Oct 2022 |\n| Revenue | 100.0 % | 100.0 % |\n| Cost of revenue | 25.9 | 46.3 |"
    income = "| (In millions) | 3M to Oct 2023 | 3M to Oct 2022 |\n| Net income | $ 9,243 | $ 680 |\n| Revenue | $ 18,120 | $ 5,931 |"
    assert best_row(shares + "\n" + income, weights) == (1.0, "| Revenue | $ 18,120 | $ 5,931 |")
    assert best_row(shares, weights)[1] == "| Revenue | 100.0 % | 100.0 % |"  # still found when no amount row names it
    assert best_row("| Total net sales | 81,797 | 82,959 |", {t: 1.0 for t in question_terms("revenue")})[0] >= 1.0
    assert "revenue" in search_text("total net sales").split() and "sales" in search_text("total net sales").split()
    assert "net sales" in search_text("its revenue")  # and a filing that writes "net sales" is searched for it
    flows = "| CASH FLOWS STATEMENTS (In millions) | 3M to Sep 2022 | 3M to Sep 2021 |\n| Inventories | (543) | (777) |"
    balance = "| BALANCE SHEETS (In millions) | Sep 30, 2022 | Jun 30, 2022 |\n| Inventories | 3,742 | 3,742 |"
    inventories = {t: 1.0 for t in question_terms("inventory levels")}
    assert best_row(flows + "\n\n" + balance, inventories)[1] == "| Inventories | 3,742 | 3,742 |"
    assert best_row(flows, inventories)[1] == "| Inventories | (543) | (777) |"
    leases = "| (In millions) | 9M to Oct 2022 |\n| Operating cash flows used for operating leases | 134 |"
    statement = "| STATEMENTS OF CASH FLOWS (In millions) | 9M to Oct 2022 |\n| Net cash provided by operating activities | 3,393 |"
    operating = {t: 1.0 for t in question_terms("operating cash flow")}
    assert best_row(leases + "\n\n" + statement, operating) == (1.0, "| Net cash provided by operating activities | 3,393 |")


def test_the_rows_of_a_table_of_shares_are_percentages_and_yield_to_the_amounts():
    """Filings write the "%" of a table of shares on its first row only: "| Acquisition termination
    cost | — | 16.3 |" below "| Revenue | 100.0 % | 100.0 % |" is 16.3 % of revenue. It is shown as
    a percentage, and for the topic the row of the same label in a table of amounts comes first."""
    from retrieval.checks import with_scale
    from retrieval.focus import best_row, question_terms, share_table

    shares = ("[10-Q › Results of Operations]\n| | Three Months Ended April 30, 2023 | Three Months Ended May 1, 2022 |\n| --- | --- | --- |\n"
              "| Revenue | 100.0 % | 100.0 % |\n| Cost of revenue | 35.4 | 34.5 |\n| Acquisition termination cost | — | 16.3 |")
    amounts = ("[10-Q › Note 15 - Segment Information]\n| (In millions) | Three Months Ended April 30, 2023 | Three Months Ended May 1, 2022 |\n"
               "| --- | --- | --- |\n| Stock-based compensation expense | $ (735) | $ (578) |\n| Acquisition termination cost | — | (1,353) |")
    row = "| Acquisition termination cost | — | 16.3 |"
    assert share_table(shares, row) and not share_table(amounts, "| Acquisition termination cost | — | (1,353) |")
    assert with_scale("16.3", row, shares) == "16.3%"
    assert with_scale("1,353", "| Acquisition termination cost | — | (1,353) |", amounts) == "$1,353 million"
    # a negative cell copied with its currency sign outside the parentheses: the sign goes inside
    assert with_scale("$ (735)", "| Stock-based compensation expense | $ (735) | $ (578) |", amounts) == "($735 million)"
    weights = {t: 1.0 for t in question_terms("acquisition termination cost")}
    assert best_row(shares + "\n\n" + amounts, weights)[1] == "| Acquisition termination cost | — | (1,353) |"
    assert best_row(shares, weights)[1] == row  # still found when no table of amounts names it


@pytest.mark.parametrize("question,sides", [
    ("How did Apple's operating expenses for Q1 2023 compare to its revenue for the same quarter?", ("Apple's operating expenses", "its revenue")),
    ("In Q1 2023, how did Microsoft's operating expenses measure up against its revenue?", ("Microsoft's operating expenses", "its revenue")),
    ("How did Amazon's operational expenditures stack up against its earnings in Q1 2023?", ("Amazon's operational expenditures", "its earnings")),
    ("What effective tax rate did Apple report, and how does this compare to the statutory tax rate?",
     ("What effective tax rate did Apple", "the statutory tax rate")),
    ("How does Apple's R&D expenditure in the most recent quarter compare to previous quarters?", ()),
    ("How did net income compare to the same quarter last year?", ()),
    ("What was Apple's total net sales in Q3 2023?", ()),
])
def test_two_amounts_set_side_by_side_are_the_plans_compared_sides(question, sides):
    # (without an index no company name is known as a document's, so "Apple's" stays: its words weigh little)
    assert plan(question).compared == sides


def test_the_rows_of_two_amounts_compared_are_read_for_the_latest_period_and_the_total_row_first():
    from retrieval.focus import best_row, current_value, question_terms

    # Amazon puts the year-ago column first
    table = ("| (In millions) | Three Months Ended March 31, 2022 | Three Months Ended March 31, 2023 |\n| --- | --- | --- |\n"
             "| Net sales | 116,444 | 127,358 |\n| Total operating expenses | 112,775 | 122,584 |")
    row = best_row(table, {t: 1.0 for t in question_terms("operating expenses")})[1]
    assert current_value(table, row) == "122,584"
    apple = ("| | Three Months Ended December 31, 2022 | Three Months Ended December 25, 2021 |\n| --- | --- | --- |\n"
             "| Total net sales | 117,154 | 123,945 |")
    assert current_value(apple, apple.splitlines()[-1]) == "117,154"
    assert current_value("| Revenue | 5 | 6 |", "| Revenue | 5 | 6 |") == "5"  # no heading: the first figure
    segments = "| Americas: | |\n| Net sales | $ 49,278 | $ 51,700 |\n| Total net sales | $ 117,154 | $ 123,945 |"
    assert best_row(segments, {t: 1.0 for t in question_terms("its revenue")})[1] == "| Total net sales | $ 117,154 | $ 123,945 |"


@pytest.mark.parametrize("question", [
    "How did Apple's inventory levels in the Q3 2022 report reflect on their supply chain efficiency?",
    "What insights into inventory management could be gleaned from Intel's Q3 2022 inventory levels?",
    "What do the inventory levels in Microsoft's Q3 2022 report suggest about their product demand and supply management?",
    "How have NVIDIA's inventory levels for the Q3 2022 period adapted to market demands?",
])
def test_what_a_level_suggests_is_answered_with_the_level(question):
    the_plan = plan(question)
    assert the_plan.kind == "number" and the_plan.topic.lower() == "inventory levels"


def test_a_level_over_time_or_without_an_interpretation_keeps_its_plan():
    over_time = plan("How have Apple's inventory levels changed over these quarters, and what might this suggest?")
    assert over_time.topic != "inventory levels"  # looking back: one part per filing, planned as before
    assert plan("Why did inventory levels rise?").kind == "text"  # asks for causes, not what the level suggests


def test_a_figure_asked_for_before_and_what_else_is_asked_for_alone():
    """"How much …, and what was the focus?": the figure, read where it stands; the second clause
    seldom stands beside it. A question that opens with reasons, or asks yes/no first, is unchanged."""
    from retrieval.questions import figure_clause

    asked = "In the first quarter of 2023, how much did Widgetco spend on research and development, and what was the focus of this expenditure?"
    assert figure_clause(asked) == "how much did Widgetco spend on research and development?"
    assert answer_kind(asked) == ("number", False)
    assert plan(asked).topic == "how much did Widgetco spend on research and development?"
    for unchanged in ("What are the main drivers of revenue, and how did they change?",
                      "What effective tax rate did Widgetco report, and how does this compare to the statutory tax rate?",
                      "What specific legal proceedings or potential liabilities were disclosed, and what is their impact?",
                      "Did Widgetco repurchase shares in Q3 2023, and what was the magnitude?",
                      "How much did Widgetco spend on research and development?"):
        assert figure_clause(unchanged) == unchanged


@pytest.mark.parametrize("topic, label", [
    ("What was the revenue from cloud services, including Azure,?", "What was the revenue from cloud services ?"),
    ("What were costs, such as freight and fuel, in the quarter?", "What were costs in the quarter?"),
    ("What was gross margin?", "What was gross margin?"),
])
def test_a_row_label_is_the_topic_without_its_examples(topic, label):
    from retrieval.focus import row_topic

    assert row_topic(topic) == label


@pytest.mark.parametrize("sentence, value, change", [
    ("Server products and cloud services revenue increased $3.9 billion or 21%.", "$3.9 billion", True),
    ("Revenue grew by approximately 19% driven by Azure.", "19%", True),
    ("Revenue was $22.3 billion, which increased $3.9 billion.", "$22.3 billion", False),
    ("Total net sales were $81,797 million.", "$81,797 million", False),
])
def test_a_figure_stated_as_a_change_is_told_from_an_amount(sentence, value, change):
    from retrieval.focus import stated_as_change

    assert stated_as_change(sentence, value) is change


@pytest.mark.parametrize("text, intro", [
    ("[2022 Q3 AAPL › Operating Expenses]\nOperating Expenses\nOperating expenses for the three- and nine-month periods ended "
     "June 25, 2022 and June 26, 2021 were as follows (dollars in millions):", True),
    ("[2022 Q3 AAPL › Operating Expenses]\nOperating expenses were as follows:\n| (In millions) | 2022 |\n| --- | --- |\n| R&D | 6,797 |", False),
    ("[Policy › Travel]\nInternational travel must be requested at least 21 days in advance.", False),
    ("[Report › Revenue]\nRevenue grew to $5.2 billion, driven by:", False),
])
def test_a_passage_that_only_introduces_its_table_is_told_apart(text, intro):
    from retrieval.focus import table_intro

    assert table_intro(text) is intro


def _passage(text: str):
    from retrieval.schema import Chunk

    return Chunk(id=str(abs(hash(text))), text=text, source="f.pdf", doc_id="f.pdf")


@pytest.mark.parametrize("topic, label", [
    ("How does R&D expenditure compare to previous quarters?", "Technology and infrastructure"),
    ("What was research and development spending?", "Technology and infrastructure"),
    ("What were technology and infrastructure costs?", None),  # the item itself: its row names it
    ("What was the revenue?", None),
])
def test_a_line_item_defined_as_covering_the_topic_is_its_label(topic, label):
    from retrieval.focus import defined_label

    definition = _passage("[2023 Q3 Shopco › Technology and Infrastructure]\nTechnology and Infrastructure\nTechnology and infrastructure "
                          "costs include payroll and related expenses for employees involved in the research and development of new "
                          "and existing products and services. Infrastructure costs include servers.")
    assert defined_label(topic, [definition]) == label


def test_of_rows_that_name_the_topic_equally_the_larger_amount_comes_first():
    """The statement's line, not the same line in the stock-compensation note or a table of growth rates."""
    from retrieval.focus import best_rows

    heading = "| (in millions) | 3M to Sep 2022 | 3M to Sep 2023 |\n| --- | --- | --- |\n"
    growth = _passage(f"[f › Growth]\n{heading}| Technology and infrastructure | 35 | 9 |")
    stock = _passage(f"[f › Stock awards]\n{heading}| Technology and infrastructure | 3,036 | 3,284 |")
    statement = _passage(f"[f › Operations]\n{heading}| Technology and infrastructure | 19,485 | 21,203 |")
    found = best_rows("technology and infrastructure", [growth, stock, statement], lambda words: {w: 1 for w in words}, 1000, k=3)
    assert found == [statement, stock, growth]


def test_a_rows_latest_values_are_those_under_the_latest_date_quarter_and_year_to_date_alike():
    from retrieval.focus import current_value, latest_values

    text = ("| (in millions) | Three Months Ended September 30, 2022 | Three Months Ended September 30, 2023 | "
            "Nine Months Ended September 30, 2022 | Nine Months Ended September 30, 2023 |\n| --- | --- | --- | --- | --- |\n"
            "| Technology and infrastructure | 19,485 | 21,203 | 52,399 | 63,584 |")
    row = text.splitlines()[-1]
    assert latest_values(text, row) == ["21,203", "63,584"] and current_value(text, row) == "21,203"


def test_a_rows_value_under_a_caption_in_one_cell_is_its_last_cell_of_the_latest_date():
    """A caption in one cell over dated columns: the dated figures are the row's last cells, in the
    caption's order of dates; the first figure is another column (a maturity year). A heading that
    lines up with its rows is read as before."""
    from retrieval.focus import dated_value

    nvidia = ("| Carrying Value at Expected Remaining Term (years) Effective Interest Rate January 29, 2023 April 30, 2023 (In millions) |\n"
              "| --- |\n| 0.309% Notes Due | 2023 | 0.1 | 0.41% | $ 1,249 | $ 1,250 |")
    assert dated_value(nvidia, nvidia.splitlines()[-1]) == "$ 1,250"
    undated = "| Notes (In millions) |\n| --- |\n| 0.309% Notes Due | 2023 | 1,250 |"
    assert dated_value(undated, undated.splitlines()[-1]) == "2023"  # no dates to go by: the first figure, as current_value reads it
    aligned = "| (in millions) | Q3 2023 | Q3 2022 |\n| --- | --- | --- |\n| Revenue | 14,158 | 15,338 |"
    assert dated_value(aligned, aligned.splitlines()[-1]) == "14,158"


def test_a_rows_quarter_value_is_under_the_latest_quarters_own_column_beside_its_year_to_date():
    from retrieval.focus import quarter_value

    intel = ("| Provision for Taxes (In Millions) | Q3 2023 | Q3 2022 | YTD 2023 | YTD 2022 |\n| --- | --- | --- | --- | --- |\n"
             "| Effective tax rate | 696.2 % | 642.0 % | 51.4 % | (1.3)% |")
    assert quarter_value(intel, intel.splitlines()[-1]) == "696.2 %"
    amazon = ("| (in millions) | Three Months Ended September 30, 2022 | Three Months Ended September 30, 2023 | "
              "Nine Months Ended September 30, 2022 | Nine Months Ended September 30, 2023 |\n| --- | --- | --- | --- | --- |\n"
              "| Technology and infrastructure | 19,485 | 21,203 | 52,399 | 63,584 |")
    assert quarter_value(amazon, amazon.splitlines()[-1]) == "21,203"
    quarters_only = "| (in millions) | Q3 2023 | Q3 2022 |\n| --- | --- | --- |\n| Revenue | 14,158 | 15,338 |"
    to_date_only = "| (in millions) | Nine Months Ended Oct 1, 2023 | Nine Months Ended Oct 1, 2022 |\n| --- | --- | --- |\n| Cash | 6,847 | 7,730 |"
    assert quarter_value(quarters_only, quarters_only.splitlines()[-1]) is None
    assert quarter_value(to_date_only, to_date_only.splitlines()[-1]) is None


@pytest.mark.parametrize("question, change", [
    ("How has Apple's revenue from iPhone sales fluctuated across quarters?", True),
    ("Are there any substantial alterations in Microsoft's debt configuration?", True),
    ("How has Microsoft's revenue from Windows or Surface devices varied quarter to quarter?", True),
    ("How significant was the revenue from data-centric businesses relative to total revenue?", True),
    ("Which risks are newly emerging or increasing?", True),
    ("What was the revenue breakdown across Amazon's various service offerings?", False),
    ("What is the maximum number of hours worked in a day on a Variable Day schedule?", False),
    ("What was Apple's total net sales in Q2 2023?", False),
])
def test_one_rule_for_a_question_that_asks_for_a_change(question, change):
    """focus.ASKS_CHANGE is the one rule (checks.ASKS_SHARE adds the share words to it; the existence
    questions of retrieval/instances.py leave it to the figures): "various" and "Variable" ask for no change."""
    from retrieval.checks import ASKS_SHARE
    from retrieval.focus import ASKS_CHANGE

    assert bool(ASKS_CHANGE.search(question)) is change
    assert bool(ASKS_SHARE.search(question)) is change


@pytest.mark.parametrize("question,sides", [
    ("In Microsoft's Q3 2022 10-Q, how does the information on legal contingencies connect with financial reserves or provisions "
     "made by Microsoft for these liabilities?",
     ("the information on legal contingencies", "financial reserves or provisions made by Microsoft for these liabilities")),
    ("For Intel's Q1 2023 10-Q, what is the connection between R&D expenditures and the introduction of new chip technologies?",
     ("R&D expenditures", "the introduction of new chip technologies")),
    ("In Apple's Q2 2023 report, analyze the relationship between revenue from international markets and its segment on foreign "
     "currency risk to understand the company's exposure to currency fluctuations.",
     ("revenue from international markets", "its segment on foreign currency risk")),
    ("Examine how Intel's effective tax rate in the most recent 10-Q compares with the tax-related discussions in the notes section.",
     ("Intel's effective tax rate in the most recent 10-Q", "the tax-related discussions in the notes section")),
    ("For Intel's Q1 2023 10-Q, correlate the details of debt instruments in the financial statements with the management discussion "
     "on debt strategy.", ("the details of debt instruments in the financial statements", "the management discussion on debt strategy")),
    ("What relationship can be seen between Microsoft's R&D spending and the introduction of new software?",
     ("Microsoft's R&D spending", "the introduction of new software")),
    ("How does Apple's R&D expenditure in the most recent quarter compare to previous quarters?", ()),  # a time, not a second thing
    ("How did Apple's inventory levels in the Q3 2022 report reflect on their supply chain efficiency?", ()),
    ("What was Apple's total net sales in Q3 2023?", ()),
])
def test_two_things_read_together_are_the_questions_related_sides(question, sides):
    assert related(question) == sides


def test_each_side_of_a_relation_is_a_part_searched_for_what_it_is_not_where_it_is_discussed():
    the_plan = plan("In the most recent 10-Q, analyze how the reported tax rate in the financial statements section correlates "
                    "with the discussion on tax contingencies in the notes.")
    assert [(p.label, p.topic) for p in the_plan.parts] == [("Tax rate", "tax rate"), ("Tax contingencies", "tax contingencies")]
    assert the_plan.split and the_plan.kind == "text" and not the_plan.compared
    # "these liabilities" are the first side's: the second side is searched with it
    reserves = plan("How does the information on legal contingencies relate to the financial reserves set aside for these liabilities?")
    assert reserves.parts[1].topic.endswith("legal contingencies") and reserves.parts[0].label == "Legal contingencies"
    # two amounts side by side stay one search, each amount read from its row
    amounts = plan("How did Apple's operating expenses for Q1 2023 compare to its revenue for the same quarter?")
    assert not amounts.split and amounts.compared
    assert not plan("How does Apple's R&D expenditure in the most recent quarter compare to previous quarters?").split


@pytest.fixture
def words_index(tmp_path):
    from retrieval.lexical import LexicalIndex
    from retrieval.schema import Chunk

    lex = LexicalIndex(tmp_path / "lexical.sqlite")
    texts = {"all-staff": ["Leave requests follow the procedure in the HR portal; unpaid leave needs a manager's approval.",
                           "Data revenue of the business grew; send questions to the address on the intranet.",
                           "Employees receive 25 days of paid vacation."],
             "hr": ["Sabbatical requests are reviewed by the HR board."]}
    lex.upsert([Chunk(id=f"{g}{i}", text=t, source=f"{g}.md", doc_id=g, groups=(g,)) for g, ts in texts.items() for i, t in enumerate(ts)])
    return lex


def unknown(lex, question: str, groups=("all-staff",)) -> tuple[str, ...]:
    return plan(question, present=lambda word: bool(lex.search(word, 1, list(groups))),
                spelled_like=lambda word: lex.spelled_like(word, list(groups))).unknown


def test_a_topic_word_no_readable_passage_uses_is_known_before_retrieval(words_index):
    # a passage about requesting leave does not answer how to request a sabbatical
    assert unknown(words_index, "What is the procedure for requesting a sabbatical?") == ("sabbatical",)
    # readable passages only: the HR group's passage uses it, and then a typo of it is no unknown word
    assert unknown(words_index, "What is the procedure for requesting a sabbatical?", groups=("hr", "all-staff")) == ()
    assert unknown(words_index, "What is the procedure for requesting a sabatical?", groups=("hr", "all-staff")) == ()
    # a word that is not a typo of a word the passages use ("dress" is not "address")
    assert unknown(words_index, "What is the dress code of the business?") == ("dress", "code")


def test_words_that_ask_rather_than_name_and_answerable_asks_are_not_unknown(words_index):
    assert unknown(words_index, "Can you tell me how many days of paid vacation employees get?") == ()
    assert unknown(words_index, "Has anyone mentioned the revenue of the data-centric business?") == ()  # one word of the compound is used
    assert unknown(words_index, "What is the policy on sabbaticals or unpaid leave?") == ()  # the second ask can be answered


def test_a_tables_heading_row_is_not_one_of_its_rows():
    # the heading's digits are its columns' dates, not figures: "Cash flow information" is no cash flow
    from retrieval.focus import best_row, term_weights

    text = ("[2022 Q3 AMZN › Liquidity]\n| Cash flow information is as follows (in millions): | Three Months Ended September 30, 2021 | 2022 |\n"
            "| --- | --- | --- |\n| Net cash provided by (used in) operating activities | 11,325 | 11,422 |")
    weights = term_weights("cash flows information", lambda words: {w: 1 for w in words}, 100)
    assert best_row(text, weights)[1].startswith("| Net cash provided")


def test_a_row_is_named_by_its_label_and_by_its_columns_headings():
    # "the meals allowance in New York": the New York row, in a table whose column says "Meals and incidentals"
    from retrieval.focus import row_match, term_weights

    text = ("| City | Lodging cap per night | Meals and incidentals per day |\n| --- | --- | --- |\n"
            "| London | GBP 220 | GBP 75 |\n| New York | USD 325 | USD 92 |")
    weights = term_weights("meals and incidentals allowance in New York", lambda words: {w: 1 for w in words}, 100)
    assert row_match(text, weights) >= 0.5  # a passage whose row names the topic (composer: it leads the figure's passages)


@pytest.mark.parametrize(
    "topic",
    ["What were the key factors influencing net income?", "Please analyze net income, especially to understand it.",
     "Can any trends be identified in net income?"],
)
def test_words_that_frame_an_analysis_are_not_search_words(topic):
    from retrieval.focus import term_weights

    assert set(term_weights(topic, lambda words: {w: 1 for w in words}, 100)) == {"net", "incom"}


def test_a_row_without_figures_names_the_rows_below_it():
    # "| Net Sales: |" over "| AWS | 20,538 |": AWS's net sales; the AWS row under "| Operating income: |" is not
    from retrieval.focus import best_row, term_weights

    text = ("| (in millions) | Three Months Ended September 30, 2023 |\n| --- | --- |\n| Operating income: |\n| AWS | 6,976 |\n"
            "| Net Sales: |\n| AWS | 23,059 |\n| Consolidated | 143,083 |")
    weights = term_weights("AWS segment revenue", lambda words: {w: 1 for w in words}, 100)
    assert best_row(text, weights)[1] == "| AWS | 23,059 |"


SEGMENTS = ("[2023 Q3 Widgetco › Segment Information]\n| (In millions) | Three Months Ended October 29, 2023 |\n| --- | --- |\n"
            "| Revenue: |\n| Data Center | 14,514 |\n| Gaming | 2,856 |\n| Professional Visualization | 416 |")


def test_two_things_listed_are_two_rows_of_one_table():
    # "the sales figures for gaming and professional GPU segments": no row names the topic, two rows do together
    from retrieval.focus import best_rows, listed_items, term_weights

    topic = "sales figures for gaming and professional visualization segments"
    segments = _passage(SEGMENTS)
    prose = _passage("[2023 Q3 Widgetco › Gaming]\nGaming revenue was up 81% from a year ago.")
    df = lambda words: {w: 1 for w in words}  # noqa: E731
    assert best_rows(topic, [prose, segments], df, 100, k=1) == [segments]
    assert listed_items(topic, [SEGMENTS], term_weights(topic, df, 100)) == ["sales figures for gaming", "professional visualization segments"]
    # one thing: a row or a column heading names both sides ("Meals and incidentals"); a second question
    meals = "| City | Meals and incidentals per day |\n| --- | --- |\n| New York | USD 92 |"
    assert listed_items("meals and incidentals allowance", [meals], term_weights("meals and incidentals allowance", df, 100)) == []
    assert listed_items("tax rate and how does it differ", [SEGMENTS], term_weights("tax rate differ", df, 100)) == []
    # each thing needs a row of its own: a figure of the one is no answer about the other
    cloud = "| (In millions) | 2023 |\n| --- | --- |\n| Server products and cloud services | 19,594 |"
    asked = "cloud services and license support revenue"
    assert listed_items(asked, [cloud], term_weights(asked, df, 100)) == []


CATALOGUE = ("| Item code | Item | Model | Unit price (USD) | Refresh cycle (years) |\n| --- | --- | --- | --- | --- |\n"
             "| NW-LT-01 | Standard laptop | Dell Latitude 7450 | 1350 | 4 |\n| NW-MN-01 | Monitor | Dell UltraSharp U2724D 27-inch | 389 | 5 |")


def test_a_row_that_opens_with_an_item_code_is_named_by_the_text_after_it_and_read_in_the_column_its_heading_names():
    """A catalogue's row label is a code ("NW-LT-01"); what it names is in the cells after it. The
    figure asked for is under the column whose heading names it ("Refresh cycle (years)"), not the
    row's first figure; "(years)" is a unit, not a period column."""
    from retrieval.focus import best_row, current_value, is_figure, named_column, question_terms, row_label, table_cells

    weights = {t: 1.0 for t in question_terms("How often are standard laptops refreshed?")}
    score, row = best_row(CATALOGUE, weights)
    assert row.startswith("| NW-LT-01 |") and score >= 0.5
    assert row_label(table_cells(row)) == "NW-LT-01 Standard laptop Dell Latitude 7450"
    assert named_column(CATALOGUE, row, weights) == "4"
    assert current_value(CATALOGUE, row) == "1350"  # no column named: the row's first figure (a model name is none)
    assert named_column(CATALOGUE, row, {t: 1.0 for t in question_terms("standard laptop")}) is None  # no column named
    periods = "| | Three Months Ended July 1, 2023 | Nine Months Ended July 1, 2023 |\n| --- | --- | --- |\n| Net sales | 81,797 | 293,787 |"
    assert named_column(periods, "| Net sales | 81,797 | 293,787 |", {t: 1.0 for t in question_terms("net sales nine months")}) is None
    assert row_label(["Net sales", "81,797"]) == "Net sales"
    assert [is_figure(c) for c in ("$ (5,772)", "34.9 %", "1,806¹", "—", "Dell Latitude 7450", "n/a")] == [True] * 3 + [False] * 3


@pytest.mark.parametrize("question, expected", [
    ("What was the effective tax rate for Microsoft as reported in the latest 10-Q, and how does it align with previous tax rates?", True),
    ("What effective tax rate was reported by NVIDIA in the latest quarter, and how does it relate to the company's historical tax rates?", True),
    ("What was the effective tax rate for Intel, and how does this compare to previous quarters?", True),
    ("What was the effective tax rate for Microsoft in the latest 10-Q?", False),
    ("How did the tax rate change over the quarters?", False),
])
def test_a_figure_set_against_its_own_past_is_recognised(question, expected):
    assert asks_against_past(question) is expected



@pytest.mark.parametrize("question, named", [
    ("What is the impact of foreign exchange rates on Apple's financial performance?", "foreign currencies"),
    ("How did foreign exchange rates specifically affect Apple's financial performance in the most recent 10-Q?", "currency"),
    ("How did exchange rate changes impact NVIDIA's financials?", "foreign exchange"),
    ("What effects did currency fluctuations have on Intel's financial statements?", "exchange rates"),
    ("What role have foreign exchange rates played in NVIDIA's financial outcomes?", "foreign currency"),
    ("How did inflation affect Widgetco's margins?", "inflation"),
    ("What legal proceedings are disclosed, and how might they potentially impact Apple?", None),
    ("What is the operating margin reported by Apple?", None),
    ("How does R&D spending compare to previous quarters, and what could be the potential impacts?", None),
])
def test_an_effect_question_names_its_cause_in_every_spelling_a_filing_uses(question, named):
    from retrieval.statements import asked

    wanted = asked(question, question)
    assert (wanted.kind == "effect" and named in wanted.spellings) if named else (wanted is None or wanted.kind != "effect")


def test_a_sentence_states_an_effect_only_when_it_says_what_the_cause_did():
    """A figure ranks a statement first; a supposition, a hedge, a definition, a pointer or a table
    flattened into a line is not a statement of what the cause did."""
    from retrieval.statements import STATED, asked

    wanted = asked("How did foreign exchange rates affect Widgetco's results?", "")
    stated = ("Weakness in foreign currencies relative to the U.S. dollar had an unfavorable impact on total net sales, "
              "which decreased 1% or $1.2 billion during the quarter.")
    said = "Gross margin decreased due primarily to the weakness in foreign currencies relative to the U.S. dollar."
    assert wanted.score(stated) == STATED and wanted.score(said) == 1.0
    for not_stated in (
        "A 10% decrease in foreign exchange rates would reduce revenue by $8.2 billion.",
        "We enter into foreign currency forward contracts to mitigate the impact of foreign currency movements on expenses.",
        "Other, net, consists of gains and losses on investments and the impact of changes in foreign currency rates.",
        "For a discussion of the effect of foreign exchange rates on sales growth, see the section below.",
        "Foreign currency – Revenue 10% decrease in foreign exchange rates $ (8,240) Earnings Foreign currency – Investments "
        "10% decrease in foreign exchange rates (29) Fair Value Interest rate 100 basis point increase in U.S. treasury rates "
        "(1,660) Fair Value Credit 100 basis point increase in credit spreads (340) Fair Value Equity decrease (862) Earnings",
    ):
        assert wanted.score(not_stated) == 0.0, not_stated
    passage = f"[2023 Q3 Widgetco › Quarterly Highlights]\nQuarterly Highlights\n{stated} The Company announced three new widgets."
    assert wanted.excerpt(passage) == f"[2023 Q3 Widgetco › Quarterly Highlights]\n{stated}"
    assert [s for _, s in wanted.sentences(passage)] == [stated]
    assert wanted.excerpt("[2023 Q3 Widgetco › Hedging]\nThe Company may hedge foreign currency exposures.") is None


def test_what_the_company_did_is_stated_with_a_figure_of_its_latest_year_and_refuted_by_a_none():
    """"Did Widgetco report any share repurchase activities …, and what was the scale of these buybacks?":
    the company saying it repurchased, with a figure, in the passage's latest year; last year's
    repurchases are not this year's, and "there were no repurchases" this year refutes it."""
    from retrieval.focus import question_words
    from retrieval.statements import STATED, asked

    question = "Did Widgetco report any share repurchase activities in its Q3 2023 10-Q, and what was the scale of these buybacks?"
    wanted = asked(" ".join(question_words(question, framing=True)), question)
    assert wanted.kind == "action" and wanted.verdict == "yes"
    done = "[2023 Q3 Widgetco › Highlights]\nThe Company repurchased $18.0 billion of its common stock during the third quarter of 2023."
    assert wanted.score(done) >= STATED and wanted.done([done]) == {"repurchas"}
    assert not wanted.refuted(done, {"repurchas"})
    assert not wanted.refuted("[x]\nYes ☐ No ☒ 15,634,232,000 shares of common stock were issued and outstanding as of July 21, 2023.",
                              {"repurchas"})
    assert wanted.score("[x]\nThe Company repurchased shares of its common stock during the third quarter of 2023.") == 0.0
    last_year = ("[2023 Q3 Widgetco › Equity]\nWe repurchased 46.2 million shares of our common stock for $6.0 billion during the "
                 "nine months ended September 30, 2022. There were no repurchases of our common stock during the nine months "
                 "ended September 30, 2023.")
    assert wanted.score(last_year) == 0.0 and wanted.refuted(last_year, wanted.done([last_year]))
    assert asked("what was the scale of the buybacks?", "What was the scale of Widgetco's buybacks?") is None


def test_that_nothing_changed_is_stated_only_without_an_exception_and_about_what_was_asked():
    """"There have been no material changes to …" answers whether the thing asked about changed when
    its passage names that thing and the sentence some of it; not with an exception ("Other than …")."""
    from retrieval.focus import question_words
    from retrieval.statements import STATED, asked

    question = "Are there any significant changes or new disclosures in Widgetco's accounting policies as reported in these 10-Qs?"
    wanted = asked(" ".join(question_words(question)), question)
    assert wanted.kind == "unchanged" and wanted.verdict == "no" and wanted.words == ("widgetco", "accounting", "policies")
    wanted = asked("accounting policies", question)
    passage = ("[2023 Q3 Widgetco › Basis]\nThe significant accounting policies are those of the 2022 Form 10-K. There have been no "
               "material changes to the Company's critical accounting estimates since the 2022 Form 10-K.")
    assert wanted.score(passage) == STATED
    assert wanted.score("[x]\nThere have been no material changes to the Company's critical accounting estimates.") == 0.0
    assert wanted.score("[x]\nThere have been no material changes to the Company's market risk.") == 0.0
    assert wanted.score("[x]\nOther than the accounting policies listed below, there have been no material changes to our "
                        "accounting policies.") == 0.0


@pytest.mark.parametrize("question, polar", [
    ("Are there any significant alterations in Widgetco's debt structure or interest costs over these quarters?", True),
    ("What changes in debt and interest obligations did Widgetco disclose in the Q1 2023 10-Q?", False),
    ("For Widgetco's Q1 2023 10-Q, correlate the details of debt instruments in the financial statements with the "
     "management discussion on debt strategy.", False),
])
def test_a_question_on_changes_in_debt_reads_the_filings_note_on_it(question, polar):
    from retrieval.focus import question_words
    from retrieval.statements import asked

    wanted = asked(" ".join(question_words(question)), question)
    assert wanted.kind == "noted" and wanted.polar == polar and "borrowings" in wanted.spellings
    assert asked("total debt", "What was Widgetco's total debt as of March 31, 2023?") is None


@pytest.mark.parametrize("question, spelling", [
    ("What effective tax rate was reported by Widgetco in the latest quarter, and how does it relate to its historical tax "
     "rates?", "income taxes"),
    ("How have Widgetco's inventory levels changed across these quarters?", "inventories"),
])
def test_a_question_on_a_tax_rate_or_inventory_levels_reads_the_filings_note_on_it(question, spelling):
    """NVIDIA's note on income taxes states its rate as "Income tax as a percentage of income before income
    tax was an expense of 12.2% …"; Amazon's on inventories, "The inventory valuation allowance … was $2.8
    billion". A table's row read as a heading ("Inventories $ 941") is no note, and a risk factor without
    a figure ("We Face Significant Inventory Risk") is no table."""
    from retrieval.focus import question_words
    from retrieval.statements import asked

    wanted = asked(" ".join(question_words(question)), question)
    assert wanted.kind == "noted" and spelling in wanted.spellings
    assert wanted.note("[2023 Q3 Widgetco › Note 6 – Income Taxes]\nIncome tax was an expense of $1.28 billion.") or spelling != "income taxes"
    assert wanted.note("[2022 Q3 Widgetco › Inventories $ 941]\nThe agreement includes incentives of $500 million.") is None
    assert not wanted.tabled("[2023 Q3 Widgetco › We Face Significant Inventory Risk]\nWe are exposed to inventory risk.")


def test_a_note_states_its_figures_in_its_own_sentences_and_not_in_another_notes():
    """A passage of the note on debt ("Note 9 : Borrowings", "Commercial Paper") states the sentences of its
    prose that give a figure, in order; a note on what the company holds ("Unrealized Losses on Debt
    Investments") states nothing, nor a supposition; a note on more than was asked ("Interest Income and
    Expense") only its sentences naming it."""
    from retrieval.statements import STATED, asked

    question = "What changes in debt and interest expense did Widgetco disclose?"
    wanted = asked("changes in debt and interest expense", question)
    issued = "In the first quarter of 2023, we issued a total of $11.0 billion aggregate principal amount of senior notes."
    note = (f"[2023 Q1 Widgetco › Note 9 : Borrowings]\nNote 9 : Borrowings\n{issued} The notes may be redeemed at our option. "
            "If rates rose 1%, interest would increase $40 million.")
    assert wanted.sentences(note) == ((STATED, issued),) and wanted.note(note) == "Note 9 : Borrowings"
    assert wanted.sentences("[2023 Q1 Widgetco › Commercial Paper]\nAs of December 31, 2022, the Company had $1.7 billion of "
                            "Commercial Paper outstanding.")
    assert not wanted.sentences("[2023 Q1 Widgetco › Unrealized Losses on Debt Investments]\nUnrealized losses on debt "
                                "investments were $2.1 billion.")
    interest = ("[2023 Q1 Widgetco › Interest Income and Expense]\nOur interest income was $108 million and $611 million during "
                "Q1 2022 and Q1 2023. Interest expense was $472 million and $823 million during Q1 2022 and Q1 2023.")
    assert [s for _, s in wanted.sentences(interest)] == ["Interest expense was $472 million and $823 million during Q1 2022 and Q1 2023."]
    assert wanted.tabled("[2023 Q1 Widgetco › Long-Term Debt]\n| 1.55% Notes Due 2028 | 1,250 |") and not wanted.tabled(note)
    assert wanted.changed([[issued]]) and not wanted.changed([["We had $62.5 billion of notes."], ["We had $62.5 billion of notes."]])
    assert wanted.changed([["We had $62.5 billion of notes."], ["We had $68.5 billion of notes."]])


def test_a_note_on_legal_proceedings_states_them_in_words():
    """Who sued whom, in which court, is what a note on legal proceedings states, with or without a figure;
    what could happen is not, nor are risk factors."""
    from retrieval.focus import question_words
    from retrieval.statements import STATED, asked

    question = "What legal proceedings or contingencies are disclosed in these 10-Qs and how might they potentially impact Widgetco?"
    wanted = asked(" ".join(question_words(question)), question)
    assert wanted.kind == "noted" and "litigation" in wanted.spellings
    filed = ("Beginning in March 2020 with Frame-Wilson v. Widgetco, Inc., filed in the United States District Court for the "
             "Western District of Washington, a number of cases have been filed alleging price fixing.")
    note = (f"[2023 Q3 Widgetco › Legal Proceedings]\nLegal Proceedings\n{filed} The outcome of these matters could be material "
            "to our results.")
    assert wanted.sentences(note) == ((STATED, filed),)
    assert not wanted.sentences(f"[2023 Q3 Widgetco › Legal, Regulatory, and Litigation Risks]\n{filed}")
    assert not wanted.sentences("[2023 Q2 Widgetco › Contingencies]\nCommon stock and capital in excess of par value, 4,188 issued "
                                "and outstanding (4,137 issued and outstanding as of December.")
