"""Questions over a company's segments, and the figures each segment's table rows give.

"How does Microsoft's revenue distribution across its various business segments compare to …", "What
was the reported revenue from Amazon's e-commerce and AWS segments?", "how does the operational
expenses section relate to the segment reporting?": the answer is one figure per segment, while the
question's words find one row of the segment table (the model states "AWS — Net sales" and stops) or
the prose around it. The filing names its segments in a sentence of its own ("We have organized our
operations into three segments: North America, International, and AWS", "Our two operating segments
are "Compute & Networking" and "Graphics"", a bulleted list, "The Graphics segment includes …"), and
its tables give each one's figures in one of three shapes:

- a row named for the segment under a heading that names the measure ("| Net Sales: |" then "| North
  America | $ 78,843 | $ 87,887 |"), or for both ("| Revenue — Intelligent Cloud | 24,259 | 20,325 |");
- a measure's row under a heading that names the segment ("| North America |" then "| Operating income
  (loss) | $ (412) | $ 4,307 |"), or an unlabelled subtotal under it (Intel's "|  | 7,867 |");
- a measure's row whose columns are the segments, named in that order by the table's caption (NVIDIA's
  "Compute & Networking Graphics All Other Consolidated" over "| Revenue | $ 14,645 | $ 3,475 | …").

`asked` tells such a question and the measures it asks (revenue and operating income, what a segment
note reports, when it names none); `names` reads the segment names from the filing's passages and
`figures` the rows that give each segment's measure. The composer (retrieval/composer.py) reads the
latest period's figure of each, checks it like the model's, and shows it with the segment's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.focus import TOTAL_LABEL, current_value, is_figure, table_cells, table_headings, table_rows

# the segments as a whole: "across its various business segments", "the segment reporting", "by segment"
SEGMENTS_QUESTION = re.compile(
    r"\bsegment (?:reporting|information|results|data|disclosures?|operating performance)\b|\bby segments?\b"
    r"|\b(?:its|their|the|various|each|all|different|diverse|reportable|operating|business)\s+(?:business\s+|reportable\s+|operating\s+)?segments\b"
    r"|\bacross\s+(?:[\w’'-]+\s+){0,4}segments\b", re.I)
# two things named as segments ("e-commerce and AWS segments"): when one of them is a segment of the
# filing and the other is not, the other is the user's word for some of them, and all are shown
TWO_SEGMENTS = re.compile(r"\b(?P<a>[\w&.-]+)\s+and\s+(?P<b>[\w&.-]+(?:\s+[\w&.-]+)?)\s+segments\b", re.I)

MEASURES = {  # a measure's name as the answer gives it: how questions and table labels write it
    "revenue": r"(?<!unearned\s)(?<!deferred\s)(?:revenues?|net sales|sales)",
    "operating income": r"operating income|operating (?:profit|loss)|earnings",
    "operating expenses": r"operating expenses|costs?|expenses|expenditures?|spending",
}
MEASURE = {name: re.compile(rf"\b(?:{spelling})\b", re.I) for name, spelling in MEASURES.items()}
DEFAULT_MEASURES = ("revenue", "operating income")  # what a segment note reports for each segment

# how a filing names its segments
LISTED = re.compile(r"\bsegments?\s*(?:consist of|are|include|:)\s*(?P<list>[^.\n]+?)\s*(?:[.]\s|[.]?$|,?\s+as described\b)", re.I | re.M)
BY_SEGMENT = re.compile(r"\bby (?:reportable |operating )?segment\b", re.I)  # a table caption over one row per segment
BULLETED = re.compile(r"\bsegments?\s*:\s*\n(?P<list>(?:\s*[▪•·-]\s*[^\n]+\n?)+)", re.I)
DESCRIBED = re.compile(r"\b(?:The|Our)\s+(?P<name>[A-Z][\w&]*(?:\s+(?:&|and|of|[A-Z][\w&]*)){0,4})\s+segment\s+(?:primarily\s+)?(?:includes|consists|comprises)\b")
ABBREVIATION = re.compile(r"^(?P<name>.+?)\s*\((?P<abbr>[A-Z][A-Za-z&]{1,6})\)")
QUOTED = re.compile(r"[\"“](?P<name>[^\"”]+?)[,.]?[\"”]")
NAME = re.compile(r"^[A-Z][\w&’'-]*(?:\s+(?:&|and|of|[A-Z][\w&’'-]*)){0,5}$")
SHARES = re.compile(r"\b(?:mix|growth|percentage|percent|margin)\b|%", re.I)  # a heading over shares or rates
MOST_NAMES = 8


@dataclass(frozen=True)
class Segment:
    name: str
    abbreviation: str = ""

    def named_in(self, text: str) -> int | None:
        """Where `text` names the segment (its name, or its abbreviation as a word), else None."""
        found = [m.start() for m in (re.search(rf"(?<![\w&]){re.escape(self.name)}(?![\w&])", text, re.I),
                                     re.search(rf"(?<![\w&]){re.escape(self.abbreviation)}(?![\w&])", text) if self.abbreviation else None) if m]
        return min(found) if found else None


@dataclass(frozen=True)
class SegmentRow:
    segment: Segment
    measure: str
    row: str  # the table line
    column: int | None = None  # the row's figure cell of the segment, when the segments are its columns

    def value(self, text: str) -> str | None:
        """The row's figure for the latest period (the segment's column's, when the segments are columns)."""
        if self.column is None:
            value = current_value(text, self.row)
        else:
            cells = table_cells(self.row)
            value = cells[self.column] if self.column < len(cells) and is_figure(cells[self.column]) else None
        return value if value is not None and "%" not in value else None


