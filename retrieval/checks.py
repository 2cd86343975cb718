"""The checks of Lore's answers: every figure, date and name an answer states must occur in the
passage it cites, quotes must be found in their documents, evidence must speak to the question,
values are labelled from their table row and column and given their table's unit; the same rules
sentence by sentence for free-text answers; and the answer text written from what passed, with
its citation markers. Numbers, dates and names are normalised by retrieval/facts.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.facts import amount_in, date_in, dates, name_in, names, quantities, table_scale
from retrieval.focus import (ASKS_CHANGE, COMPACT_PERIOD, FIGURE, SEPARATOR, SHARE_ROW, YEAR, cell_figure, first_figures, named_heading, question_terms, row_holding,
                             row_label, share_table, spelled_out, table_cells)
from retrieval.questions import answer_kind, asked_fiscal_quarters
from retrieval.schema import ScoredChunk
from retrieval.structured import POINT_CHARS, Draft, Fact, Point
from retrieval.text import MARKER, content_words, looks_like_refusal, sentences

MIN_RELEVANCE = 0.3  # share of the topic's (rarity-weighted) words the evidence must speak to
QUOTE_HELD = 0.8  # share of a quote's words a passage must have to hold it
COUNT_QUESTION = re.compile(r"^\s*(?:\w+\s+){0,6}?how many\b(?!\s+(?:dollars|euros|pounds))", re.I)
# A value that is no figure of its own: a bare year where no year or date was asked ("2022." as the
# answer to "How have inventory levels changed?"), or the tail of a figure the model cut (".1 million").
BARE_YEAR = re.compile(r"^\s*(?:19|20)\d\d\s*\.?\s*$")
ASKS_WHEN = re.compile(r"\b(?:when|years?|dates?|dated)\b", re.I)
TABLE_CELLS = 3  # a point with this many cell separators is a table's lines copied, not a sentence
CUT_FIGURE = re.compile(r"^\s*[-(]?\s*(?:[$€£]\s*)?\.\d")


# ---- a typed answer's form ------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[.,][0-9]+)*", text.lower())


def verbatim(text: str, passage: str) -> bool:
    """Does the passage contain the text word for word (spacing, case and table pipes aside)?"""
    return " ".join(_words(text)) in " ".join(_words(passage))


def quote_support(quote: str, passage: str) -> float:
    """How much of a quote the passage holds: 1.0 when it contains it (`verbatim`), else the share
    of the quote's words found in the passage."""
    words = _words(quote)
    if not words:
        return 0.0
    if verbatim(quote, passage):
        return 1.0
    vocabulary = set(_words(passage))
    return sum(w in vocabulary for w in words) / len(words)


def supported(text: str, passage: str, question: str = "") -> list[str]:
    """The amounts, dates and proper names in `text` that `passage` does not contain (names the
    question itself uses are allowed: restating the subject is not a claim)."""
    missing = [q.text for q in quantities(text) if not amount_in(q, passage)]
    missing += [d.text for d in dates(text) if not date_in(d, passage)]
    missing += [n for n in names(text) if not name_in(n, passage) and not name_in(n, question) and not _name_parts_in(n, passage)
                and not _quarter_in(n, passage)]
    return missing


_ORDINAL_QUARTER = {"first": 1, "second": 2, "third": 3, "fourth": 4}
QUARTER_LABEL = re.compile(r"^Q([1-4])\s*(?:FY\s*)?(\d{4})$", re.I)
QUARTERS = re.compile(
    r"\bQ([1-4])\s*(?:FY\s*)?(\d{4})\b|\b(\d{4})\s*Q([1-4])\b"
    r"|\b(first|second|third|fourth) (?:fiscal )?quarter (?:of )?(?:fiscal (?:year )?)?(\d{4})\b",
    re.I,
)


def quarters(text: str) -> set[tuple[int, int]]:
    """The (quarter, year) labels written in `text`: "Q3 2023", "2023 Q3" (a filing's name), "third quarter of fiscal 2023"."""
    found: set[tuple[int, int]] = set()
    for m in QUARTERS.finditer(text):
        if m.group(1):
            found.add((int(m.group(1)), int(m.group(2))))
        elif m.group(3):
            found.add((int(m.group(4)), int(m.group(3))))
        else:
            found.add((_ORDINAL_QUARTER[m.group(5).lower()], int(m.group(6))))
    return found


def _quarter_in(name: str, passage: str) -> bool:
    """A quarter label ("Q3 2023") the passage writes in any of its forms, its filing's name included."""
    m = QUARTER_LABEL.match(name.strip())
    return bool(m) and (int(m.group(1)), int(m.group(2))) in quarters(passage)


def _name_parts_in(name: str, passage: str) -> bool:
    """A multi-word name whose words all occur in the passage ("Apple TV 4K" split across a table row)."""
    words = [w for w in re.findall(r"\w+", name) if len(w) > 2]
    return len(words) > 1 and all(name_in(w, passage) for w in words)


@dataclass
class Checked:
    """What survives the checks, per prompt document, and why the rest did not."""

    facts: list[Fact] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    verdict: str | None = None
    unbacked: str | None = None  # the form's yes/no, dropped because none of its own evidence held
    dropped: list[str] = field(default_factory=list)  # one reason per dropped value or point
    repaired: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.facts and not self.points and self.verdict not in ("yes", "no")


def passage_text(scored: ScoredChunk) -> str:
    chunk = scored.chunk
    return f"{chunk.source} {chunk.section}\n{chunk.text}"


# "… cash flow … is [2]." — a marker standing where the value belongs (after a verb or a colon).
VALUE_MARKER = re.compile(r"(?:\b(?:is|was|were|are|be|been|of|at|to|totaled|totalled|amounted to)|:)\s*\[\s*\d{1,3}\s*\]\s*[.;,]?\s*$", re.I)


def empty_value(value: str) -> bool:
    """A value that says nothing: a citation marker where the figure belongs ("[2]"), "N/A", or
    no letter or digit at all."""
    bare = MARKER.sub("", value).strip(" .,:;-")
    return not bare or not re.search(r"\w", bare) or looks_like_refusal(bare, 0)


# Braces, brackets or quotes the form wrapped a value in (a figure's parentheses are its sign: kept).
# what a form wraps a value in: braces, brackets, quotes, and the ">" of the document tags it copied
WRAPPED = re.compile(r"^(?:[{\[\"'`]|>(?!\s*=))+\s*(?=\S)|(?<=\S)\s*[}\]\"'`]+$")
VERDICT_WORDS = frozenset({"yes", "no", "true", "false", "not stated"})
# a point with no figure or date and at most this many words the question lacks (and at most this share
# of its words) only restates it; "The department head approves travel" has words of its own
ECHO_WORDS, ECHO_SHARE = 2, 0.2
# a sentence of a point with at least this many words the question lacks, less than WORDS_HELD of them
# in the passage it cites, is the model's own ("… were the company's financial performance and the market
# conditions" over an income statement): left out, as a cited sentence must be the passage's to say
OWN_WORDS, WORDS_HELD = 3, 0.5


