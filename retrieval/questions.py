"""What a question asks for, and where to look: answer type, the documents and periods it names,
and the retrieval parts it splits into.

- The answer type (number, date, yes/no, name, list, free text) chooses the prompt and the shape of
  the structured answer (retrieval/structured.py).
- Documents are named through their names (retrieval/names.py): "Apple's Q3 2022 10-Q" names one
  filing, "Apple's" alone names Apple's four. "latest"/"most recent" keeps the newest named
  document, unless the question also looks back ("… in the most recent quarter compare to previous
  quarters?"); "over time", "these quarters", "each period" split the question into one part per
  named document, each retrieved and answered on its own.
- The topic is the question without the words that only point at documents ("in its Q3 2022
  10-Q", "Apple's", "latest report"): those scope the search, and as search words they match
  cover pages and certifications instead of the passage that holds the answer.
- A proper name the question is about ("Alphabet") that no readable passage contains means the
  documents cannot answer it: `absent` lists such names. So does a word of the topic that no readable
  passage contains, nor a close spelling of ("the procedure for requesting a sabbatical"): `unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from retrieval.facts import dates, names
from retrieval.focus import question_words, topic_clauses
from retrieval.lexical import stem
from retrieval.text import STOPWORDS

AnswerKind = Literal["number", "date", "yes_no", "name", "list", "text"]

YES_NO = re.compile(r"^\s*(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should|may|must)\b", re.I)
# The clause that asks what a figure means, after the clause that asks for it ("How have inventory
# levels changed over these quarters, and what might this suggest about their supply chain
# strategies?"): the figure is what the documents state; the meaning is the reader's.
IMPLICATION = re.compile(
    r",?\s*(?:and\s+)?(?:what|how)\s+(?:might|does|do|could|would|may|can|did)\s+(?:this|these|that|those|it|they)\s+"
    r"(?:suggest|indicate|imply|mean|reveal|say|tell|signal|reflect)\b.*$",
    re.I,
)
# "What do the inventory levels in the Q3 2022 report suggest about product demand?": the levels are
# what the filing states, what they suggest is the reader's; answered with the figure, asked for alone.
LEVELS = re.compile(r"\b(?:inventory|inventories|cash|debt|liquidity|headcount)\s+(?:levels?|positions?|balances?)\b", re.I)
INTERPRETED = re.compile(r"\b(?:suggest|suggests|indicate|indicates|imply|implies|reflect|reflects|reveal|reveals|insights?|gleaned|"
                         r"adapted|adapt|tell|say)\b", re.I)
IF_SO = re.compile(r",?\s*(?:and|&)\s+(?:if so|if yes|if any)\b|,\s*and\s+(?:what|how much|how many|which)\b", re.I)
DATE = re.compile(r"^\s*(?:when\b|by when\b|on what date\b|what date\b|what is the date\b|what was the date\b)", re.I)
_AMOUNT_NOUNS = (
    r"revenue|revenues|sales|income|margin|margins|expense|expenses|expenditure|expenditures|cost|costs|cash|cash flows?|eps|"
    r"earnings|profit|loss|dividend|dividends|rate|headcount|capex|debt|assets|liabilities|spend|spending|salary|cap|allowance|"
    r"budget|fee|price|count|number|total|balance|inventory|inventories|figure|figures|amount|extension|maximum|minimum|limit|"
    r"capacity|scale|magnitude|extent|size|percentage|proportion|share|ratio"
)
AMOUNT_NOUN = re.compile(rf"\b(?:{_AMOUNT_NOUNS})\b", re.I)
NUMBER_START = re.compile(
    r"^\s*(?:how (?:many|much|long|often|far|quickly|soon|big|large|high|low)\b"
    r"|what (?:percentage|percent|proportion|share|fraction|ratio|number|amount|total|sum|price|cost|rate|level|value)\b"
    rf"|(?:what|which)\b(?:\s+[\w'’&\-]+){{0,8}}?\s+(?:{_AMOUNT_NOUNS})\b)",
    re.I,
)
# Questions about causes, explanations or qualities want sentences, even when they name an amount.
EXPLANATION = re.compile(
    r"\b(?:drivers?|driving|factors?|reasons?|why|contributors?|contributed|influences?|influenced|influencing|impacts?|effects?|"
    r"affect(?:ed|s)?|focus|focuses|priorities|prioritized|initiatives|details|explain|insights?|suggest|indicate|implications?|"
    r"relate|relationship|correlat\w*|align|connection|breakdown|discussion|strateg\w*|changes? in|how does|how do|how did|"
    r"how have|how has|describe|summari[sz]e|analy[sz]e)\b",
    re.I,
)
LEAD_IN = re.compile(r"^\s*(?:in|for|during|from|as of|according to|based on|within|over)\b[^,?]{0,70},\s*", re.I)
NAME_START = re.compile(
    r"^\s*(?:who\b|whom\b|what is the name\b|which (?:\w+\s){0,3}?(?:company|companies|person|people|vendor|supplier|client|"
    r"model|office|tool|product|provider|manager|directive|team|department|laptop|monitor|room|country|city|firm|bank|auditor|"
    r"executive|officer|client|software|service|platform|partner)\b)",
    re.I,
)
LIST_START = re.compile(r"^\s*(?:list|name|enumerate|outline|what are the (?:main|major|key|principal|primary)?\s*\w+s\b|which \w+s\b)", re.I)
# Words that point at documents rather than at the answer: removed from the topic.
_QUALIFIER = (
    r"(?:(?:the|its|their|these|this|those|each|company'?s)\s+)?(?:(?:latest|most recent|recent|last|previous|prior|reported|respective)\s+)?"
    r"(?:(?:(?:q[1-4]|fy|first|second|third|fourth)\s*(?:quarter\s*)?(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?'?\d{2,4}|\d{4}\s*(?:q[1-4])?)\s+)?"
)
DOC_WORDS = re.compile(
    r"\b(?:(?:as\s+)?(?:reported|revealed|stated|disclosed|outlined|presented|mentioned|provided|shown|described|detailed|"
    r"identified|highlighted|discussed)\s+)?(?:(?:in|within|from|according to|per|across|throughout|of)\s+)?"
    rf"(?:{_QUALIFIER}(?:form\s+)?(?:10-?qs?|10-?ks?)(?:\s+(?:reports?|filings?))?\b"
    r"|(?:(?:the|its|their|these|this|those|each|company'?s)\s+)(?:(?:latest|most recent|recent|last|previous|prior|reported|respective)\s+)?"
    r"(?:(?:(?:q[1-4]|fy)\s*'?\d{2,4}|\d{4}\s*(?:q[1-4])?)\s+)?(?:quarterly\s+)?(?:reports?|filings?|documents?)\b"
    r"|(?:latest|most recent)\s+(?:quarterly\s+)?(?:reports?|filings?|quarter)\b)"
    r"|\b(?:report|reports|reported|disclose|discloses|disclosed)\b(?!\s+(?:on|that))",  # verbs: every filing reports
    re.I,
)
PERIOD_WORDS = re.compile(
    r"\b(?:in|for|during|of)?\s*(?:the\s+)?(?:(?:first|second|third|fourth)\s+quarter|q[1-4])(?:\s+of)?(?:\s+fiscal)?(?:\s+year)?\s*'?(?:\d{4})?\b",
    re.I,
)
LATEST = re.compile(r"\b(?:latest|most recent|last|recent|current)\s+(?:quarter|quarterly|10-?q|report|filing|period|fiscal quarter)s?\b"
                    r"|\b(?:latest|most recent)\b", re.I)
OVER_TIME = re.compile(
    r"\bover time\b|\bacross (?:the |these |all )?(?:reported |reporting |various |different |several )?(?:quarters|periods|reports|filings|10-?qs)\b"
    r"|\bthese (?:10-?qs|quarters|quarterly reports|reports|filings|periods)\b|\bquarter[- ]to[- ]quarter\b|\bquarter over quarter\b"
    r"|\beach (?:reported |reporting )?(?:period|quarter)\b|\btrend(?:s|ed)?\b|\bevolv(?:ed|e)\b|\bfluctuat\w*\b"
    r"|\bover (?:the|these) (?:reported |reporting )?(?:quarters|periods?|timeframe)\b|\bthroughout the report\w*\b"
    r"|\breported quarters\b|\bhistorical periods\b|\bchanged over\b|\bcompare[sd]? across\b"
    r"|\b(?:previous|prior|past|preceding) (?:quarters|periods)\b",
    re.I,
)
CHANGE_WORDS = re.compile(r"\b(?:how\s+(?:has|have|did|do|does)|changed?|changes|trended|trending|varied|vary|varies|shifted|moved|"
                          r"significant|notable|any|identified|been|there|over time|time)\b", re.I)
ORDINAL_QUARTER = {"first": "Q1", "second": "Q2", "third": "Q3", "fourth": "Q4"}
QUARTER_OF_YEAR = re.compile(r"\b(first|second|third|fourth)\s+quarter(?:\s+of)?(?:\s+fiscal)?(?:\s+year)?\s+(\d{4})\b", re.I)
DOC_PERIOD = re.compile(r"\b(\d{4})\s*Q([1-4])\b|\bQ([1-4])\s*(\d{4})\b", re.I)
MAX_PARTS = 4


@dataclass(frozen=True)
class Part:
    """One retrieval: the documents to search (None: everything readable) and what they are."""

    docs: tuple[str, ...] | None
    label: str = ""
    row_label: str = ""  # the line item these documents count the topic under, when no row names it (focus.defined_label)
    topic: str = ""  # what this part searches for, when not the question's topic (one side of a relation question)


@dataclass(frozen=True)
class QuestionPlan:
    question: str
    kind: AnswerKind
    topic: str
    parts: tuple[Part, ...]
    yes_no_first: bool = False  # "Did X …, and if so, what …": say yes or no, then the value
    absent: tuple[str, ...] = ()  # proper names the question is about that no readable passage or named document's name contains
    named_docs: tuple[str, ...] = field(default=())
    missing_period: str = ""  # the period asked for, when none of the named documents covers it ("Q4 2023")
    dates: tuple[str, ...] = ()  # full dates the question names ("March 30, 2024"): the passages must hold one
    share: bool = False  # "what percentage of revenue did Services contribute": the part's figure and its table's total
    compared: tuple[str, ...] = ()  # "how did operating expenses compare to revenue": the two amounts, each read from its row
    unknown: tuple[str, ...] = ()  # topic words no readable passage contains (unknown_words), one of each ask at least
    fiscal: tuple[tuple[int, int], ...] = ()  # fiscal quarters named ("Q4 fiscal 2024" → (4, 2024)): the passages must name one

    @property
    def split(self) -> bool:
        return len(self.parts) > 1

    @property
    def sides(self) -> list[str]:
        """What each part searches for when the parts are the sides of a relation question, else []."""
        return [part.topic for part in self.parts if part.topic]


def answer_kind(question: str) -> tuple[AnswerKind, bool]:
    """(answer type, yes/no first) from the wording of the question."""
    q = LEAD_IN.sub("", " ".join(question.split()))  # "In Q1 2023, how much …" → "how much …"
    if YES_NO.match(q):
        pieces = IF_SO.split(q, maxsplit=1)
        follow = pieces[1].strip(" ,") if len(pieces) == 2 else ""
        if follow:
            if not re.match(r"^(?:what|how|which|who|when)\b", follow, re.I):
                follow = "what " + follow
            return answer_kind(follow)[0], True
        return "yes_no", False
    if DATE.match(q):
        return "date", False
    if figure_clause(q) != q:
        return "number", False
    if NUMBER_START.match(q) and (re.match(r"^\s*how (?:many|much)\b", q, re.I) or not EXPLANATION.search(q)):
        return "number", False
    if NAME_START.match(q):
        return "name", False
    if LIST_START.match(q):
        return "list", False
    return "text", False


# "How much did Apple spend on research and development, and what was the focus of this
# expenditure?": the figure is what the documents state in one place; the second clause, asking
# what it went to, is rarely written beside it. The figure is asked for alone (but "…, and how does
# this compare to …" sets two amounts side by side, and stays whole).
THEN_WHAT = re.compile(r",\s*and\s+(?:what|which|how)\b", re.I)
# "how much/many …", "what was/is …'s R&D expenditure": one figure ("what specific legal proceedings
# or potential liabilities …" names things, not a figure)
FIGURE_OPENING = re.compile(r"^\s*(?:how (?:much|many)|what (?:was|were|is|are))\b", re.I)


# "…, and how does it align with previous tax rates?", "how does this compare to prior quarters": a
# figure set against its own past, whose change the filing explains beside it
AGAINST_PAST = re.compile(r"\b(?:align|compar|relat|differ|stack|measur|match)\w*\b.*\b(?:previous|prior|historical|past|earlier|preceding)\b",
                          re.I)


def asks_against_past(question: str) -> bool:
    """Does the question set the figure it asks for against the same figure's earlier values?"""
    return bool(AGAINST_PAST.search(question))


