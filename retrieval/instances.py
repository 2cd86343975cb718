"""Questions that ask whether something happened at all ("Were there any significant acquisitions or
divestitures reported by Apple in the Q2 2023 10-Q?").

A filing says that something happened by naming an instance of it: "On March 4, 2022, we completed our
acquisition of Nuance Communications, Inc. …", "We expect to fund the acquisition of iRobot Corporation
with cash on hand." — a sentence that uses the asked thing's word together with a name, a date or an
amount. Risk factors and policies use the same words without one ("the potential for our acquisitions
to result in dilutive issuances"), and a table's line item ("Payments for acquisition of property,
plant and equipment") is no sentence. So:

- `asked_any(question)`: what the question asks about, the words after its "any" ("significant
  acquisitions or divestitures"); None for a question about a change, an alteration or a trend
  (focus.ASKS_CHANGE), which every filing reports in some figure (those are answered from the
  figures, retrieval/composer.py).
- `heads(asked)`: each alternative's head word as question terms ("acquisit", "divestitur"), matched
  as focus.uses_term matches words (the same stem, or the same first five letters: "acquisition"
  and "acquired").
- `names_instance(evidence, heads, question)`: whether the model's evidence is such a sentence (or a
  table row whose label says only what was asked).
- `instance_sentences(passages, heads, question, limit)`: the passages' prose sentences that use a
  head word and name an instance, the most direct first (a name beside the head word with a date or
  an amount), each instance once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.facts import dates, names, quantities
from retrieval.focus import ASKS_CHANGE, question_terms, question_words, text_terms, uses_term
from retrieval.schema import Chunk
from retrieval.text import sentences

# "any" and the noun phrase after it, up to the verb or preposition that ends it: "were there any
# significant acquisitions or divestitures reported by Apple …", "did Microsoft announce any major
# business acquisitions or spin-offs?"
ASKED_ANY = re.compile(
    r"\bany\s+((?:[\w’'-]+\s+){0,6}?[\w’'-]+?)(?=\s+(?:reported|disclosed|mentioned|announced|made|noted|described|"
    r"in|by|during|over|across|as|from|that|which|within|for|to|and|at|on|with|since)\b|\s*[,?;.]|\s*$)",
    re.I,
)
# Words a head noun stands behind that name no thing of their own ("share repurchase activities").
LIGHT_NOUNS = frozenset("activities activity programs program transactions transaction plans plan efforts events items matters "
                        "announcements announcement developments news instances cases".split())
ALTERNATIVES = re.compile(r"\s+(?:or|and)\s+|\s*,\s*(?:or\s+|and\s+)?", re.I)
# A document tag the form copied into a quote ("… include, but are not limited to: [2023 Q2 NVDA › ITEM 1A."):
# its names are the document's, not an instance's.
DOCUMENT_TAG = re.compile(r"\[[^\]]*(?:\]|$)")
MIN_WORDS = 6
MAX_CHARS = 400


def asked_any(question: str) -> str | None:
    """The thing an existence question asks about ("significant acquisitions or divestitures"), None
    when it asks for no "any" or for a change ("any significant changes in accounting policies")."""
    m = ASKED_ANY.search(question)
    if m is None:
        return None
    asked = m.group(1).strip()
    if ASKS_CHANGE.search(asked) or not heads(asked):
        return None
    return asked


def heads(asked: str) -> list[str]:
    """Each alternative's head word as a question term: the last word of the alternative that is not a
    light noun ("share repurchase activities" → "repurchas"); a hyphenated word stays whole ("spin-off")."""
    found = []
    for alternative in ALTERNATIVES.split(asked):
        words = alternative.lower().split()
        while len(words) > 1 and words[-1].strip("’'") in LIGHT_NOUNS:
            words.pop()
        if not words:
            continue
        last = words[-1].strip("’'.,")
        if "-" in last:
            found.append(last.rstrip("s"))
        elif question_words(last):
            found.append(question_terms(last)[0])
    return list(dict.fromkeys(found))


def uses_head(sentence: str, head_terms: Sequence[str]) -> bool:
    """Does `sentence` use one of the head words (the same stem or first five letters; a hyphenated
    head as written, singular or plural)?"""
    lowered = sentence.lower()
    terms = text_terms(sentence)
    return any(re.search(rf"\b{re.escape(head)}s?\b", lowered) if "-" in head else uses_term(head, terms) for head in head_terms)


NEAR_WORDS = 4  # a name this close to the head word is what the sentence says was acquired, sued, repurchased …


def _question_words(question: str) -> set[str]:
    """The question's words, lowercased: a name made only of them is the question's own, not an instance."""
    return {w.lower() for w in re.findall(r"[A-Za-z][\w&-]+", question)}


def _instance(sentence: str, head_terms: Sequence[str], asked: set[str]) -> tuple[int, int, int, set[str]] | None:
    """How the sentence names an instance of the head word, as a sort key with the names: a name near
    the head word and a date or an amount first, then a date or an amount alone, then a near name
    alone (a capitalised "Program" or "Rule" beside "repurchased" is weaker evidence than "408
    million shares … for $65.0 billion"), the closest name first within each. None when it names
    none: no name the question does not give (`asked`: _question_words), no dated month and no amount
    in a currency or a scale."""
    own = [n for n in names(sentence) if not {w.lower().strip(".,") for w in n.split()} <= asked]
    measured = any(d.month for d in dates(sentence)) or any(q.currency or q.scale > 1 for q in quantities(sentence))
    if not own and not measured:
        return None
    words = sentence.split()
    at_head = [i for i, w in enumerate(words) if uses_head(w, head_terms)]
    at_name = [i for n in own for i, w in enumerate(words) if w.strip("(“”\"',.;:") == n.split()[0]]
    distance = min((abs(i - j) for i in at_head for j in at_name), default=len(words))
    near = distance <= NEAR_WORDS
    return (0 if near and measured else 1 if measured else 2), (0 if near else 1), distance, {n.lower() for n in own}


def names_instance(evidence: str, head_terms: Sequence[str], question: str, row_label: str | None = None) -> bool:
    """Is a form's evidence an instance? A prose sentence that uses a head word and names one (as
    instance_sentences reads it), or a table row whose label says only what was asked ("Impairment
    charges" for "any impairment charges"; not "Payments for acquisition of property, plant and
    equipment" for "any acquisitions")."""
    if row_label is not None:
        own = set(question_terms(row_label))
        return bool(own) and uses_head(row_label, head_terms) and own <= set(question_terms(question))
    text = " ".join(DOCUMENT_TAG.sub(" ", evidence).split())
    return _prose(text) and uses_head(text, head_terms) and _instance(text, head_terms, _question_words(question)) is not None


def _prose(sentence: str) -> bool:
    words = sentence.split()
    if "|" in sentence or sentence.startswith("[") or len(words) < MIN_WORDS or len(sentence) > MAX_CHARS:
        return False
    return sum(w[:1].isupper() for w in words) <= len(words) / 2  # a title-case heading is not a sentence


def instance_sentences(passages: Sequence[Chunk], head_terms: Sequence[str], question: str, limit: int) -> list[tuple[Chunk, str]]:
    """Up to `limit` prose sentences of `passages` (best ranked first) that use a head word and name an
    instance, the most direct first (a name beside the head word with a date or an amount, then a
    date or an amount, then a name beside the head word); a sentence whose names an earlier one
    already gave is not shown again."""
    found: dict[str, tuple[tuple[int, int, int, int], set[str], Chunk]] = {}
    asked = _question_words(question)
    for order, passage in enumerate(passages):
        for sentence in sentences(passage.text):
            sentence = " ".join(sentence.split())
            if sentence in found or not _prose(sentence) or not uses_head(sentence, head_terms):
                continue
            if (how := _instance(sentence, head_terms, asked)) is not None:
                found[sentence] = ((*how[:3], order), how[3], passage)
    chosen: list[tuple[Chunk, str]] = []
    given: set[str] = set()
    for sentence, (_, named, passage) in sorted(found.items(), key=lambda item: item[1][0]):
        if len(chosen) == limit:
            break
        if named and named <= given:
            continue
        chosen.append((passage, sentence))
        given |= named
    return chosen