def check(draft: Draft, contexts: Sequence[ScoredChunk], question: str, relevant: Callable[[str], float] | None = None,
          min_relevance: float = MIN_RELEVANCE, shown: Sequence[str] = ()) -> Checked:
    """`relevant(text)`: how much of the question's topic a piece of evidence speaks to (0..1,
    retrieval/focus.py); evidence below `min_relevance` answers another question and is dropped.
    `shown`: the excerpts the prompt showed (a quote may copy their compact table headings)."""
    passages = [passage_text(c) + (f"\n{shown[i]}" if i < len(shown) else "") for i, c in enumerate(contexts)]
    out = Checked(verdict=draft.verdict if draft.verdict in ("yes", "no") else None)
    seen: set[tuple[int, str]] = set()
    counting = bool(COUNT_QUESTION.search(question))
    polar = answer_kind(question)[0] == "yes_no"  # its facts are evidence: a heading names a subject, it shows nothing
    points, cells = [], []
    for point in draft.points:
        if (read := table_facts(point, passages)) is not None:
            out.repaired.append(f"point {point.text[:40]!r}: its figures are table cells, shown with their row and column")
            cells += read
        else:
            points.append(point)
    for fact in (piece for fact in [*draft.facts, *cells] for piece in _one_figure_each(fact)):
        if empty_value(fact.value):
            out.dropped.append(f"{fact.value!r}: not a value")
            continue
        if polar and 1 <= fact.doc <= len(contexts) and heading_line(fact.value, contexts[fact.doc - 1].chunk.text):
            # "Yes. … Volume of Derivative Activity." — a heading of the passage names what it is about, it shows nothing
            out.dropped.append(f"{fact.value!r}: a heading of document {fact.doc}, not evidence")
            continue
        if PASSAGE_TAG.search(fact.quote) or PASSAGE_TAG.search(fact.value):  # across the passage's label, as a point can be (own_text)
            passage = contexts[fact.doc - 1].chunk.text if 1 <= fact.doc <= len(contexts) else ""
            quote, value = (own_text(t, passage) if PASSAGE_TAG.search(t) else t for t in (fact.quote, fact.value))
            fact = Fact(fact.doc, quote, value, fact.about)
            out.repaired.append(f"{fact.value[:40]!r}: the passage's label and the headings before it left out")
        if (bare := WRAPPED.sub("", fact.value.strip())) != fact.value.strip():  # "{98,024}": the form's braces, not the value's
            fact = Fact(fact.doc, fact.quote, bare, fact.about)
        if COMPACT_PERIOD.fullmatch(fact.value.strip(" .")) and fact.value.strip(" .") not in question:
            out.dropped.append(f"{fact.value!r}: a column of the prompt's table, not a value")  # "3M to Sep 2021"
            continue
        if (BARE_YEAR.match(fact.value) and not ASKS_WHEN.search(question)) or CUT_FIGURE.match(fact.value):
            out.dropped.append(f"{fact.value!r}: not a figure of its own (a year or a cut-off number)")
            continue
        if counting and any(q.currency for q in quantities(fact.value)):
            out.dropped.append(f"{fact.value!r}: an amount of money where a count was asked")
            continue
        if counting and (found := quantities(fact.value)) and all(q.percent for q in found):
            out.dropped.append(f"{fact.value!r}: a percentage where a count was asked")
            continue
        if (verdict := fact.value.strip().lower().rstrip(".") in VERDICT_WORDS) or echoes(fact.value, question):
            # a yes/no "value", or the question's own words ("debt structure or interest expenses"), shows
            # nothing: the quote is the evidence (it must be the document's own sentence)
            if not _prose(fact.quote):
                what = "a verdict" if verdict else "the question's words"
                out.dropped.append(f"{fact.value!r}: {what} without the sentence that shows it")
                continue
            # shown whole, not where the form's length limit cut it ("… for $3.6 billion and $4.6")
            held = next((i for i in ([fact.doc - 1] if 1 <= fact.doc <= len(passages) else []) + list(range(len(passages)))
                         if quote_support(fact.quote, passages[i]) >= QUOTE_HELD), None)
            if held is None and not verdict:
                out.dropped.append(f"{fact.value!r}: the question's words, and its quote is in no document")
                continue
            quote = own_text(whole_sentence(fact.quote, passages[held]), contexts[held].chunk.text) if held is not None else fact.quote
            fact = Fact(fact.doc, quote, quote, fact.about)
        if (quoted := from_quote(bare_figure(fact.value), fact.quote)) != fact.value:
            out.repaired.append(f"{fact.value!r} → {quoted!r} (as its quote writes it)")
            fact = Fact(fact.doc, fact.quote, quoted, fact.about)
        doc = _source_of(fact.quote, fact.value, fact.doc, passages)
        if doc is None:
            out.dropped.append(f"{fact.value!r}: its quote is in no document")
            continue
        passage = passages[doc - 1]
        if doc != fact.doc:
            out.repaired.append(f"{fact.value!r}: cited document {fact.doc} → {doc}")
        value = as_written(fact.value, passage)
        if value != fact.value:
            out.repaired.append(f"{fact.value!r} → {value!r} (as the document writes it)")
        if len(value) > 60 and quote_support(value, passage) >= QUOTE_HELD:  # a sentence given as the value, cut where the form's limit fell
            value = whole_sentence(value, passage)
        if missing := supported(value, passage, question):
            scaled = scaled_in_passage(value, passage)
            missing = supported(scaled, passage, question) if scaled != value else missing
            value = scaled
            if missing:
                out.dropped.append(f"{fact.value!r}: {', '.join(missing)} not in document {doc}")
                continue
            out.repaired.append(f"{fact.value!r} → {value!r} (as the document writes it)")
        if (amount := amount_for_percentage(value, fact.quote, passage, question)) is not None:
            out.repaired.append(f"{value!r} → {amount!r} (the amount its row holds: no percentage was asked)")
            value = amount
        if (named := value_of_named_row(value, fact.quote, passage)) is not None:
            out.repaired.append(f"{value!r} → {named!r} (the row its quote names)")
            value = named
        if (months := asked_months(question)) and (moved := column_for_period(value, fact.quote, passage, months)):
            out.repaired.append(f"{value!r} → {moved!r} (the column of the period asked)")
            value = moved
        if (moved := column_for_year(value, fact.quote, passage, question)) is not None and not any(
            cell_figure(moved) in f.value for f in draft.facts
        ):  # (the form gave the asked year's figure too: this one is the comparison, and stays)
            out.repaired.append(f"{value!r} → {moved!r} (the column of the year asked)")
            value = moved
        elif (nil := nil_in_year(value, fact.quote, passage, question)) is not None:
            # the asked year's cell is the table's nil: that is the answer, and a "yes" was wrong
            out.repaired.append(f"{value!r} → none ({nil!r} is —)")
            if (doc, nil) not in seen:
                seen.add((doc, nil))
                out.facts.append(Fact(doc, _line_of(fact.quote or value, passage), NIL_VALUE, nil))
            continue
        about = table_label(value, fact.quote, passage)  # what the value is, from the table itself
        if not about and fact.about and not supported(fact.about, passage, question):
            about = fact.about
        if not about and doc != fact.doc and quote_support(fact.quote, passage) < QUOTE_HELD:
            # the figure stands only in a passage its quote is not from, in no row that names it
            # (a table line cut in the excerpt, "| assets, and other 10,327 12,131 …"): nothing says what it is
            out.dropped.append(f"{fact.value!r}: found only in document {doc}, which its quote is not from, unlabelled")
            continue
        scaled = with_scale(value, fact.quote, passage)
        if scaled != value:
            out.repaired.append(f"{value!r} → {scaled!r} (the table's unit)")
        if (doc, scaled) in seen:
            continue  # the same value from the same document, said again
        # a quote that is not where the value stands (the passage's heading, "Capital Return Program"):
        # the line stating the value is the evidence too
        stated = _line_of(cell_figure(scaled), passage) if cell_figure(scaled) not in fact.quote else ""
        evidence = " ".join([fact.quote, about, _heading_of(fact.quote, passage), _line_of(fact.quote or value, passage), stated])
        if relevant is not None and relevant(evidence) < min_relevance:
            out.dropped.append(f"{scaled!r}: its passage is about something else ({fact.quote[:50]!r})")
            continue
        seen.add((doc, scaled))
        sentence = own_text(whole_sentence(fact.quote, passage), contexts[doc - 1].chunk.text)  # not from the section path above it
        document = passage_text(contexts[doc - 1])  # without the excerpt: its compact headings are not the document's words
        if _prose(sentence) and supported(sentence, document, question):
            # the form's own sentence, not the document's: what else it states ("… while in Jun 2022 they
            # were 2,500 million") is unchecked, so it is not shown as the document's; the value is
            out.repaired.append(f"{scaled!r}: its quote states what document {doc} does not; the value alone is shown")
            sentence = _line_of(scaled, document) or scaled
        if other := other_fiscal_quarter(f"{sentence} {fact.quote} {about}", question):
            out.dropped.append(f"{scaled!r}: its sentence states {other}, not the quarter asked")
            continue
        out.facts.append(Fact(doc, sentence, scaled, about))
    topic = set(question_terms(question))
    for point in points:
        if PASSAGE_TAG.search(point.text):
            point = Point(point.doc, own_text(point.text, contexts[point.doc - 1].chunk.text if 1 <= point.doc <= len(contexts) else ""))
            out.repaired.append(f"point {point.text[:40]!r}: the passage's label and the heading before it left out")
        if empty_value(point.text) or VALUE_MARKER.search(point.text):
            out.dropped.append(f"point {point.text[:60]!r}: a marker or nothing where a value belongs")
            continue
        if point.text.count("|") >= TABLE_CELLS:
            # a table's lines copied as one "sentence" ("The components of debt were as follows: … | 2039 | 5.20% | …"): its
            # figures are shown as table facts when they are read as such (table_facts), never as prose
            out.dropped.append(f"point {point.text[:60]!r}: a table's lines, not a sentence")
            continue
        if echoes(point.text, question, own_words=ECHO_WORDS):
            out.dropped.append(f"point {point.text[:60]!r}: the question's words, saying nothing of its own")
            continue
        said = sentences(point.text)
        if len(said) > 1 and (kept := [s for s in said if not echoes(s, question, own_words=ECHO_WORDS)]) != said:
            # "The reported changes in inventory levels relate to the supply chain discussion. Inventories fell …": the first only restates
            out.repaired.append(f"point {point.text[:40]!r}: {len(said) - len(kept)} sentence(s) restating the question left out")
            point = Point(point.doc, " ".join(kept))
        doc = point.doc if 1 <= point.doc <= len(passages) else None
        missing = supported(point.text, passages[doc - 1], question) if doc else ["its document"]
        if missing:
            other = next((i + 1 for i, p in enumerate(passages) if not supported(point.text, p, question)), None)
            if other is None:
                out.dropped.append(f"point {point.text[:60]!r}: {', '.join(missing)} not in document {doc}")
                continue
            out.repaired.append(f"point cited document {point.doc} → {other}")
            doc = other
        if not words_held(point.text, passages[doc - 1], question) and (
            other := next((i + 1 for i, p in enumerate(passages) if not supported(point.text, p, question) and words_held(point.text, p, question)), None)
        ):  # the model copied a sentence of one passage and cited another
            out.repaired.append(f"point cited document {doc} → {other}: its words are that document's")
            doc = other
        if (own := swapped_names(point.text, passages[doc - 1], question)) is not None:
            out.repaired.append(f"point {point.text[:40]!r}: a name of the question stands where the passage names another; its sentence is shown")
            point = Point(doc, own)
        if (own := reworded_figures(point.text, passages[doc - 1])) is not None:
            out.repaired.append(f"point {point.text[:40]!r}: its figures' own sentence is shown (the point rewords it)")
            point = Point(doc, own)
        if any(p.text.strip().lower() == point.text.strip().lower() for p in out.points):
            continue
        if relevant is not None and relevant(f"{point.text} {_named_section(contexts[doc - 1].chunk.section or '', topic)}") < min_relevance:
            out.dropped.append(f"point {point.text[:60]!r}: about something else")
            continue
        if relevant is not None and (figures := quantities(point.text)) and quote_support(point.text, passages[doc - 1]) < 1.0 and all(
            relevant(_around(q.text, passages[doc - 1])) < min_relevance for q in figures
        ):  # not the passage's own sentence: its words echo the question, the passage's figure is about something else
            out.dropped.append(f"point {point.text[:60]!r}: its figures stand in the passage beside something else")
            continue
        if other := other_fiscal_quarter(point.text, question):
            out.dropped.append(f"point {point.text[:60]!r}: it states {other}, not the quarter asked")
            continue
        said = sentences(point.text)
        if kept := [s for s in said if not unheld(s, passages[doc - 1], question)]:
            if len(kept) < len(said):
                out.repaired.append(f"point {point.text[:40]!r}: {len(said) - len(kept)} sentence(s) whose words are not document {doc}'s left out")
                point = Point(doc, " ".join(kept))
        else:
            out.dropped.append(f"point {point.text[:60]!r}: its words are not document {doc}'s")
            continue
        text = point.text.strip()
        if len(text) >= POINT_CHARS - 20 and not text.endswith((".", "!", "?")):
            text = whole_sentence(text, passages[doc - 1])  # cut at the length limit: the passage's sentence, when the point copies it
        out.points.append(Point(doc, spelled_out(without_cut_sentence(text), passages[doc - 1])))
    if (verdict := nil_verdict(out.verdict, out.facts)) != out.verdict:
        out.repaired.append(f"{out.verdict!r} → {verdict!r}: the asked period's cells are nil")
        out.verdict = verdict
    if out.verdict and not out.facts:
        out.dropped.append(f"{out.verdict!r} without a supported fact")
        out.unbacked, out.verdict = out.verdict, None
    return out