def figure_clause(question: str) -> str:
    """The clause that asks for a figure, when a question asks for one and then, after ", and
    what/which/how", for something else; otherwise the question unchanged."""
    q = LEAD_IN.sub("", " ".join(question.split()))
    pieces = THEN_WHAT.split(q, maxsplit=1)
    if (len(pieces) == 2 and FIGURE_OPENING.match(pieces[0]) and NUMBER_START.match(pieces[0]) and not EXPLANATION.search(pieces[0])
            and not COMPARED.search(pieces[1])):  # "…, and how does this compare to …": two amounts (compared_amounts)
        return pieces[0].strip() + "?"
    return question


def without_implication(question: str) -> str:
    """The question without a closing "…, and what might this suggest about …" clause (unchanged
    when nothing comes before it)."""
    return IMPLICATION.sub("", question).strip() or question


def scoping_text(question: str) -> str:
    """The question with "third quarter of 2023" also written as "Q3 2023", as document names write periods."""
    extra = [f"{ORDINAL_QUARTER[m.group(1).lower()]} {m.group(2)}" for m in QUARTER_OF_YEAR.finditer(question)]
    return question + (" " + " ".join(extra) if extra else "")


# "AWS (Amazon Web Services)", "Data Center and AI (DCAI)": one thing named twice, an acronym and its
# spelling out. As search words the spelling would count the thing a second time and outweigh the rest
# of the topic ("segment revenue"); the words before the parenthesis stay.
PARENTHESIS = re.compile(r"\s*\(([^()]{2,60})\)")
ACRONYM = re.compile(r"^[A-Z][A-Za-z&]*[A-Z][A-Za-z&]*$")
SPELLING_FILLER = frozenset({"and", "of", "the", "&", "for"})


