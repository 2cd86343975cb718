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
from dataclasses import dataclass, field
from typing import Any

from retrieval.schema import ChatMessage

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


POINT_CHARS = 320  # a point's text is cut here by the grammar: retrieval/checks.py drops the cut-off sentence


def schema_for(kind: str, documents: int, yes_no_first: bool = False) -> dict[str, Any]:
    doc = {"type": "integer", "enum": list(range(1, max(documents, 1) + 1))}
    if kind in ("text", "list"):
        point = {"type": "object", "properties": {"doc": doc, "text": {"type": "string", "maxLength": POINT_CHARS}}, "required": ["doc", "text"]}
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
    for key, kind, into in (("facts", Fact, draft.facts), ("points", Point, draft.points)):
        for item in data.get(key) or []:
            if isinstance(item, dict) and isinstance(read := _item(item), kind):
                into.append(read)
    return draft


ITEM_DOC = re.compile(r'\{\s*"doc"\s*:\s*(\d+)\s*[,}]')


class FormReader:
    """The items of a form still being written, each as soon as its object is closed
    (`{"points": [{"doc": 1, "text": "…"}, {…` gives the first point while the second is written),
    and the yes/no verdict once written: an answer is shown item by item instead of after the
    whole form."""

    def __init__(self) -> None:
        self.text = ""
        self.verdict: str | None = None
        self._at: int | None = None  # where the next item object starts, once the list is open
        self.writing: int | None = None  # the document of the item being written, once its "doc" is
        self._decoder = json.JSONDecoder()

    def feed(self, delta: str) -> list[Fact | Point]:
        self.text += delta
        if self.verdict is None and (said := re.search(r'"answer"\s*:\s*"([^"]*)"', self.text)):
            self.verdict = said.group(1).lower()
        if self._at is None:
            opened = re.search(r'"(?:facts|points)"\s*:\s*\[', self.text)
            if not opened:
                return []
            self._at = opened.end()
        found: list[Fact | Point] = []
        while True:
            at = self._at
            while at < len(self.text) and self.text[at] in " \t\r\n,":
                at += 1
            if at >= len(self.text) or self.text[at] != "{":
                return found
            try:
                item, end = self._decoder.raw_decode(self.text, at)
            except ValueError:
                started = ITEM_DOC.match(self.text, at)
                self.writing = int(started.group(1)) if started else None
                return found  # not closed yet
            self._at = end
            if isinstance(item, dict) and (read := _item(item)):
                found.append(read)


def _item(item: dict[str, Any]) -> Fact | Point | None:
    if str(item.get("value", "")).strip():
        return Fact(_int(item.get("doc")), str(item.get("quote", "")), str(item.get("value", "")), str(item.get("about", "")))
    if str(item.get("text", "")).strip():
        return Point(_int(item.get("doc")), str(item.get("text", "")))
    return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