def other_fiscal_quarter(text: str, question: str) -> str | None:
    """The fiscal quarter a statement names when the question asks for other ones: "Gaming revenue
    for the second quarter of fiscal year 2024 was $2.49 billion" says nothing of the fourth. A
    statement that names no fiscal quarter but dates its period ("Three Months Ended October 30, 2022")
    is as plainly about another one when no date it gives can lie in an asked fiscal year: a fiscal
    year is named for the calendar year it ends in (or, by some companies, begins in), so fiscal 2024's
    quarters end in 2023, 2024 or 2025. None when the question names no fiscal quarter, or the
    statement names none, or one asked, or a date that may be in an asked year."""
    asked = set(asked_fiscal_quarters(question))
    if not asked:
        return None
    said = asked_fiscal_quarters(text)
    if said:
        if asked & set(said):
            return None
        quarter, year = said[0]
        return f"Q{quarter} of fiscal {year}"
    ended = [d for d in dates(text) if d.day]
    years = {y + shift for _, y in asked for shift in (-1, 0, 1)}
    if not ended or any(d.year in years for d in ended):
        return None
    return f"a period ending {ended[0].text} (outside fiscal {' and '.join(sorted({str(y) for _, y in asked}))})"


MISCOPIED_WORDS = 3


def _named_section(section: str, topic: set[str]) -> str:
    """The passage's section path when one of its headings is named by the question's terms
    (`topic`; "Item 1. Legal Proceedings › Epic Games" for a question about legal proceedings): the
    passage is about what was asked, so are its sentences. Else nothing: a heading that shares one
    word with the question ("Office openings" for canteen opening hours) says nothing of its sentences."""
    return section if named_heading(section, topic) is not None else ""