def spells_out(acronym: str, words: Sequence[str]) -> bool:
    """Do `words` (fillers aside) spell `acronym` out, each word giving it one or more of its first
    letters, in order ("Amazon Web Services" → AWS, "Data Center and AI" → DCAI)?"""
    letters = acronym.replace("&", "").lower()
    words = [w.lower() for w in words if w.lower() not in SPELLING_FILLER]

    def match(i: int, k: int) -> bool:
        if i == len(letters):
            return k == len(words)
        if k == len(words):
            return False
        word = words[k]
        return any(letters[i : i + n] == word[:n] and match(i + n, k + 1) for n in range(1, min(len(word), len(letters) - i) + 1))

    return len(words) >= 2 and match(0, 0)


def without_spelling_out(text: str) -> str:
    """`text` without a parenthesis that spells out the acronym before it, or gives the acronym of the
    words before it ("AWS (Amazon Web Services) segment revenue" → "AWS segment revenue")."""
    def one(m: re.Match) -> str:
        inside = m.group(1).split()
        before = re.findall(r"[\w&]+", text[: m.start()])
        if len(inside) == 1 and ACRONYM.match(inside[0]):  # "Data Center and AI (DCAI)"
            return "" if any(spells_out(inside[0], before[-n:]) for n in range(2, min(len(before), 8) + 1)) else m.group(0)
        if before and ACRONYM.match(before[-1]):  # "AWS (Amazon Web Services)"
            return "" if spells_out(before[-1], inside) else m.group(0)
        return m.group(0)

    return PARENTHESIS.sub(one, text)


