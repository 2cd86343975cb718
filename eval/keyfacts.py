"""Key facts of a reference answer, and how many of them an answer states.

A key fact is what a reader checks an answer against:
- an amount, with its scale ("$36,413 million", "47.55%", "102,673,000 shares"); an answer matches it
  when it states the same amount within the precision either was written with ("$36.4 billion"
  matches "$36,413 million"; a bare "36,413" does not: the reader would take it as dollars);
- a date, when the question asks when;
- a proper name the question does not already contain ("European Commission", "iPad Pro");
- yes or no, when the question asks it and the reference opens with it.

Amounts, dates and names that the question itself contains are not key facts, nor are years,
quarter labels and document names. A reference that only says the documents do not hold the
answer has no key facts and expects a refusal (`expects_refusal`).

Scoring: `recall` = key facts stated / key facts; an answer is `correct` when it states at least
half of them (and the right yes/no). Both are reported; the benchmark's accuracy is the share of
correct answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retrieval.facts import dates, name_in, names, quantities, same_amount
from retrieval.text import MARKER

CORRECT_SHARE = 0.5
YES_NO_QUESTION = re.compile(r"^\s*(did|does|do|is|are|was|were|has|have|had|can|could|will|would|should)\b", re.I)
WHEN_QUESTION = re.compile(r"^\s*(when|what date|on what date|by when)\b|\bwhat (?:is|was) the date\b", re.I)
SOURCE_LINE = re.compile(r"^\s*SOURCE\(?S?\)?:.*$", re.I | re.M)
FILE_NAME = re.compile(r"\b[\w\- ]+\.(?:pdf|docx?|xlsx?|pptx?|csv|md|txt|html?)\b", re.I)
NOT_STATED = re.compile(
    r"\b(?:do(?:es)? not|did not|doesn't|don't) (?:provide|mention|disclose|specify|contain|include|state|report|discuss|detail|explicitly)"
    r"|\bnot (?:provided|mentioned|disclosed|specified|available|stated|included|reported)\b"
    r"|\bno (?:specific |explicit |direct )?(?:information|mention|details?|data)\b",
    re.I,
)
# "Apple did not disclose any changes to its accounting policies": a finding (there were none), not a
# statement that the documents lack the answer ("does not disclose any specific details").
NEGATIVE_FINDING = re.compile(
    r"\b(?:do(?:es)? not|did not|doesn't|don't|ha(?:s|ve) not) (?:report|disclose|mention|announce|make|record|have) any "
    r"(?!(?:specific |explicit |direct |detailed )?(?:information|details?|data|mention|breakdown|figures?)\b)",
    re.I,
)
IF_ANY = re.compile(r"\bif any\b", re.I)
PERIOD_LABEL = re.compile(r"(?:Q[1-4]|H[12]|FY|YTD)\s*'?(?:\d{2}|\d{4})?(?:\s+(?:Q[1-4]|\d{4}))?", re.I)
# "Apple Inc." is the question's "Apple": a company's legal form is not a fact of its own.
LEGAL_SUFFIX = re.compile(r"^(?:inc|corp|corporation|co|ltd|llc|plc|company)\.?$", re.I)
NEGATIVE_OPENING = re.compile(r"^\s*(no\b|there (?:were|was|is|are|ha(?:ve|s) been) no\b|\w+(?: \w+)? (?:did|does|do|has|have) not\b)", re.I)


@dataclass(frozen=True)
class KeyFact:
    kind: str  # "amount" | "date" | "name" | "yes" | "no"
    text: str


@dataclass
class FactScore:
    facts: list[KeyFact]
    found: list[KeyFact] = field(default_factory=list)
    expects_refusal: bool = False

    @property
    def recall(self) -> float | None:
        return len(self.found) / len(self.facts) if self.facts else None

    @property
    def missing(self) -> list[KeyFact]:
        return [f for f in self.facts if f not in self.found]


QUOTED_PART = re.compile(r'["“][^"”\n]{1,80}["”]\s+(?:section|note|statement|table|part|heading)s?\b', re.I)


# The operands of a calculation the reference shows ("(21,213 / 81,797) * 100 = 25.93%"): they restate
# figures it states elsewhere, or are constants; its result stays a key fact.
CALCULATION = re.compile(r"\(?\s*\d[\d,.]*\s*[/*×÷]\s*\d[\d,.]*\s*\)?(?:\s*[/*×÷]\s*\d[\d,.]*)*(?=\s*=)")


def _clean_reference(reference: str) -> str:
    """Without the SOURCE(S) line, file names, quoted section titles ("the "Risk Factors" section")
    and the operands of a calculation."""
    return CALCULATION.sub(" ", QUOTED_PART.sub(" ", FILE_NAME.sub(" ", SOURCE_LINE.sub(" ", reference))))


def key_facts(question: str, reference: str) -> list[KeyFact]:
    text = _clean_reference(reference)
    asked = question
    facts: list[KeyFact] = []
    asked_amounts = quantities(asked, keep_years=True)
    for q in quantities(text):
        if any(same_amount(q, a) and q.percent == a.percent for a in asked_amounts):
            continue
        facts.append(KeyFact("amount", q.text))
    if WHEN_QUESTION.search(question):
        asked_dates = {d.key for d in dates(asked)}
        facts += [KeyFact("date", d.text) for d in dates(text) if d.key not in asked_dates]
    found_names = [
        n
        for n in names(text)
        if not (name_in(n, asked) or all(name_in(w, asked) for w in n.split() if not LEGAL_SUFFIX.match(w)) or PERIOD_LABEL.fullmatch(n))
    ]
    # "Epic Games" and "Epic Games Lawsuit" are one fact: the shortest form that the others contain.
    for name in found_names:
        if not any(other != name and name_in(other, name) for other in found_names):
            facts.append(KeyFact("name", name))
    if YES_NO_QUESTION.search(question) or IF_ANY.search(question):
        opening = text.strip()[:80]
        if re.match(r"^\s*yes\b", opening, re.I):
            facts.append(KeyFact("yes", "yes"))
        elif NEGATIVE_OPENING.search(opening):
            facts.append(KeyFact("no", "no"))
    return list(dict.fromkeys(facts))


def expects_refusal(reference: str, facts: list[KeyFact]) -> bool:
    """The reference only says the documents do not hold the answer (not that what was asked about did not happen)."""
    opening = _clean_reference(reference)[:400]
    return not [f for f in facts if f.kind != "no"] and bool(NOT_STATED.search(opening)) and not NEGATIVE_FINDING.search(opening)


def answer_polarity(answer: str) -> str | None:
    head = answer.strip()[:80]
    if re.match(r"^\s*yes\b", head, re.I):
        return "yes"
    if NEGATIVE_OPENING.search(head):
        return "no"
    return None


def fact_found(fact: KeyFact, answer: str) -> bool:
    if fact.kind == "amount":
        want = quantities(fact.text)
        return bool(want) and any(same_amount(a, want[0]) for a in quantities(answer, keep_years=True))
    if fact.kind == "date":
        want = dates(fact.text)
        return bool(want) and any(d.key == want[0].key for d in dates(answer))
    if fact.kind == "name":
        return name_in(fact.text, answer)
    return answer_polarity(answer) == fact.kind


def score(question: str, reference: str, answer: str, *, facts: list[KeyFact] | None = None) -> FactScore:
    facts = key_facts(question, reference) if facts is None else facts
    result = FactScore(facts, expects_refusal=expects_refusal(reference, facts))
    answer = MARKER.sub(" ", answer)  # a citation marker "[1]" states no 1
    result.found = [f for f in facts if fact_found(f, answer)]
    return result


def correct(result: FactScore, refused: bool) -> bool:
    """Half the key facts stated, with the right yes/no; for a reference that expects a refusal, a refusal."""
    if result.expects_refusal:
        return refused
    if refused or not result.facts:
        return False
    polar = [f for f in result.facts if f.kind in ("yes", "no")]
    if polar and polar[0] not in result.found:
        return False
    return (result.recall or 0.0) >= CORRECT_SHARE