# A document tag line ("[2023 Q2 AAPL › Epic Games]") and a capitalised word (a name, or a sentence's first word).
TAG_LINE = re.compile(r"^\[[^\]\n]*\]$")
CAPITALISED = re.compile(r"\b[A-Z][\w&-]*")
SAME_SENTENCE = 0.6  # a point shares this much of its words with the passage sentence it restates


def swapped_names(text: str, passage: str, question: str) -> str | None:
    """The passage's own sentence when `text` restates it with a name of the question in place of
    the passage's name: "Apple filed a lawsuit in the U.S. District Court …" for "Epic Games, Inc.
    filed a lawsuit in the U.S. District Court …" (the question names Apple; the passage says who
    sued). None when the point names nothing the passage lacks."""
    body = "\n".join(line for line in passage.split("\n")[1:] if not TAG_LINE.match(line))  # not its file name and tag
    asked = set(CAPITALISED.findall(question))
    borrowed = [w for w in CAPITALISED.findall(text) if w in asked and not re.search(rf"\b{re.escape(w)}\b", body)]
    if not borrowed:
        return None
    words = set(content_words(text))
    best, share = None, 0.0
    for sentence in sentences(passage):
        if words and (got := len(words & set(content_words(sentence))) / len(words)) > share:
            best, share = sentence, got
    if best is None or share < SAME_SENTENCE:
        return None
    lost = [n for n in names(best) if not name_in(n, text) and not name_in(n, question)]
    return best.strip() if lost else None


def reworded_figures(text: str, passage: str, limit: int = 400) -> str | None:
    """A point that restates the passage's sentence holding all its figures, but with a word that
    sentence does not have ("Interest expense was $277 million and $776 million …" for "Our interest
    income was $277 million and $776 million …"): that sentence, which says what the figures are.
    The figures check cannot see the swap — every figure is in the passage. None when the point is
    the passage's own words, states no figure, or no such sentence restates it."""
    figures = quantities(text)
    if not figures or verbatim(text, passage):
        return None
    words = set(content_words(text))
    for sentence in sentences(passage):
        sentence = " ".join(sentence.split())
        if "|" in sentence or len(sentence) > limit or not all(amount_in(q, sentence) for q in figures):
            continue
        own = set(content_words(sentence))
        if words and len(words & own) / len(words) >= SAME_SENTENCE and words - own:
            return sentence
    return None


def table_facts(point: Point, passages: Sequence[str]) -> list[Fact] | None:
    """A point the model wrote around figures that only a table of its passage holds ("The operating
    income for Q2 2023 was $64,269, which is a 2% increase" — $64,269 is the nine months' column,
    in millions): each figure as a fact read from its cell, so that its row, its column and the
    table's unit are shown, not the model's words about them. None when the point states no figure,
    is the passage's own words, or a sentence of the passage holds its figures."""
    figures = quantities(point.text)
    if not figures or not 1 <= point.doc <= len(passages):
        return None
    passage = passages[point.doc - 1]
    if verbatim(point.text, passage):
        return None
    if any("|" not in s and all(amount_in(q, s) for q in figures) for s in sentences(passage)):
        return None
    read = []
    for q in figures:
        row = row_holding(passage, q.text)
        digits = FIGURE.search(q.text)
        cell = next((c for c in table_cells(row)[1:] if cell_figure(c) == digits.group(0)), None) if row and digits else None
        if cell is None:
            return None
        read.append(Fact(point.doc, row, cell, ""))  # the cell as the table writes it: its row, column and unit are read again
    return read


def whole_sentence(quote: str, passage: str, limit: int = 400) -> str:
    """A quote the form cut short (its length is capped), completed to the end of its sentence in
    the passage: "… for $3.6 billion and $4.6" would otherwise be shown as the document's sentence.
    A quote of eight words or more whose last few words the form miscopied where its length limit
    fell is completed from the part it copied."""
    flat_quote, flat = " ".join(quote.split()), " ".join(passage.split())
    flat_quote = re.sub(r"\s*(?:\.{3}|…)$", "", flat_quote)  # the model marks its own cut: "… and $4.6 ..."
    start = flat.find(flat_quote) if flat_quote else -1
    words = flat_quote.split()
    for drop in range(1, MISCOPIED_WORDS + 1):  # the form's last words miscopied ("… 55.1% forthe"): the part it copied
        if start >= 0 or len(words) - drop < 8:
            break
        flat_quote = " ".join(words[:-drop])
        start = flat.find(flat_quote)
    if start < 0 or flat_quote.endswith((".", "!", "?")):
        return quote
    end = start + len(flat_quote)
    stop = re.search(r"[.!?](?=\s|$)", flat[end : end + limit])
    return flat[start : end + stop.end()] if stop else quote