def topic_of(question: str, name_terms: set[str]) -> str:
    """The question without the words that only point at documents or periods, nor a parenthesis that
    only spells out an acronym."""
    text = DOC_WORDS.sub(" ", without_spelling_out(question))
    text = PERIOD_WORDS.sub(" ", text)

    def drop(m: re.Match) -> str:
        bare = re.sub(r"['’]s$", "", m.group(0))
        named = any(c.isupper() or c.isdigit() for c in bare) and stem(bare.lower()) in name_terms
        return "" if named else m.group(0)

    text = re.sub(r"[\w][\w'’\-]*", drop, text)
    text = re.sub(r"\s+([?.,;:])", r"\1", " ".join(text.split()))
    text = re.sub(r"^[,;:\s]+", "", text)
    for _ in range(2):  # "reported by in the, and" → "reported, and"
        text = re.sub(r"\b(?:(?:in|for|of|from|by|at|as|during)(?:\s+the)?|the)\s*([?.,;:]|$)", r"\1", text, flags=re.I)
        text = re.sub(r"^(?:in|for|during)?[,;:\s]+|\s+(?=[?.,;:])", "", text, flags=re.I).strip()  # "In the latest 10-Q, how …"
    content = [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS]
    return text if content else question


FISCAL = re.compile(r"\bfiscal\b|\bFY\s?\d", re.I)


def asked_dates(question: str) -> list[str]:
    """Full dates (with a day) a question names."""
    return [d.text for d in dates(question) if d.day]


