"""Typed answers: the model fills a small JSON form per answer type; code checks every figure,
date and name against the passage it comes from, and writes the sentence the user reads, with the
citation markers placed by code.

Forms (JSON schemas, held to by llama.cpp's grammar or an API's `response_format`):
- number / date / name: `{"facts": [{"doc", "quote", "value"}]}` — the document, the words or table
  row copied from it, and the value as written there. What the value is comes from the document,
  not the model: a table value is labelled with its row and column headings, a value from prose
  is given in the document's own sentence;
- yes/no: `{"answer": "yes" | "no" | "not stated", "facts": [...]}`;
- free text and lists: `{"points": [{"doc", "text"}]}` — up to three sentences, each from one document.
An empty list means the documents do not hold the answer.

Checks (`check`): a quote must be found in its document (or in another prompt document, which then
becomes the citation); every amount and date in a value, label or point must occur in the cited
passage (facts normalised: thousands separators, scale words, a table's "(In millions)",
percentages). A failing label is dropped, a failing value or point is dropped; an answer left with
nothing is a refusal, with the reasons kept. A bare table number gets its table's scale
("36,413" under "(In millions)" is written "$36,413 million").
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.facts import amount_in, date_in, dates, name_in, names, quantities, table_scale
from retrieval.schema import ChatMessage, ScoredChunk

FACT_KINDS = ("number", "date", "name", "yes_no")
FIGURE_PATTERN = r"^[-(]?([$€£]|USD |EUR |GBP )?[0-9][0-9,]{0,14}([.][0-9]{1,4})?( ?%| percent| million| billion| thousand| days| hours| weeks| months| years| employees| shares)?[)]?$"
MAX_FACTS = 4
MAX_POINTS = 3

# How each form is filled is explained once, in the fixed system prompt (retrieval/prompts/typed.txt,
# whose KV cache is reused across questions); the user message ends with a short reminder of the
# form this question takes, next to where the model starts writing.
INSTRUCTIONS = {
    "number": 'Form: figures. Reply {"facts": [{"doc", "quote", "value"}]}.',
    "date": 'Form: dates. Reply {"facts": [{"doc", "quote", "value"}]}.',
    "name": 'Form: names. Reply {"facts": [{"doc", "quote", "value"}]}.',
    "yes_no": 'Form: yes or no. Reply {"answer": "yes" | "no" | "not stated", "facts": [{"doc", "quote", "value"}]}.',
    "text": 'Form: points. Reply {"points": [{"doc", "text"}]}, at most 3.',
}
INSTRUCTIONS["list"] = INSTRUCTIONS["text"]


# ---- the form ------------------------------------------------------------------------------------------


def schema_for(kind: str, documents: int, yes_no_first: bool = False) -> dict[str, Any]:
    doc = {"type": "integer", "enum": list(range(1, max(documents, 1) + 1))}
    if kind in ("text", "list"):
        point = {"type": "object", "properties": {"doc": doc, "text": {"type": "string", "maxLength": 320}}, "required": ["doc", "text"]}
        return {"type": "object", "properties": {"points": {"type": "array", "items": point, "maxItems": MAX_POINTS}}, "required": ["points"]}
    value: dict[str, Any] = {"type": "string", "maxLength": 80}
    if kind == "number":  # a figure, not a sentence or a structure: "$36,413", "12.5%", "(1,234)", "4.2 billion"
        value = {"type": "string", "pattern": FIGURE_PATTERN}
    fact = {
        "type": "object",
        "properties": {
            "doc": doc,
            "quote": {"type": "string", "maxLength": 160},
            "value": value,
        },
        "required": ["doc", "quote", "value"],
    }
    props: dict[str, Any] = {}
    if kind == "yes_no" or yes_no_first:
        props["answer"] = {"type": "string", "enum": ["yes", "no", "not stated"]}
    props["facts"] = {"type": "array", "items": fact, "maxItems": MAX_FACTS}
    return {"type": "object", "properties": props, "required": list(props)}


def instruction_for(kind: str, yes_no_first: bool) -> str:
    if yes_no_first and kind not in ("text", "list"):
        return INSTRUCTIONS["yes_no"]
    return INSTRUCTIONS[kind]


def messages_for(kind: str, question: str, documents: str, system: str, yes_no_first: bool = False) -> list[ChatMessage]:
    """The system prompt is the same for every question (its KV cache is reused); everything that
    varies, the form last, is in the user message."""
    user = f"<documents>\n{documents}\n</documents>\n\nQuestion: {question.strip()}\n\n{instruction_for(kind, yes_no_first)}"
    return [ChatMessage("system", system), ChatMessage("user", user)]


# ---- what the model filled in --------------------------------------------------------------------------


@dataclass
class Fact:
    doc: int
    quote: str
    value: str
    about: str = ""


@dataclass
class Point:
    doc: int
    text: str


@dataclass
class Draft:
    facts: list[Fact] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    verdict: str | None = None  # yes / no / not stated
    malformed: bool = False


def _load(text: str) -> Any:
    """The first JSON object in `text`; a form cut off by the token limit is closed after its last
    complete item ({"facts": [{…}, {… → {"facts": [{…}]})."""
    start = text.find("{")
    if start < 0:
        return None
    for end in range(len(text), start, -1):
        if text[end - 1] != "}":
            continue
        for tail in ("", "]}", "]}]}"):
            try:
                return json.loads(text[start:end] + tail)
            except ValueError:
                continue
    return None


def parse(text: str) -> Draft:
    """Tolerant: the first JSON object in `text` (a server without grammar support may wrap it in
    prose or a code fence); unreadable output is an empty, malformed draft."""
    data = _load(text)
    if data is None:
        return Draft(malformed=bool(text.strip()))
    if not isinstance(data, dict):
        return Draft(malformed=True)
    draft = Draft(verdict=str(data["answer"]).lower() if isinstance(data.get("answer"), str) else None)
    for item in data.get("facts") or []:
        if isinstance(item, dict) and str(item.get("value", "")).strip():
            draft.facts.append(Fact(_int(item.get("doc")), str(item.get("quote", "")), str(item.get("value", "")), str(item.get("about", ""))))
    for item in data.get("points") or []:
        if isinstance(item, dict) and str(item.get("text", "")).strip():
            draft.points.append(Point(_int(item.get("doc")), str(item.get("text", ""))))
    return draft


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# ---- checking ------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[.,][0-9]+)*", text.lower())


def quote_support(quote: str, passage: str) -> float:
    """How much of a quote the passage holds: 1.0 when it contains it (spacing, case and table
    pipes aside), else the share of the quote's words found in the passage."""
    q, p = " ".join(_words(quote)), " ".join(_words(passage))
    if not q:
        return 0.0
    if q in p:
        return 1.0
    words = q.split()
    vocabulary = set(p.split())
    return sum(w in vocabulary for w in words) / len(words)


def supported(text: str, passage: str, question: str = "") -> list[str]:
    """The amounts, dates and proper names in `text` that `passage` does not contain (names the
    question itself uses are allowed: restating the subject is not a claim)."""
    missing = [q.text for q in quantities(text) if not amount_in(q, passage)]
    missing += [d.text for d in dates(text) if not date_in(d, passage)]
    missing += [n for n in names(text) if not name_in(n, passage) and not name_in(n, question) and not _name_parts_in(n, passage)]
    return missing


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
CITATION_MARKER = re.compile(r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]")


def empty_value(value: str) -> bool:
    """A value that says nothing: a citation marker where the figure belongs ("[2]"), or "N/A"."""
    from retrieval.answering import looks_like_refusal

    bare = CITATION_MARKER.sub("", value).strip(" .,:;-")
    return not bare or looks_like_refusal(bare, 0)


def check(draft: Draft, contexts: Sequence[ScoredChunk], question: str) -> Checked:
    passages = [passage_text(c) for c in contexts]
    out = Checked(verdict=draft.verdict if draft.verdict in ("yes", "no") else None)
    for fact in draft.facts:
        if empty_value(fact.value):
            out.dropped.append(f"{fact.value!r}: not a value")
            continue
        doc = _source_of(fact.quote, fact.value, fact.doc, passages)
        if doc is None:
            out.dropped.append(f"{fact.value!r}: its quote is in no document")
            continue
        passage = passages[doc - 1]
        if doc != fact.doc:
            out.repaired.append(f"{fact.value!r}: cited document {fact.doc} → {doc}")
        value = fact.value
        if missing := supported(value, passage, question):
            value = scaled_in_passage(value, passage)
            missing = supported(value, passage, question) if value != fact.value else missing
            if missing:
                out.dropped.append(f"{fact.value!r}: {', '.join(missing)} not in document {doc}")
                continue
            out.repaired.append(f"{fact.value!r} → {value!r} (as the document writes it)")
        about = table_label(value, fact.quote, passage)  # what the value is, from the table itself
        if not about and fact.about and not supported(fact.about, passage, question):
            about = fact.about
        scaled = with_scale(value, fact.quote, passage)
        if scaled != value:
            out.repaired.append(f"{value!r} → {scaled!r} (the table's unit)")
        out.facts.append(Fact(doc, fact.quote, scaled, about))
    for point in draft.points:
        if empty_value(point.text) or VALUE_MARKER.search(point.text):
            out.dropped.append(f"point {point.text[:60]!r}: a marker or nothing where a value belongs")
            continue
        doc = point.doc if 1 <= point.doc <= len(passages) else None
        missing = supported(point.text, passages[doc - 1], question) if doc else ["its document"]
        if missing:
            other = next((i + 1 for i, p in enumerate(passages) if not supported(point.text, p, question)), None)
            if other is None:
                out.dropped.append(f"point {point.text[:60]!r}: {', '.join(missing)} not in document {doc}")
                continue
            out.repaired.append(f"point cited document {point.doc} → {other}")
            doc = other
        out.points.append(Point(doc, point.text.strip()))
    if out.verdict and not out.facts:
        out.dropped.append(f"{out.verdict!r} without a supported fact")
        out.verdict = None
    return out


def _source_of(quote: str, value: str, doc: int, passages: Sequence[str], min_support: float = 0.8) -> int | None:
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
SEPARATOR = re.compile(r"^\|\s*-{3}")


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table_label(value: str, quote: str, passage: str) -> str:
    """For a value read from a table: its row label and its column heading ("Total net sales, Three
    Months Ended July 1, 2023"), taken from the passage's table; "" when it is not a table value."""
    found = quantities(value, keep_years=True)
    if not found:
        return ""
    digits = found[0].text.lstrip("$€£ ").strip()
    lines = passage.splitlines()
    rows = [i for i, line in enumerate(lines) if line.lstrip().startswith("|") and not SEPARATOR.match(line.strip())
            and any(c.lstrip("$€£ ").strip() == digits for c in _cells(line)[1:])]
    if not rows:
        return ""
    i = max(rows, key=lambda r: quote_support(quote, lines[r]) if quote else 0.0)
    cells = _cells(lines[i])
    column = next(k for k in range(1, len(cells)) if cells[k].lstrip("$€£ ").strip() == digits)
    label = cells[0].rstrip(":").strip()
    if not label or not re.search(r"[A-Za-z]", label):
        return ""
    for h in range(i - 1, -1, -1):  # the heading row: the line above the nearest separator
        if SEPARATOR.match(lines[h].strip()) and h > 0:
            heading = _cells(lines[h - 1])
            if len(heading) == len(cells) and heading[column]:
                return f"{label}, {heading[column]}"
            break
    return label


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
    when the table's figures are in dollars)."""
    found = quantities(value)
    if len(found) != 1 or found[0].scaled or found[0].percent:
        return value
    scale = table_scale(passage)
    if scale == 1.0 or not _in_table(found[0].text, passage):
        return value
    q = found[0]
    dollars = not q.currency and ("$" in quote or re.search(r"\$\s*" + re.escape(q.text.lstrip("$ ")), passage) or "dollars in" in passage.lower())
    number = q.text.lstrip("$ ").strip()
    return value.replace(q.text, f"{'$' if dollars or q.currency == '$' else ''}{number} {SCALE_WORD[scale]}", 1)


def _in_table(number: str, passage: str) -> bool:
    digits = number.lstrip("$ ").strip()
    return any(digits in line for line in passage.splitlines() if line.lstrip().startswith("|"))


# ---- the sentence the user reads ------------------------------------------------------------------------


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text.rstrip(" .;,") + "."


def render(checked: Checked, cite, *, lead: str = "") -> str:
    """The answer text for one part: each value or point a sentence ending in its marker,
    `cite(doc, evidence)` giving the marker number; a yes/no verdict first. Empty when nothing
    survived the checks."""
    pieces: list[str] = []
    if checked.verdict in ("yes", "no"):
        pieces.append(checked.verdict.capitalize() + ".")
    for fact in checked.facts:
        about = fact.about.strip().rstrip(":")
        if about:
            text = f"{about[:1].upper() + about[1:]}: {fact.value.strip()}"
        elif _prose(fact.quote) and _states(fact.quote, fact.value):
            text = fact.quote  # the document's own sentence, checked to be in it
        else:
            text = fact.value.strip()
        pieces.append(f"{_sentence(text)} [{cite(fact.doc, fact.quote or fact.value)}]")
    for point in checked.points:
        pieces.append(f"{_sentence(point.text)} [{cite(point.doc, point.text)}]")
    if not pieces:
        return ""
    return (f"{lead}: " if lead else "") + " ".join(pieces)


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
        bare = CITATION_MARKER.sub("", sentence)
        numbers = [int(n) for m in CITATION_MARKER.findall(sentence) for n in re.findall(r"\d+", m)]
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
    for piece in re.split(r"(?<=[.!?])\s+|\n+", text):
        if not piece.strip():
            continue
        head = re.match(r"^(?:\s*\[\d+\])+", piece)
        if head and out:
            out[-1] += head.group(0)
            piece = piece[head.end():]
        if piece.strip():
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
