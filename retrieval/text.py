"""Text rules shared by answering, excerpts, checks, search and evaluation: where a sentence ends,
which words are function words, what a citation marker is, when an answer says the documents lack
the answer.

A sentence ends at ".", "!" or "?" (and, where a caller asks, ";" or ":") followed by space, and at
a line break, but not after an abbreviation: "the weakness in foreign currencies relative to the
U.S. dollar" is one sentence, and a citation marker placed after "U.S." would split it for the reader.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words written with a closing period that do not end a sentence (compared lower-case, without the
# period). Initials ("U.S.", "e.g.", "J.") are recognised by their form.
ABBREVIATIONS = frozenset(
    """inc corp co ltd llc plc no nos vs mr mrs ms dr st jr sr approx fig figs sec art para ref dept est
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
INITIALS = re.compile(r"^(?:[A-Za-z]\.)+$")
LAST_WORD = re.compile(r"([\w.&'-]+)$")


@lru_cache(maxsize=8)
def _boundary(ends: str, capital: bool) -> re.Pattern[str]:
    after = r"(?=[\"'“(]?[A-Z0-9•])" if capital else ""  # not "[": a citation marker stays with its sentence
    return re.compile(rf"(?<=[{re.escape(ends)}])[ \t]+{after}|[ \t]*\n+\s*")


def abbreviation_before(text: str, end: int) -> bool:
    """Whether the period just before `end` closes an abbreviation or initials, not a sentence."""
    if end < 1 or text[end - 1] != ".":
        return False
    word = LAST_WORD.search(text, 0, end)
    if not word:
        return False
    token = word.group(1)
    # initials at the end of a compound too: "non-U.S. Dollar-denominated investments"
    return bool(INITIALS.match(token.rsplit("-", 1)[-1])) or token[:-1].lower().rsplit(".", 1)[-1] in ABBREVIATIONS


def sentences(text: str, ends: str = ".!?", capital: bool = False) -> list[str]:
    """The sentences of `text`, stripped, in order: split after a character of `ends` followed by
    space (with `capital`, only where the next word opens with a capital, a digit, a quote, a
    bracket or a bullet) and at line breaks; never after an abbreviation."""
    out: list[str] = []
    start = 0
    for m in _boundary(ends, capital).finditer(text):
        if "\n" not in m.group(0) and abbreviation_before(text, m.start()):
            continue
        if piece := text[start:m.start()].strip():
            out.append(piece)
        start = m.end()
    if piece := text[start:].strip():
        out.append(piece)
    return out


# ---- content words -----------------------------------------------------------------------------------

# Common English function words: dropping them keeps BM25 queries, topic weights and word-share tests
# on the words that carry meaning.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves""".split()
)
WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")  # "1.5" and "36,413" stay one word


def content_words(text: str) -> set[str]:
    """The lower-cased words of `text` that are not function words."""
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS}


# ---- citation markers and refusals ----------------------------------------------------------------

# "[2]", "[1, 3]": the numbers of the documents a sentence cites (group 1).
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")

REFUSAL = "I could not find this in the documents available to you."

# Phrases a model uses when the context lacks the answer (the prompt asks for REFUSAL verbatim; small
# models paraphrase). Matched case-insensitively on the answer without citation markers.
REFUSAL_PHRASES = (
    REFUSAL.lower().rstrip("."),
    "could not find this in the documents",
    "could not find the answer",
    "couldn't find",
    "cannot find",
    "can't find",
    "not in the documents",
    "not mentioned in the documents",
    "not found in the documents",
    "do not contain the answer",
    "does not contain the answer",
    "documents do not contain",
    "documents do not mention",
    "documents don't contain",
    "no information",
    "not provided in the documents",
    "is not specified",
    "not available in the documents",
)


# Whole answers that say nothing ("N/A"), after markers and end punctuation are removed.
EMPTY_ANSWERS = frozenset({
    "n/a", "na", "n.a", "none", "null", "unknown", "nothing", "not available", "not applicable", "not mentioned", "not stated",
    "not specified", "not provided", "not disclosed", "not found", "no information", "no data", "no answer",
    "no relevant information", "information not available", "not in the documents",
})
# Said in an answer's first sentence, these make the whole answer a refusal even when it carries a
# marker ("The documents do not contain this information. [1]").
OPENING_REFUSALS = (
    "could not find", "couldn't find", "cannot find", "can't find", "unable to find", "not in the documents",
    "documents do not", "documents don't", "document does not", "documents provided do not", "context does not",
    "information is not", "no information", "not provided in the document", "not mentioned in the document",
    "not specified in the document", "not available in the document", "not stated in the document",
    "does not provide", "do not provide", "does not specify", "does not mention", "there is no mention", "n/a",
)


NOT_IN_DOCUMENTS = re.compile(r"\bnot (?:\w+ly )?(?:stated|mentioned|provided|specified|available|found|disclosed|given|included)\b.{0,40}\b(?:documents?|context|passages?)\b")


def looks_like_refusal(text: str, cited: int) -> bool:
    """Lore's one rule for "the documents lack the answer" (answering and evaluation alike): an
    empty answer or one that only says "N/A"; a first sentence that says the documents lack it
    (markers or not); or a refusal phrase anywhere in an answer that cites nothing."""
    plain = MARKER.sub("", text).strip().lower()
    bare = re.sub(r"[\s.!;:,]+$", "", plain)
    if not bare or bare in EMPTY_ANSWERS or re.fullmatch(r"[\W_]*(?:n/?a|none|unknown)[\W_]*", bare):
        return True
    first = sentences(plain, ends=".!?;:")[0] if plain else ""
    if any(p in first[:160] for p in OPENING_REFUSALS + REFUSAL_PHRASES[:2]) or NOT_IN_DOCUMENTS.search(first[:200]):
        return True
    head = plain[:120]
    if any(p in head for p in REFUSAL_PHRASES) and (cited == 0 or plain.startswith(REFUSAL_PHRASES[:2])):
        return True
    return cited == 0 and any(p in plain for p in REFUSAL_PHRASES)