def asked(question: str, topic: str | None = None) -> tuple[str, ...] | None:
    """The measures a question over the segments as a whole asks for ("revenue", "operating income",
    "operating expenses"; the segment note's two when it names none), read from `topic` (one side
    of a relation question) when given; None when the question is not about the segments as a whole.
    A question naming two segments where one is the user's own word is told later (`widened`)."""
    if not SEGMENTS_QUESTION.search(question) and not TWO_SEGMENTS.search(question):
        return None
    words = topic if topic is not None else question
    return tuple(name for name, pattern in MEASURE.items() if pattern.search(words)) or DEFAULT_MEASURES


def widened(question: str, segments: Sequence[Segment]) -> bool:
    """Whether the question asks for all of `segments`: it speaks of the segments as a whole, or names
    two as segments of which one is the filing's and the other is not ("e-commerce and AWS segments")."""
    if SEGMENTS_QUESTION.search(question):
        return True
    m = TWO_SEGMENTS.search(question)
    if m is None:
        return False
    known = [any(s.named_in(m.group(side)) is not None for s in segments) for side in ("a", "b")]
    return any(known) and not all(known)


def names(texts: Iterable[str]) -> list[Segment]:
    """The segments the passages name, in the filing's order, from its list of them (the first found)
    or, failing that, from the sentences describing each ("The Graphics segment includes …")."""
    texts = list(texts)
    for text in texts:
        for m in BULLETED.finditer(text):
            found = [_segment(re.sub(r"^\s*[▪•·-]\s*", "", line)) for line in m.group("list").splitlines() if line.strip()]
            if len(found := [s for s in found if s is not None]) >= 2:
                return found[:MOST_NAMES]
        for m in LISTED.finditer(text):
            if len(found := _listed(m.group("list"))) >= 2:
                return found[:MOST_NAMES]
    tabled = list(dict.fromkeys(s for text in texts for s in _tabled(text)))  # the table may run over passages
    if len(tabled) >= 2:
        return tabled[:MOST_NAMES]
    described: dict[str, Segment] = {}
    for text in texts:
        for m in DESCRIBED.finditer(text):
            described.setdefault(m.group("name").lower(), Segment(m.group("name")))
    return list(described.values())[:MOST_NAMES] if len(described) >= 2 else []