FISCAL_QUARTER = re.compile(r"\b(first|second|third|fourth)\s+quarter\s+of\s+fiscal\s+(?:year\s+)?(\d{4})\b"
                            r"|\bQ([1-4])\s*(?:FY|fiscal(?:\s+year)?)\s*(\d{4})\b", re.I)


def asked_fiscal_quarters(question: str) -> list[tuple[int, int]]:
    """(quarter, fiscal year) pairs a question names in a company's own calendar: "the fourth quarter of
    fiscal year 2024", "Q2 fiscal 2024", "Q1 FY2024". A filing's name says the calendar quarter it
    ended in, not the fiscal one, so only its text can tell whether it covers them."""
    return [(int(ORDINAL_QUARTER[m.group(1).lower()][1]), int(m.group(2))) if m.group(1) else (int(m.group(3)), int(m.group(4)))
            for m in FISCAL_QUARTER.finditer(question)]


def asked_periods(question: str) -> set[tuple[int, int]]:
    """(year, quarter) pairs a question names: "Q3 2022", "2023 Q1", "the second quarter of 2023"."""
    found = {(int(m.group(1) or m.group(4)), int(m.group(2) or m.group(3))) for m in DOC_PERIOD.finditer(question)}
    found |= {(int(m.group(2)), int(ORDINAL_QUARTER[m.group(1).lower()][1])) for m in QUARTER_OF_YEAR.finditer(question)}
    return found


def document_period(name: str) -> tuple[int, int, int]:
    """A sortable period for a document name: "2023 Q3 AAPL" → (2023, 3, 0); else its latest date."""
    m = DOC_PERIOD.search(name)
    if m:
        year, quarter = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        return int(year), int(quarter), 0
    found = [d for d in dates(name) if d.day]
    if found:
        latest = max(found, key=lambda d: d.key)
        return latest.year, (latest.month - 1) // 3 + 1, latest.month * 100 + (latest.day or 0)
    return 0, 0, 0


def plan(
    question: str,
    *,
    named: Callable[[str], list[str]] | None = None,
    doc_name: Callable[[str], str | None] | None = None,
    name_terms: Callable[[Sequence[str]], set[str]] | None = None,
    present: Callable[[str], bool] | None = None,
    spelled_like: Callable[[str], bool] | None = None,
    max_parts: int = MAX_PARTS,
) -> QuestionPlan:
    """Analyse `question`. The callables come from the index: `named(text)` → the documents a text
    names (readable by the asker); `doc_name(doc_id)` → its name; `name_terms(docs)` → the stems of
    their names; `present(word)` → does any readable passage contain the word; `spelled_like(word)`
    → does one contain a word spelled almost like it (a typo is not a word the documents lack)."""
    kind, yes_no_first = answer_kind(question)
    docs = named(scoping_text(question)) if named is not None else []
    missing_period = ""
    if docs and doc_name is not None and (asked := asked_periods(question)):
        # "Q3 2022" names one filing of the company, not every document whose name shares "Q3".
        periods = {d: document_period(doc_name(d) or "")[:2] for d in docs}
        matching = [d for d in docs if periods[d] in asked]
        if not matching and all(p != (0, 0) for p in periods.values()) and not FISCAL.search(question):
            # every named document has a period and none is the one asked for: the documents cannot answer
            year, quarter = sorted(asked)[0]
            missing_period = f"Q{quarter} {year}"
        docs = matching or docs
    terms = name_terms(docs) if name_terms is not None and docs else set()
    topic = topic_of(without_implication(figure_clause(question)), terms)
    share = asks_share(question)
    if share:  # "percentage of total revenue" would find the filing's "Percentage of total net sales" rows
        topic = " ".join(SHARE_WORDS.sub(" ", topic).split()) or topic
    parts: tuple[Part, ...] = (Part(None),)
    over_time = bool(OVER_TIME.search(question))
    if kind == "text" and not over_time and (levels := LEVELS.search(question)) and INTERPRETED.search(question):
        kind, topic = "number", levels.group(0)
    if docs:
        labelled = [(d, (doc_name(d) or d) if doc_name else d) for d in docs]
        by_period = sorted(labelled, key=lambda dl: document_period(dl[1]))
        if over_time and 2 <= len(docs) <= max_parts:
            parts = tuple(Part((d,), short_name(label)) for d, label in by_period)
            # "how has X changed over time": each part asks for X; the change is what the parts show together
            topic = CHANGE_WORDS.sub(" ", OVER_TIME.sub(" ", topic))
            topic = " ".join(topic.split()) or question
        elif LATEST.search(question) and len(docs) > 1 and document_period(by_period[-1][1]) > (0, 0, 0):
            d, label = by_period[-1]
            parts = (Part((d,), short_name(label)),)
        else:
            parts = (Part(tuple(docs), ""),)
    compared = () if over_time else compared_amounts(topic)
    sides = related(question) if kind in ("text", "list") and not over_time and len(parts) == 1 else ()
    if sides and compared and all(AMOUNT_NOUN.search(side) for side in sides):
        sides = ()  # two amounts side by side ("how did operating expenses compare to revenue"): each read from its row
    if sides:
        # "how does the information on legal contingencies connect with the reserves set aside": each
        # side is searched on its own (one search for both finds passages about neither), one line each
        compared = ()
        topics = [side_topic(topic_of(side, terms)) for side in sides]
        labels = [side_label(t) for t in topics]
        # "… the reserves set aside for these liabilities": the second side speaks of the first
        topics[1] += f" {topics[0]}" if BACK_REFERENCE.search(sides[1]) else ""
        parts = tuple(Part(parts[0].docs, label, topic=t) for label, t in zip(labels, topics))
    absent: tuple[str, ...] = ()
    if present is not None:  # a name that names a document found ("AAPL") is not absent, whatever its text says
        absent = tuple(n for n in subject_names(question) if not present(n) and stem(n.lower()) not in terms)
    unknown = unknown_words(topic, present, spelled_like) if present is not None else ()
    return QuestionPlan(question, kind, topic, parts, yes_no_first, absent, tuple(docs), missing_period, tuple(asked_dates(question)),
                        share, compared, unknown, tuple(dict.fromkeys(asked_fiscal_quarters(question))))