# The label each passage opens with in the prompt ("[2023 Q2 MSFT › Legal and Other Contingencies]"):
# the prompt's, not the document's words; a quote running across it holds the end of the passage before.
PASSAGE_TAG = re.compile(r"\[[^\[\]\n]*›[^\[\]\n]*\]")
HEADING_WORDS = 8


def _heading(line: str) -> bool:
    """A line of at most HEADING_WORDS words without a sentence's closing punctuation."""
    line = line.strip()
    return len(line.split()) <= HEADING_WORDS and not line.endswith((".", "!", "?", ":"))


def heading_line(text: str, passage: str) -> bool:
    """`text` is a heading line of the passage (`_heading`), and states no figure."""
    said = " ".join(text.split()).rstrip(".").strip()
    if not said or not _heading(said) or re.search(r"\d", said):
        return False
    return any(" ".join(line.split()) == said and _heading(line) for line in passage.split("\n"))


def own_text(text: str, passage: str) -> str:
    """A point that quotes across a passage's label ("Legal and Other Contingencies [2023 Q2 MSFT ›
    Legal and Other Contingencies] Legal and Other Contingencies The outcomes of …"): the text after
    the label, without the heading line the passage starts with ("The outcomes of …")."""
    rest = PASSAGE_TAG.split(text)[-1].strip()
    for line in passage.split("\n"):  # the heading lines it starts with ("Note 6 : Investments", "Short-term Investments")
        line = line.strip()
        if not line or TAG_LINE.match(line):
            continue
        if not (_heading(line) and rest.startswith(line) and rest[len(line):].strip()):
            break
        rest = rest[len(line):].strip()
    return rest


def without_cut_sentence(text: str) -> str:
    """A point the grammar cut at its length limit ends mid-word ("… a reasonable possibility the
    Company may have incurred a mater"): keep its complete sentences, when it has one."""
    if len(text) < POINT_CHARS - 20 or text.endswith((".", "!", "?")):
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends else text


SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?](?=\s)")  # not the stop of an initial: "U.S. GAAP" goes on


def _one_figure_each(fact: Fact) -> list[Fact]:
    """A value that lists several figures of a table ("3M to Dec 2022: $ 9,535, 3M to Dec 2021:
    $ 9,810") is one fact per figure, each labelled from its own column. A quoted sentence that
    states them all stays one fact: it is shown as the document's sentence. A value the model wrote
    as a piece of JSON ('{"facts": [19604]}') is its figures too."""
    figures = quantities(fact.value)
    quoted = _prose(fact.quote) and _states(fact.quote, fact.value) and fact.quote.strip() != fact.value.strip()
    nested = fact.value.lstrip().startswith("{")  # the form's own structure written into the value: its figures
    if (len(figures) < 2 and not (figures and nested)) or quoted:
        return [fact]
    return [Fact(fact.doc, fact.quote, q.text, fact.about) for q in figures]


def _source_of(quote: str, value: str, doc: int, passages: Sequence[str], min_support: float = QUOTE_HELD) -> int | None:
    """The prompt document that holds the quote (the cited one first), else one that states the value."""
    order = ([doc] if 1 <= doc <= len(passages) else []) + [i for i in range(1, len(passages) + 1) if i != doc]
    for i in order:
        if quote.strip() and quote_support(quote, passages[i - 1]) >= min_support and not supported(value, passages[i - 1]):
            return i
    for i in order:
        if not supported(value, passages[i - 1]) and (quantities(value) or dates(value) or name_in(value, passages[i - 1])):
            return i
    return None


SCALE_WORD = {1e3: "thousand", 1e6: "million", 1e9: "billion"}
PER_UNIT = re.compile(r"\bper\b|percent|percentage|\bratio\b|\brate\b|\bmargin %", re.I)


SCALE_AFTER = re.compile(r"\s+(?:thousand|million|billion)s?$", re.I)


def _table_cell(value: str, quote: str, passage: str) -> tuple[list[str], list[str] | None, int] | None:
    """Where a table value stands in the passage: (its row's cells, its table's heading cells when the
    heading has as many cells, its column); None when it is not a table value."""
    found = quantities(value, keep_years=True)
    if not found:
        return None
    digits = SCALE_AFTER.sub("", cell_figure(found[0].text))  # "$40,215 million" stands as "40,215" under "(In millions)"
    lines = passage.splitlines()
    rows = [i for i, line in enumerate(lines) if line.lstrip().startswith("|") and not SEPARATOR.match(line.strip())
            and any(cell_figure(c) == digits for c in table_cells(line)[1:])]
    if not rows:
        return None
    i = max(rows, key=lambda r: quote_support(quote, lines[r]) if quote else 0.0)
    cells = table_cells(lines[i])
    if SHARE_ROW.match(cells[0]) and i > 0 and lines[i - 1].lstrip().startswith("|") and (above := table_cells(lines[i - 1])[0]):
        cells[0] = f"{above}, {cells[0]}"  # "% of net revenue" is the share of the row above
    column = next(k for k in range(1, len(cells)) if cell_figure(cells[k]) == digits)
    for h in range(i - 1, -1, -1):  # the heading row: the line above the nearest separator
        if SEPARATOR.match(lines[h].strip()) and h > 0:
            heading = table_cells(lines[h - 1])
            return cells, (heading if len(heading) == len(cells) else None), column
    return cells, None, column


def _label(cell: str) -> str:
    return " ".join(cell.rstrip(":").split()).lower()


def value_of_named_row(value: str, quote: str, passage: str) -> str | None:
    """A table value read off another row than the one its quote names ("Research and development |
    3M to Sep 2023", value "$14,158" from the "Net revenue" row above it): the named row's figure in
    the same column (else its first figure); None when the value stands on the named row, the quote
    names no row of the passage, or the value is not a table value."""
    label = _label(quote.split("|")[0]) if "|" in quote else ""
    if not label or (where := _table_cell(value, "", passage)) is None:
        return None
    named = [table_cells(line) for line in passage.splitlines() if line.lstrip().startswith("|")
             and not SEPARATOR.match(line.strip()) and _label(table_cells(line)[0]) == label]
    if not named or any(cells == where[0] for cells in named):
        return None
    digits = cell_figure(quantities(value, keep_years=True)[0].text)
    if any(cell_figure(c) == digits for cells in named for c in cells[1:]):
        return None
    cells, column = named[0], where[2]
    if column < len(cells) and re.search(r"\d", cells[column]):
        return cells[column]
    return next((c for c in cells[1:] if re.search(r"\d", c)), None)