def _tabled(text: str) -> list[Segment]:
    """The row labels of a table whose caption says its rows are the segments ("Net sales by reportable
    segment": Apple's Americas, Europe, …), its total left out."""
    found: list[Segment] = []
    for heading in table_headings(text):
        if BY_SEGMENT.search(table_cells(heading)[0]):
            labels = (table_cells(row)[0] for row in table_rows(text, heading))
            found += [segment for label in labels if not TOTAL_LABEL.match(label) and (segment := _segment(label)) is not None]
    return found


def _listed(text: str) -> list[Segment]:
    """'North America, International, and AWS' / '"Compute & Networking" and "Graphics,"' / 'the
    Americas, Europe, Greater China, Japan and Rest of Asia Pacific': the names. A name may hold "and"
    ("Productivity and Business Processes"): only a list without a comma before its last "and"
    splits its last item there."""
    if quoted := QUOTED.findall(text):
        items = quoted
    else:
        items = [re.sub(r"^and\s+", "", item.strip()) for item in text.split(",")]
        if len(items) >= 2 and not re.match(r"\s*and\s", text.split(",")[-1]) and " and " in items[-1]:
            items[-1:] = items[-1].split(" and ", 1)
    found = [_segment(item) for item in items]
    return [s for s in found if s is not None]


def _segment(item: str) -> Segment | None:
    item = re.sub(r"^(?:the|our)\s+", "", item.strip(), flags=re.I).strip(" .,;:")
    if m := ABBREVIATION.match(item):
        name, abbreviation = m.group("name"), m.group("abbr")
    else:
        name, abbreviation = item, ""
    return Segment(name, abbreviation) if NAME.match(name) else None


def measure_of(text: str) -> str | None:
    """The measure a label names last ("Net revenue and operating income … Net revenue: Client Computing" → revenue)."""
    found = [(m.start(), name) for name, pattern in MEASURE.items() for m in pattern.finditer(text)]
    return max(found)[1] if found else None


def _named(text: str, segments: Sequence[Segment]) -> Segment | None:
    """The segment a label names (the longest name when two match: "Rest of Asia Pacific", not "Asia")."""
    found = [s for s in segments if s.named_in(text) is not None]
    return max(found, key=lambda s: len(s.name)) if found else None


def figures(text: str, segments: Sequence[Segment], measures: Sequence[str]) -> list[SegmentRow]:
    """The table rows of a passage that give one of `segments` one of `measures`, in the shapes the
    module's docstring lists. A heading row without figures sets the segment or the measure the rows
    under it give, within its table."""
    rows: list[SegmentRow] = []
    for heading in table_headings(text):
        # the table's heading: its caption names the measure and maybe the segments (columns) or the first segment
        caption = table_cells(heading)[0]
        measure = measure_of(caption)
        order = sorted((at, s.name, s) for s in segments if (at := s.named_in(caption)) is not None)
        columns = [s for _, _, s in order] if len(order) >= 2 else []
        segment = order[-1][2] if len(order) == 1 else None
        for line in table_rows(text, heading):
            cells = table_cells(line)
            label, numbers = cells[0], [c for c in cells[1:] if is_figure(c)]
            named, said = _named(label, segments), measure_of(label)
            if not numbers:  # a heading row: "| North America |", "| Operating income (loss): |", "| Net Sales Mix: |"
                said = None if SHARES.search(label) else said
                if named is not None:
                    segment, measure = named, said or measure
                else:
                    segment, measure = None, said
                continue
            if all("%" in c for c in numbers):
                continue  # shares or growth rates, not the amounts
            if columns and said and named is None and re.sub(r"\(loss\)|[:\s]", "", label.lower()) == re.sub(r"\s", "", said):
                rows += [SegmentRow(s, said, line, column=1 + k) for k, s in enumerate(columns)]
            elif named is not None:
                if (said or measure) in measures:
                    rows.append(SegmentRow(named, said or measure, line))
            elif segment is not None and not TOTAL_LABEL.match(label) and (said or not label) and (said or measure) in measures:
                rows.append(SegmentRow(segment, said or measure, line))
    return [r for r in rows if r.measure in measures]