# Words a question asks with rather than about ("can you tell me …", "has anyone else measured …",
# "how far can one trust …", "how many days do employees get", "how many people does the room
# hold": a count of persons, which a table calls "capacity"): that the documents never use them
# says nothing. So are common verbs (a small corpus need not use "get"), forms in -ly, -ed and -ing
# ("mentioned", "regarding"), which name no thing, and a possessive ("multhopp's method"), which
# names an owner: names are `absent`'s.
_VERBS = """be have do say get make go know take see come think look want give use find tell ask work seem feel try
    leave call need become put mean keep let begin show hear play run move like live believe hold bring happen write
    provide sit stand lose pay meet include continue set learn change lead understand watch follow stop create speak
    read allow add spend grow open walk win offer remember love consider appear buy wait serve send expect build stay
    fall cut reach remain suggest raise pass sell require report decide pull return explain hope develop carry break
    receive agree support hit produce cover catch draw choose cause point place close involve increase apply fill
    handle deal claim contribute trust help plan manage affect matter owe cost earn relate correlate connect align
    link tie compare""".split()
ASKING = frozenset(
    [*_VERBS, *(v + "s" for v in _VERBS), *"""does has had did got made took went came saw knew thought gave found told felt
    left kept began brought held wrote stood lost paid met led understood spoke grew won bought sent built fell broke
    chose caught drew ran sat sold spent rose shown grown known given taken done seen gone written chosen broken
    begun goes please wondering gist brief summary overview detail details information info
    people persons person behind aside away back forward ahead apart together along around instead also already still yet ever even
    anyone anybody someone somebody anything something everyone everybody everything else virtue
    often""".split()]
)
ASKING_FORM = re.compile(r"(?:ly|ed|ing)$")
TOPIC_TOKEN = re.compile(r"[A-Za-z]+(?:[-'’][A-Za-z]+)*")