def _stems(text: str) -> set[str]:
    return {w[:5] for w in content_words(text)}


def words_held(text: str, passage: str, question: str) -> bool:
    """No sentence of `text` is `unheld` by the passage."""
    return not any(unheld(s, passage, question) for s in sentences(text))


def unheld(sentence: str, passage: str, question: str) -> bool:
    """The sentence's own words (those the question lacks), OWN_WORDS or more, are mostly not the passage's."""
    own = _stems(sentence) - _stems(question)
    return len(own) >= OWN_WORDS and len(own & _stems(passage)) < WORDS_HELD * len(own)


def echoes(text: str, question: str, own_words: int = 0) -> bool:
    """`text` only repeats the question's words: no figure or date, and at most `own_words` words of
    its own ("Intel's commitments in ESG areas relate to the expenses … reported" for "how do Intel's
    commitments in ESG areas relate to the expenses … reported")."""
    stems = _stems(text)
    own = len(stems - _stems(question))
    return bool(stems) and not quantities(text) and not dates(text) and own <= own_words and own <= ECHO_SHARE * len(stems)


def table_label(value: str, quote: str, passage: str) -> str:
    """For a value read from a table: its row label and its column heading ("Total net sales, Three
    Months Ended July 1, 2023"), taken from the passage's table; "" when it is not a table value."""
    if (where := _table_cell(value, quote, passage)) is None:
        return ""
    cells, heading, column = where
    label = row_label(cells).rstrip(":").strip()
    if not label or not re.search(r"[A-Za-z]", label):
        return ""
    return f"{label}, {heading[column]}" if heading and heading[column] else label


MONTHS = {"three": 3, "six": 6, "nine": 9, "twelve": 12}
ASKED_MONTHS = re.compile(r"\b(three|six|nine|twelve)[- ]months?\b|\b(?:quarter|quarterly|q[1-4])\b", re.I)
COLUMN_MONTHS = re.compile(r"\b(three|six|nine|twelve)\s+months\b", re.I)


def asked_months(question: str) -> int | None:
    """The length of the period a question asks about: "three months ended …", "the quarter", "Q3" → 3."""
    if not (m := ASKED_MONTHS.search(question)):
        return None
    return MONTHS[m.group(1).lower()] if m.group(1) else 3


def column_for_period(value: str, quote: str, passage: str, months: int) -> str | None:
    """A table value taken from the column of another period length than the question asks ("Nine
    Months Ended July 1, 2023" for "the three months ended July 1, 2023"): the same row's value in
    the column of the asked length (ending on the same date when the table has several); None when
    the value's column is the asked one, or the table has no such column."""
    if (where := _table_cell(value, quote, passage)) is None or where[1] is None:
        return None
    cells, heading, column = where
    length = COLUMN_MONTHS.search(heading[column])
    if length is None or MONTHS[length.group(1).lower()] == months:
        return None
    ending = COLUMN_MONTHS.sub("", heading[column]).strip()
    columns = [k for k in range(1, len(cells)) if (m := COLUMN_MONTHS.search(heading[k])) and MONTHS[m.group(1).lower()] == months]
    columns.sort(key=lambda k: COLUMN_MONTHS.sub("", heading[k]).strip() != ending)
    return next((cells[k] for k in columns if re.search(r"\d", cells[k])), None)


# A question that asks for a share, a rate or a change (where a percentage is an answer), not an amount.
ASKS_SHARE = re.compile(rf"percent|%|\bshare\b|proportion|ratio|\brate\b|margin|{ASKS_CHANGE.pattern}", re.I)


def amount_for_percentage(value: str, quote: str, passage: str, question: str) -> str | None:
    """A percentage from a table row of amounts ("| Gaming | $ 2,856 | $ 1,574 | 81 % |") given for
    a question that asks for the amount ("what were the sales figures …"): the row's first amount;
    None when the question asks for a share, rate or change, or the row holds no amount."""
    found = quantities(value)
    if len(found) != 1 or not found[0].percent or ASKS_SHARE.search(question):
        return None
    if (where := _table_cell(value, quote, passage)) is None:
        return None
    return next((c for c in where[0][1:] if re.search(r"\d", c) and "%" not in c), None)


def _asked_year_columns(value: str, quote: str, passage: str, question: str) -> tuple[list[str], list[str], int, list[int]] | None:
    """For a table value from the column of another year than the one year the question names: (its
    row's cells, the heading cells, its column, the columns of the asked year of the same period
    length where the headings give one); None when the value's column is of that year or gives none."""
    asked = set(YEAR.findall(question))
    if len(asked) != 1 or (where := _table_cell(value, quote, passage)) is None or where[1] is None:
        return None
    cells, heading, column = where
    year = asked.pop()
    if year in YEAR.findall(heading[column]) or not YEAR.search(heading[column]):
        return None
    length = COLUMN_MONTHS.search(heading[column])
    same = [k for k in range(1, len(cells)) if year in YEAR.findall(heading[k])
            and (length is None or ((m := COLUMN_MONTHS.search(heading[k])) is not None and MONTHS[m.group(1).lower()] == MONTHS[length.group(1).lower()]))]  # fmt: skip
    return cells, heading, column, same


def column_for_year(value: str, quote: str, passage: str, question: str) -> str | None:
    """A table value from the column of another year than the one year the question names ("… in
    its Q3 2023 10-Q", the figure under "Nine Months Ended September 30, 2022"): the same row's
    value under the column of the asked year, of the same period length where the headings give
    one; None when the value's column is of that year, or no column of the row is."""
    if (where := _asked_year_columns(value, quote, passage, question)) is None:
        return None
    cells, _heading, _column, same = where
    return next((cells[k] for k in same if re.search(r"\d", cells[k])), None)


NIL_CELL = re.compile(r"^[\s$€£(]*[—–-]+[\s)]*$")  # "—", "$ —": the table's nil
# the value of a fact whose asked-period cell is the table's nil (a form's own "none" is no value: empty_value)
NIL_VALUE = "none"


def nil_verdict(verdict: str | None, facts: Sequence[Fact]) -> str | None:
    """A "yes" whose every fact is the asked period's nil is a "no"; any other verdict stands."""
    return "no" if verdict == "yes" and facts and all(f.value == NIL_VALUE for f in facts) else verdict


def nil_in_year(value: str, quote: str, passage: str, question: str) -> str | None:
    """The asked year's cell of the value's row holds the table's nil ("—") where the value came
    from another year's column (Amazon repurchased "(6,000)" in the nine months of 2022, "—" in
    2023, asked about its Q3 2023 10-Q): what that cell is, "row label, column heading"; None
    otherwise."""
    if (where := _asked_year_columns(value, quote, passage, question)) is None:
        return None
    cells, heading, _column, same = where
    if not same or not all(NIL_CELL.match(cells[k]) for k in same):
        return None
    label = cells[0].rstrip(":").strip()
    return f"{label}, {heading[same[0]]}" if label and heading[same[0]] else None


def bare_figure(value: str) -> str:
    """A figure the form wrapped in stray punctuation ("(4,268, %)"): the figure alone. An
    accounting negative ("(543)", "-12") and a figure with words stay as written."""
    found = quantities(value)
    if len(found) != 1:
        return value
    figure = re.escape(found[0].text)
    if re.fullmatch(rf"\s*(?:[-−–]\s*{figure}|\(\s*{figure}\s*\))\s*%?\s*", value):
        return value  # "(1.3)%", "-1.3%": the sign is the figure's
    rest = value.replace(found[0].text, "", 1).strip()
    return found[0].text if re.search(r"[,;:%]", rest) and not re.search(r"[\w$€£]", rest) else value


CURRENCY_CODE = re.compile(r"\b(?:USD|EUR|GBP|JPY|CNY|RMB|CHF|CAD|AUD|INR)\b", re.I)


def from_quote(value: str, quote: str) -> str:
    """A figure the model dressed in words its quote does not hold ("GBP 74.0" for the quote's
    "74.0%"): the quote's own spelling of that figure; otherwise unchanged."""
    found = quantities(value)
    if len(found) != 1 or not quote.strip():
        return value
    code = CURRENCY_CODE.search(value)
    if not supported(value, quote) and not (code and code.group(0).lower() not in quote.lower()):
        return value
    figure = found[0]
    same = [q for q in quantities(quote) if abs(q.mantissa - figure.mantissa) < 1e-9 and (not figure.scaled or q.scale == figure.scale)]
    return same[0].text if len(same) == 1 and not supported(same[0].text, quote) else value


GROUPED = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")


def as_written(value: str, passage: str) -> str:
    """A figure written without its thousands separators ("19604") in the passage's own spelling
    ("19,604"), so that its table cell, label and unit are found; otherwise unchanged."""
    found = quantities(value)
    if len(found) != 1 or found[0].scaled:
        return value
    digits = found[0].text.lstrip("$€£ ").strip()
    if not re.fullmatch(r"\d{4,}(?:\.\d+)?", digits):
        return value
    spelled = next((m.group() for m in GROUPED.finditer(passage) if m.group().replace(",", "") == digits), None)
    return value.replace(digits, spelled, 1) if spelled else value


def scaled_in_passage(value: str, passage: str) -> str:
    """A bare number that the passage writes with a scale ("48" where it says "48 million euros"),
    rewritten as the passage writes it; otherwise unchanged."""
    found = quantities(value)
    if len(found) != 1 or found[0].scaled:
        return value
    bare = found[0]
    for q in quantities(passage):
        if q.scaled and abs(q.mantissa - bare.mantissa) < 1e-9 and q.percent == bare.percent:
            return value.replace(bare.text, q.text, 1)
    return value


def with_scale(value: str, quote: str, passage: str) -> str:
    """A bare number from a table under "(In millions)" written with its scale (and its currency
    when the table's figures are in dollars); one from a table of shares as a percentage. A cell's
    "$ (19,686)" keeps its parentheses outside: "($19,686 million)"."""
    if negative := re.fullmatch(r"\s*([$€£])\s*\(\s*([^()]*?)\s*\)\s*", value):
        inner = with_scale(f"{negative.group(1)}{negative.group(2)}", quote, passage)
        return f"({inner})" if inner != f"{negative.group(1)}{negative.group(2)}" else value
    found = quantities(value)
    if len(found) != 1 or found[0].scaled or found[0].percent or "%" in value:  # "(1.3)%": a negative rate
        return value
    if re.search(re.escape(found[0].text) + r"\)?\s*(?:thousand|million|billion)s?\b", value, re.I):
        return value  # "(19,686) million": a negative figure the form already scaled
    row = row_holding(passage, found[0].text)
    if not found[0].currency and row and share_table(passage, row):
        return value.replace(found[0].text, f"{found[0].text}%", 1)  # its "%" stands on the table's first row only
    scale = table_scale(passage)
    if scale == 1.0 or not _in_table(found[0].text, passage):
        return value
    q = found[0]
    label = table_label(value, quote, passage).split(",")[0]
    if PER_UNIT.search(label) or PER_UNIT.search(quote.split("|")[1] if quote.count("|") > 1 else ""):
        return value  # "(In millions, except per share amounts)": a per-share figure keeps its own unit
    dollars = not q.currency and ("$" in quote or re.search(r"\$\s*" + re.escape(q.text.lstrip("$ ")), passage) or "dollars in" in passage.lower()
                                  or (row is not None and "$" in (first_figures(passage, row) or "")))
    number = q.text.lstrip("$ ").strip()
    return value.replace(q.text, f"{'$' if dollars or q.currency == '$' else ''}{number} {SCALE_WORD[scale]}", 1)


def _heading_of(quote: str, passage: str) -> str:
    """For a quoted table row: its table's heading row and the passage's first line (what the table is)."""
    if "|" not in quote:
        return passage.split("\n", 1)[0]
    lines = passage.splitlines()
    first = passage.split("\n", 1)[0]
    for i, line in enumerate(lines):
        if SEPARATOR.match(line.strip()) and i > 0:
            return f"{first} {lines[i - 1]}"
    return first


def _line_at(said: str, passage: str) -> tuple[str, int] | None:
    """The passage line where `said` sits (retrieval/checks.locate), with its offset in that line."""
    offset = locate(said, passage)
    if offset is None:
        return None
    start = passage.rfind("\n", 0, offset) + 1
    end = passage.find("\n", offset)
    return passage[start : end if end >= 0 else len(passage)], offset - start


def _line_of(quote: str, passage: str, limit: int = 300) -> str:
    """The passage line that holds a (short) quote: a name or figure with the words around it."""
    found = _line_at(quote, passage)
    return found[0][:limit] if found else ""


def _around(figure: str, passage: str, before: int = 200, after: int = 80) -> str:
    """What the passage says beside a figure: the words before and after it on its line, with the
    table's heading when the line is a table row."""
    found = _line_at(figure, passage)
    if found is None:
        return ""
    line, at = found
    near = line[max(0, at - before) : at + after]
    return f"{near} {_heading_of(line, passage)}" if line.lstrip().startswith("|") else near