def unknown_words(topic: str, present: Callable[[str], bool], spelled_like: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """The topic's words that no readable passage contains nor one spelled almost like it, when
    every ask of the topic (focus.topic_clauses: "sabbaticals or unpaid leave" asks two) has one:
    the documents never speak of "sabbatical", so no passage about requesting leave answers "the
    procedure for requesting a sabbatical". Names are `absent`'s (capitalised words past the first);
    a word of a hyphenated compound counts as found when another of its words is ("data-centric");
    a word with an equivalent the documents use counts as that ("spending" as "expense")."""
    found: dict[str, bool] = {}

    def known(word: str) -> bool:
        if word not in found:
            found[word] = present(word) or (spelled_like is not None and spelled_like(word))
        return found[word]

    def unknown_in(clause: str) -> list[str]:
        out = []
        for i, token in enumerate(TOPIC_TOKEN.findall(clause)):
            if (i and token[0].isupper()) or re.search(r"['’]s?$", token) or token.lower() in ASKING or ASKING_FORM.search(token.lower()):
                continue
            pieces = token.lower().split("-")
            words = [w for piece in pieces for w in question_words(piece)]
            if words and not any(known(w) for w in words):
                out.append(token.lower())
        return out

    clauses = topic_clauses(topic) or [topic]
    each = [unknown_in(c) for c in clauses]
    return tuple(dict.fromkeys(w for words in each for w in words)) if all(each) else ()


# Questions that set two things side by side to be read together: "how does A relate to B", "what is
# the relationship between A and B", "compare A with B". (Two amounts compared are `compared_amounts`.)
_RELATES = r"(?:relate|correlate|compare|align|correspond|connect|tie(?:\s+in|\s+up|\s+back)?|link|reflect|match(?:\s+up)?|fit)"
_RELATION = r"(?:relationship|relation|correlation|connection|link|alignment|interplay)s?"
_ANALYSE = r"(?:analy[sz]e|examine|assess|evaluate|explain|describe|discuss|explore|investigate)"
RELATED = (
    re.compile(rf"^(?:how|in what ways?)\s+(?:does|do|did|is|are|was|were)\s+(?P<a>.+?)\s+{_RELATES}(?:ed)?\s+(?:to|with|against|into)?\s*(?P<b>.+)$", re.I),
    re.compile(rf"^{_ANALYSE}\s+how\s+(?P<a>.+?)\s+{_RELATES}(?:s|es|ed)?\s+(?:to|with|against|into)?\s*(?P<b>.+)$", re.I),
    re.compile(rf"^(?:(?:what|which)\s+(?:is|are|was|were)\s+the\s+|what\s+|{_ANALYSE}\s+the\s+){_RELATION}\s+"
               rf"(?:(?:can|could|may)\s+be\s+(?:seen|drawn|found|observed)\s+|(?:is|are|exists?)\s+)?between\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$", re.I),
    re.compile(r"^(?:compare|correlate|align|combine|contrast|reconcile|relate|connect|match)\s+(?P<a>.+?)\s+(?:with|to|against)\s+(?P<b>.+)$", re.I),
)
# what closes the second side: a purpose ("… to understand their strategy"), a second question
_SIDE_END = re.compile(r"\s+(?:to|in order to|so as to)\s+(?:understand|assess|determine|see|gauge|evaluate|identify|show)\b.*$"
                       r"|,?\s+and\s+(?:what|how|why|which|whether)\b.*$|[?.!]+$", re.I)


def related(question: str) -> tuple[str, str] | tuple[()]:
    """The two things a question asks to be read together ("In Microsoft's Q3 2022 10-Q, how does the
    information on legal contingencies connect with financial reserves or provisions made for these
    liabilities?" → "the information on legal contingencies", "financial reserves or provisions made
    for these liabilities"), or () when it relates nothing."""
    text = LEAD_IN.sub("", without_implication(question).strip())
    for pattern in RELATED:
        if m := pattern.match(text):
            a = m.group("a").strip(" ,")
            b = _SIDE_END.sub("", m.group("b")).strip(" ,")
            if a and b and not A_TIME.match(b) and not re.match(r"on\b", b, re.I):  # "… compare to previous quarters", "reflect on"
                return a, b
    return ()


# Words that say where in a filing a side is discussed, not what it is: "the information on", "the
# discussion in", "… in the notes section", "… mentioned in the company's business overview".
WHERE_DISCUSSED = re.compile(
    r"^(?:(?:the|its|their)\s+)?(?:information|details|data|insights?|(?:management['’]?s?\s+)?discussions?|commentary|disclosures?)"
    r"(?:\s+(?:shared|provided|given|presented))?\s+(?:on|about|of|in|from|regarding)\s+(?:the\s+)?"
    r"|\s+(?:(?:mentioned|outlined|discussed|shared|provided|presented|described|given|reported)\s+)?(?:in|from|within)\s+(?:the\s+)?"
    r"(?:company['’]s\s+)?(?:financial\s+statements?|notes|financial\s+section|business\s+overview|management['’]?s?\s+discussion|"
    r"human\s+resources|report|md&a)(?:\s+(?:section|area|part))?$"
    r"|\s+(?:section|area)$",
    re.I,
)
BACK_REFERENCE = re.compile(r"\b(?:these|those|such|this|that)\s+\w+", re.I)


def side_topic(side: str) -> str:
    """One side of a relation question as it is searched: what it is, not where it is discussed."""
    for _ in range(2):
        side = WHERE_DISCUSSED.sub("", side.strip(" ,?.")).strip() or side
    return re.sub(r"^(?:the|its|their)\s+(?=\S)", "", side, flags=re.I)


def side_label(side: str, words: int = 8) -> str:
    """One side of a relation question (`side_topic`) as its answer line leads ("Legal contingencies")."""
    kept = side.split()[:words]
    while len(kept) > 1 and kept[-1].lower() in STOPWORDS:  # "… in the financial statements for" → "… in the financial statements"
        kept.pop()
    side = " ".join(kept)
    return side[:1].upper() + side[1:]


# "X compare(d) to Y", "X measure up against Y", "X relative to Y": two amounts set side by side.
COMPARED = re.compile(
    r"\s+compare[sd]?\s+(?:to|with|against)\s+|\s+(?:measure[sd]?|stack(?:s|ed)?)\s+up\s+(?:against|to|with)\s+"
    r"|\s+relative\s+to\s+|\s+versus\s+|\s+vs\.?\s+|\s+against\s+", re.I)
COMPARED_OPENING = re.compile(r"^\s*(?:how\s+(?:did|does|do|has|have|is|are|was|were)\s+|what\s+(?:is|was|are|were)\s+)", re.I)
# "…, and how does this compare to …": the first amount is the clause before
THIS_COMPARED = re.compile(r"^(?P<x>.+?),?\s+(?:and\s+)?how\s+(?:does|did|do)\s+(?:this|that|it|these|they)$", re.I)
# the other side is a time, not an amount: "compared to the previous quarter", "relative to last year"
A_TIME = re.compile(r"^(?:the\s+)?(?:(?:same|previous|prior|past|preceding|last|earlier|corresponding|year[- ]ago)\b|(?:a|one)\s+year\s+ago\b)", re.I)


def compared_amounts(topic: str) -> tuple[str, ...]:
    """The two amounts a topic sets side by side ("how did operating expenses compare to its revenue
    for the same quarter?" → "operating expenses", "its revenue"), or () when it compares with an
    earlier time or compares nothing."""
    parts = COMPARED.split(topic.strip().rstrip("?."), maxsplit=1)
    if len(parts) != 2:
        return ()
    first, second = COMPARED_OPENING.sub("", parts[0]).strip(" ,"), parts[1].strip(" ,")
    if m := THIS_COMPARED.match(first):
        first = COMPARED_OPENING.sub("", m.group("x")).strip(" ,")
    second = re.split(r"\s+(?:for|in|during|over)\s+the\s+(?:same|corresponding)\b|,", second, maxsplit=1)[0].strip()
    if not first or not second or A_TIME.match(second):
        return ()
    return first, second


SHARE = re.compile(r"^\s*(?:what|which)\s+(?:percentage|percent|proportion|share|portion|fraction)\s+of\b"
                   r"|\bas\s+an?\s+(?:percentage|percent|proportion|share|portion|fraction)\s+of\b", re.I)


SHARE_WORDS = re.compile(r"\b(?:(?:percentage|percent|proportion|share|portion|fraction)\s+of|contribute[sd]?|generated\s+by|"
                         r"account(?:s|ed)?\s+for|represent(?:s|ed)?|ma(?:k|d)e\s+up|c[oa]me\s+from|business(?:es)?|divisions?)\b", re.I)


def asks_share(question: str) -> bool:
    """Does the question ask what share of a whole one item is ("What percentage of total revenue did
    the Services segment contribute?", "Data Center revenue as a share of total revenue")?"""
    return bool(SHARE.search(LEAD_IN.sub("", " ".join(question.split()))))


def subject_names(question: str) -> list[str]:
    """Proper names the question is about: capitalised words past its first word, not periods or
    generic document words ("Alphabet", "Tesla"; not "Q3", "10-Q")."""
    out = []
    for name in names(question):
        for word in name.split():
            bare = re.sub(r"['’]s$", "", word).strip(".,;:")
            if len(bare) < 3 or not bare[0].isupper() or any(c.isdigit() for c in bare) or bare.lower() in STOPWORDS:
                continue
            if re.fullmatch(r"[A-Z]{1,4}", bare) and bare in ("GAAP", "CEO", "CFO", "USD", "EUR", "GBP", "FY"):
                continue
            out.append(bare)
    return list(dict.fromkeys(out))


def short_name(name: str, words: int = 6) -> str:
    """A document's name as an answer labels it: its first " | " field, at most `words` words."""
    first = name.split(" | ")[0]
    return " ".join(first.split()[:words])