def _in_table(number: str, passage: str) -> bool:
    digits = number.lstrip("$ ").strip()
    return any(digits in line for line in passage.splitlines() if line.lstrip().startswith("|"))


# ---- the sentence the user reads ------------------------------------------------------------------------


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text.rstrip(" .;,") + "."


def said_key(sentence: str) -> str:
    """A sentence as compared to say it once: markers, case, spacing and a figure's parentheses aside
    ("…: $7,709 million" and "…: ($7,709 million)", one cell that two tables write two ways)."""
    return " ".join(re.sub(r"[()]", "", MARKER.sub(" ", sentence).lower()).split())


def render(checked: Checked, cite, *, lead: str = "") -> str:
    """The answer text for one part: each value or point a sentence ending in its marker,
    `cite(doc, evidence)` giving the marker number; a yes/no verdict first. Empty when nothing
    survived the checks."""
    pieces: list[str] = []
    if checked.verdict in ("yes", "no"):
        pieces.append(checked.verdict.capitalize() + ".")
    shown: set[str] = set()  # a sentence is said once: two figures of one quote, a value and a point alike

    def new(sentence: str) -> bool:
        key = said_key(sentence)
        return key not in shown and not shown.add(key)

    quoted: list[str] = []  # the documents' own sentences shown so far
    for fact in checked.facts:
        about = fact.about.strip().rstrip(":")
        if restated(fact, quoted):
            continue
        if about:
            text = f"{about[:1].upper() + about[1:]}: {fact.value.strip()}"
        elif sentence := quoted_sentence(fact):
            text = sentence  # the document's own sentence, checked to be in it
            quoted.append(text)
        else:
            text = fact.value.strip()
        if new(_sentence(text)):
            pieces.append(f"{_sentence(text)} [{cite(fact.doc, fact.quote or fact.value)}]")
    for point in checked.points:
        text = re.sub(rf"^\s*{re.escape(lead)}\s*:\s*", "", point.text, flags=re.I) if lead else point.text  # "Legal contingencies: …" under its own lead
        said = [_sentence(s) for s in _answer_sentences(text) if re.search(r"\w", s) and new(_sentence(s))]
        if said:
            n = cite(point.doc, point.text)
            pieces += [f"{sentence} [{n}]" for sentence in said]
    if not pieces:
        return ""
    return (f"{lead}: " if lead else "") + " ".join(pieces)


def quoted_sentence(fact: Fact) -> str | None:
    """The document's own sentence a fact is shown as: its quote, when the fact has no label and the
    quote is prose stating the value; None when the fact is shown by its label or bare."""
    if fact.about.strip().rstrip(":") or not (_prose(fact.quote) and _states(fact.quote, fact.value)):
        return None
    return fact.quote


def restated(fact: Fact, sentences: Sequence[str]) -> bool:
    """Is `fact` one that would be shown bare (no label, no sentence of its own) while one of the
    `sentences` already shown states its figure ("… was 18% and 19% … respectively. [1] (19%). [1]")?"""
    return not fact.about.strip().rstrip(":") and quoted_sentence(fact) is None and any(_states(s, fact.value) for s in sentences)


def _prose(quote: str) -> bool:
    return bool(quote.strip()) and "|" not in quote and len(quote) <= 300 and len(quote.split()) >= 4


def _states(quote: str, value: str) -> bool:
    """Does the quote itself state the value (its amounts, or its words)?"""
    amounts = quantities(value)
    if amounts:
        return all(amount_in(q, quote) for q in amounts)
    return name_in(value, quote)


def locate(evidence: str, text: str) -> int | None:
    """Where in a passage `evidence` (a quote, a value or a sentence saying the same) sits: the
    character offset of the quote when it is there, else of the passage line sharing most of its
    words. Decides the page and section a citation names."""
    words = re.findall(r"\w+", evidence)
    if words:
        m = re.search(r"\W+".join(re.escape(w) for w in words[:10]), text, re.I)
        if m:
            return m.start()
    wanted = set(_words(evidence))
    best, best_share = None, 0.0
    offset = 0
    for line in re.split(r"(?<=\n)|(?<=[.!?] )", text):
        share = len(wanted & set(_words(line))) / len(wanted) if wanted else 0.0
        if share > best_share:
            best, best_share = offset, share
        offset += len(line)
    return best if best_share >= 0.5 else None


# ---- free-text answers: the same rules, sentence by sentence ----------------------------------------------


def check_sentences(text: str, cited: Sequence[ScoredChunk], question: str) -> tuple[str, list[str]]:
    """A free-text answer (markers [n] → `cited[n-1]`) without the sentences that state an amount,
    a date or a name none of their cited passages holds, or that put a marker where a value
    belongs. Returns (kept text, one reason per removed sentence)."""
    passages = [passage_text(c) for c in cited]
    kept, removed = [], []
    for sentence in _answer_sentences(text):
        bare = MARKER.sub("", sentence)
        numbers = [int(n) for m in MARKER.findall(sentence) for n in re.findall(r"\d+", m)]
        own = [passages[n - 1] for n in numbers if 1 <= n <= len(passages)]
        if VALUE_MARKER.search(sentence.rstrip()):
            removed.append(f"{sentence[:60]!r}: a marker where a value belongs")
            continue
        facts = quantities(bare) or dates(bare)
        if facts and (missing := supported_any(bare, own, question)):
            removed.append(f"{sentence[:60]!r}: {', '.join(missing)} not in the passages it cites")
            continue
        kept.append(sentence)
    return " ".join(kept).strip(), removed


def supported_any(text: str, passages: Sequence[str], question: str) -> list[str]:
    """The amounts and dates of `text` that none of `passages` (nor the question) holds."""
    missing = [q.text for q in quantities(text) if not any(amount_in(q, p) for p in [*passages, question])]
    missing += [d.text for d in dates(text) if not any(date_in(d, p) for p in [*passages, question])]
    return missing


def _answer_sentences(text: str) -> list[str]:
    """Sentences with the markers that follow them ("… in advance. [1]" is one)."""
    out: list[str] = []
    for piece in sentences(text):
        head = re.match(r"^(?:\s*\[\d+\])+", piece)
        if head and out:
            out[-1] += " " + head.group(0).strip()
            piece = piece[head.end():].strip()
        if piece:
            out.append(piece)
    return out


def renumber(text: str, citations: Sequence[Any]) -> tuple[str, list[Any]]:
    """Markers renumbered in order of first use after sentences were removed; citations that no
    sentence uses any more are dropped."""
    order: list[int] = []

    def swap(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(citations):
            return ""
        if n not in order:
            order.append(n)
        return f"[{order.index(n) + 1}]"

    return re.sub(r"\[(\d{1,3})\]", swap, text), [citations[n - 1] for n in order]
