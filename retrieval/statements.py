"""Questions a filing answers in a sentence of its own.

- **What a cause did** ("How did foreign exchange rates affect Apple's financial performance?", "What is
  the impact of foreign exchange rates on …", "What effects did currency fluctuations have on …"): the
  filing says it in one sentence ("Changes in foreign exchange rates reduced net sales by $2.4 billion for
  Q1 2023"), while the passages that use the cause's words most say how the company hedges it.
- **What the company did** ("Did Apple report any share repurchase activities in its Q3 2023 10-Q, and
  if so, what was the scale of these buybacks?"): "The Company repurchased $18.0 billion of its common
  stock … during the third quarter of 2023", while a figure question's tables come first in the prompt
  (the statement of cash flows' nine-month "Repurchases of common stock").
- **What a note of the filing states** ("Are there any significant changes in Amazon's debt structure or
  interest expenses across these quarters?"): the note on debt opens with it ("As of March 31, 2023, we had
  $68.5 billion of unsecured senior notes outstanding … and $972 million of borrowings under our credit
  facility"; Intel's "Borrowings": "In the first quarter of 2023, we issued a total of $11.0 billion
  aggregate principal amount of senior notes"), while the question's words find the interest lines of
  the statement of operations and the debt securities the company holds.
- **That nothing changed** ("Are there any significant changes or new disclosures in Apple's accounting
  policies as reported in these 10-Qs?"): "There have been no material changes to the Company's
  critical accounting estimates since the 2022 Form 10-K", while the passages the question's words find
  are about disclosure controls.

`asked` tells such a question and returns what the stating sentences look like; the composer
(retrieval/composer.py) puts the passages holding them first, excerpted to them, and when they state a
figure (or say that nothing changed) answers with them, cited, without the model: the 1.5B model given
them beside other passages wrote about the others.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.focus import SAME_PREFIX, STATED_FIGURE, YEAR, passage_sentences, question_terms, question_words, table_cells, table_headings, uses_term
from retrieval.lexical import stem

STATED = 2.0  # the score of a stating sentence with a figure (1: without)
PERIOD = re.compile(r"\b(?:quarter|(?:three|six|nine|twelve) months|fiscal year)\b", re.I)
PERIOD_FIRST = 0.1
RELATED = 1.5  # a figure of the same year about what was asked, beside the company's saying it did it
SENTENCE_CHARS = (40, 400)  # prose, not a fragment or a table flattened into a line
NOTE_SENTENCE_CHARS = 600  # a note's sentence may run longer ("The decrease in our effective tax rate … was primarily due to …")

EFFECT_QUESTION = re.compile(
    r"\b(?:impacts?|effects?|influences?|role)\s+(?:of|did|have|has|had|do|does)\s+(?P<of>.+?)\s+(?:on|upon|have|had|has|played|play)\b"
    r"|\bhow\s+(?:did|have|has|do|does)\s+(?P<how>.+?)\s+(?:specifically\s+|actually\s+)?"
    r"(?:affect|affected|impact|impacted|influence|influenced|shape|shaped)\b",
    re.I,
)
# Words of a cause that only say it moves ("exchange rate changes", "currency fluctuations").
MOVING = frozenset(stem(w) for w in "changes change fluctuations fluctuation movements movement swings volatility".split())
# The ways filings name a cause that questions name another way: "foreign exchange rates" are the
# "foreign currencies relative to the U.S. dollar" of Apple's filings. A cause using every word of one
# spelling is named by any of them.
CAUSE_SPELLINGS = (
    ("foreign exchange", "exchange rate", "exchange rates", "foreign currency", "foreign currencies", "currency", "currencies"),
)
# What a sentence says its cause did.
EFFECT_WORDS = re.compile(
    r"\b(?:impact(?:ed|s)?|effects?|affect(?:ed|s)?|reduc(?:ed|es|tion)|increas(?:ed|es)|decreas(?:ed|es)|lower|higher|"
    r"(?:un)?favorabl[ey]|benefit(?:ed|s)?|hurt|offset|weighed)\b",
    re.I,
)
# A sentence that only supposes ("a 10% decrease in foreign exchange rates would …", "the Company may use
# derivative instruments to offset …") or points to where it is discussed ("For a discussion of the effect
# of foreign exchange rates …, see …") states nothing;
SUPPOSED = re.compile(r"\b(?:may|might|could|would|can|cannot|hypothetical(?:ly)?|if)\b"
                      r"|\b(?:see|refer to|described in|discussed in|a discussion of)\b", re.I)
# nor is what the company does against a cause ("forward contracts to mitigate the impact of foreign
# currency movements") or what a line item consists of ("Other, net, consists of … the impact of changes
# in foreign currency rates") what the cause did.
NOT_AN_EFFECT = re.compile(r"\b(?:mitigat\w*|protect\w*|hedg\w*|manag\w*|consists? of|comprises?|includes?|represents?)\b", re.I)

# "Did/Has <company> …": whether the company did something, and (with "what was the scale") how much.
DID_QUESTION = re.compile(r"^\s*(?:did|has|have|had)\b", re.I)
# The company saying it did it: "we repurchased", "the Company repurchased", "we also repurchased".
DID = re.compile(r"\b(?:we|the company)\s+(?:\w+ly\s+|also\s+)?(?P<verb>[a-z]+ed)\b", re.I)
NONE_DONE = re.compile(r"\b(?:no|not|none|never)\b", re.I)

# "Are there any significant changes or new disclosures in Apple's accounting policies …?": the filing
# says there were none ("There have been no material changes to the Company's critical accounting
# estimates since the 2022 Form 10-K", after "… the significant accounting policies …"), and not when
# it goes on to list some ("Other than the risk factors listed below, there have been no material
# changes …"). What the question asks changed is the words after "changes … in/to".
CHANGE_WORDS = r"changes?|alterations?|modifications?|revisions?"
CHANGE_QUESTION = re.compile(
    rf"^\s*(?:are|were|is|was|has|have|had|did)\b.*?\b(?:{CHANGE_WORDS})\b"
    r"(?:\s+or\s+(?:\w+\s+){1,3}?)?\s*(?:in|to|of)\s+(?P<what>.+?)"
    r"(?=\s+(?:as\s+reported|reported|disclosed|in\s+(?:these|the|its|this|their)|over|during|across|since)\b|[?.,;]|$)",
    re.I,
)
NO_CHANGE = re.compile(r"\b(?:there (?:have|has) been|there were|there was)\s+no\s+(?:material|significant)\s+changes?\b", re.I)
EXCEPT = re.compile(r"\b(?:other than|except)\b", re.I)
NEGATION_REACH = 3

# "What changes in debt … did Apple disclose", "Are there any significant alterations in Intel's debt
# structure …": what the filing's note on it states. Each topic with the words its notes are headed by
# (Intel's "Note 10 : Borrowings", NVIDIA's "Outstanding Indebtedness and Commercial Paper"), not a
# note on what the company holds ("Unrealized Losses on Debt Investments").
# A note on legal proceedings states them in words: who sued whom, in which court, what an authority
# found ("Beginning in March 2020 with Frame-Wilson v. Amazon.com, Inc., …", "Microsoft Mobile Oy … is a
# defendant in 46 lawsuits"), as well as in figures ("we accrued aggregate legal liabilities of $597 million").
LEGAL = ("legal", "litigation", "contingencies")
LEGAL_TERMS = frozenset(question_terms(" ".join(LEGAL)))
LEGAL_FACT = re.compile(r"\bv\.\s|\b(?:court|commission|attorneys? general|authorit(?:y|ies)|plaintiffs?|defendants?|lawsuits?|"
                        r"complaints?|class actions?|fine[ds]?|penalt(?:y|ies)|alleg\w+)\b", re.I)
NOTE_QUESTION = re.compile(rf"\b(?:{CHANGE_WORDS}|details?)\b", re.I)
# (what the question asks, the words of the topic's notes): a tax rate set against its past or the notes'
# discussion reads the note on income taxes ("Income tax as a percentage of income before income tax was
# an expense of 12.2% …", NVIDIA's words for its effective tax rate; a rate asked alone is a table's).
TAX_RATE_QUESTION = re.compile(r"\btax rates?\b(?=.*\b(?:compar\w*|relat\w*|align\w*|correlat\w*|differ\w*|previous|historical|past|"
                               r"prior|changed?|vary|varied|across|notes?|discussion)\b)", re.I)
NOTE_TOPICS = (
    (NOTE_QUESTION, ("debt", "borrowings", "indebtedness", "commercial paper")),
    (NOTE_QUESTION, ("interest expense", "interest expenses")),
    (TAX_RATE_QUESTION, ("tax rate", "income taxes")),
    (re.compile(r"\binventor(?:y|ies)\b", re.I), ("inventory", "inventories")),
    (re.compile(r"\b(?:legal|litigation|lawsuits?)\b", re.I), LEGAL),
)
# not a note on what the company holds, nor risk factors ("Legal, Regulatory, and Litigation Risks"), nor a
# table's row read as a heading ("Inventories $ 941")
NOT_THE_NOTE = re.compile(r"\b(?:investments?|securities|risks?)\b|\$", re.I)
AMOUNT = re.compile(r"\$\s?\d[\d,.]*(?:\s*(?:million|billion))?", re.I)
# "The decrease in our effective tax rate for the current quarter compared to the prior year was
# primarily due to …": a sentence giving the reason a figure changed
CHANGE_REASON = re.compile(r"^(?:The|This|These|That|Such)\s+(?:[\w-]+\s+){0,2}?(?:increases?|decreases?|declines?|changes?|rises?|drops?|"
                           r"growth|reductions?|improvements?)\b.*\b(?:due to|driven by|attributable to|result(?:ed|ing)? from|"
                           r"reflect(?:s|ed|ing)?|because)\b", re.I)
POLAR = re.compile(r"^\s*(?:are|were|is|was|has|have|had|did)\b", re.I)


@dataclass(frozen=True)
class Asked:
    """What sentences answer the question: `effect` (spellings: each way of naming the cause),
    `action` (terms: the stems of the words naming what the company did), `unchanged` (terms: of
    what the question asks changed) or `noted` (spellings: the words the topic's notes are headed by;
    `polar`: the question asks whether, "Are there any …")."""

    kind: str
    spellings: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # the terms as the question writes them
    polar: bool = False

    @property
    def search(self) -> str:
        """The words a word search finds the stating passages by."""
        return " ".join(self.spellings or self.words)

    @property
    def verdict(self) -> str | None:
        """The yes/no a stating sentence answers: the company did it, or nothing changed (what a note
        states answers whether it changed only by what it says was done: `changed`)."""
        return {"action": "yes", "unchanged": "no"}.get(self.kind)

    @property
    def in_order(self) -> bool:
        """Are the stating passages read in the document's order (a note's opening states most)?"""
        return self.kind == "noted"

    def changed(self, parts: Sequence[Sequence[str]]) -> bool:
        """Do a note's stated sentences (each document's) say it changed: the company did something ("we
        issued …", "we settled in cash …"), or the documents open it with different figures ("$62.5
        billion of unsecured senior notes outstanding", then "$68.5 billion")?"""
        if self.kind != "noted":
            return False
        if any(DID.search(s) and not NONE_DONE.search(s) for said in parts for s in said):
            return True
        return len({AMOUNT.search(said[0]).group() for said in parts if said and AMOUNT.search(said[0])}) > 1

    @functools.cached_property
    def _spelled(self) -> tuple[frozenset[str], ...]:
        """Each spelling of the cause as its question terms."""
        return tuple(frozenset(question_terms(spelling)) for spelling in self.spellings)

    @functools.cached_property
    def _forms(self) -> tuple[set[str], set[str]]:
        """The terms as uses_term reads a text's: their stems and their first five letters."""
        return _forms(self.terms)

    @functools.lru_cache(maxsize=512)  # a passage is scored, excerpted and answered from: read once
    def sentences(self, text: str) -> tuple[tuple[float, str], ...]:
        """The sentences of a passage's prose that state it, in order, each scored STATED (or more) when it
        states a figure and 1 otherwise; for what the company did, RELATED for another figure of that year
        about what the passage says it did; a statement that nothing changed is STATED as it stands. What
        the company did counts only with a figure, and only of the passage's latest year ("We
        repurchased 46.2 million shares … during the nine months ended September 30, 2022" is last
        year's, in a passage that goes on "There were no repurchases … during the nine months ended
        September 30, 2023")."""
        if self.kind == "noted":
            return self._noted(text)
        latest = self._latest_year(text)
        done = self.done([text])  # what the passage's "we repurchased" names
        found: list[tuple[float, str]] = []
        for sentence in _prose(text):
            if SUPPOSED.search(sentence):
                continue
            figure = bool(STATED_FIGURE.search(sentence))
            if self.kind == "effect" and self._effect(sentence):
                found.append((STATED if figure else 1.0, sentence))
            elif self.kind == "unchanged":
                # complete as it stands; about what was asked when the passage names all of it and the sentence some
                if NO_CHANGE.search(sentence) and not EXCEPT.search(sentence) and set(question_terms(sentence)) & set(self.terms) \
                        and set(self.terms) <= set(question_terms(text)):
                    found.append((STATED, sentence))
            elif self.kind == "action" and figure and _latest_year(sentence) in (None, latest):
                if self._did(sentence):
                    # the period's ("During the third quarter … we repurchased 8.3 million shares") before a
                    # later date's ("From October 30, 2023 through November 17, 2023, we repurchased …")
                    found.append((STATED + (PERIOD_FIRST if PERIOD.search(sentence) else 0.0), sentence))
                elif set(question_terms(sentence)) & done and not NONE_DONE.search(sentence):
                    found.append((RELATED, sentence))  # "$18.7 billion remained of our $60 billion share repurchase program"
        return tuple(found)

    def done(self, texts: Sequence[str]) -> set[str]:
        """The terms the company's verbs name in `texts` ("we repurchased": "repurchas", not "share")."""
        if self.kind != "action":
            return set()
        return {stem(m.group("verb")) for text in texts for m in DID.finditer(text) if uses_term(stem(m.group("verb")), self._forms)}

    def refuted(self, text: str, done: set[str]) -> bool:
        """Does the passage say the company did not do it (`done`: what its verbs name) in its latest year
        ("There were no repurchases of our common stock during the nine months ended September 30,
        2023"; not a cover page's "No ☒ 15,634,232,000 shares of common stock were issued")?"""
        if not done:
            return False
        latest = self._latest_year(text)
        return any(self._none_done(s, done) and _latest_year(s) in (None, latest) for s in _prose(text))

    def score(self, text: str) -> float:
        """How plainly a passage states it: its best sentence's score, 0 for none."""
        return max((score for score, _ in self.sentences(text)), default=0.0)

    def excerpt(self, text: str) -> str | None:
        """A passage as its `[document › section]` line and its stating sentences (None when none does):
        the rest of "Quarterly Highlights" (the products announced) is not what foreign exchange did,
        and a model given it writes about it."""
        stated = [sentence for _, sentence in self.sentences(text)]
        if not stated:
            return None
        head = text.split("\n", 1)[0]
        return "\n".join(([head] if head.startswith("[") else []) + stated)

    def note(self, text: str) -> str | None:
        """The note a passage belongs to when it is one on the topic: its `[document › section]` line's
        section naming a spelling of it (None for another passage, or another kind of question)."""
        head = text.split("\n", 1)[0]
        section = head.rsplit("›", 1)[-1].strip(" ]") if head.startswith("[") and self.kind == "noted" else ""
        if not section or NOT_THE_NOTE.search(section):
            return None
        terms = set(question_terms(section))
        return section if any(spelling <= terms for spelling in self._spelled) else None

    def captioned(self, text: str) -> str | None:
        """The heading line of a passage's table whose caption names the topic ("| Inventories (In Millions) |
        Oct 1, 2022 | Dec 25, 2021 |": Intel's inventories, a table of "Note 4 : Other Financial Statement
        Details"); None when no table's does."""
        if self.kind != "noted":
            return None
        for line in table_headings(text):
            caption = table_cells(line)[0]
            terms = set(question_terms(caption))
            if not NOT_THE_NOTE.search(caption) and any(spelling <= terms for spelling in self._spelled):
                return line
        return None

    @staticmethod
    def tabled(text: str) -> bool:
        """Does a passage give its figures only in a table (rows, and no sentence of its prose states one)?"""
        return any(line.startswith("|") for line in text.split("\n")) and not any(STATED_FIGURE.search(s) for s in _prose(text))

    def _noted(self, text: str) -> tuple[tuple[float, str], ...]:
        """The sentences of a passage of the topic's note that state it, in order: with a figure (legal
        proceedings in words too: LEGAL_FACT), each with the reason a stated figure changed when the
        next sentence gives it."""
        if (section := self.note(text)) is None:
            return ()
        terms = set(question_terms(section))
        named = [spelling for spelling in self._spelled if spelling <= terms]
        legal = any(spelling <= LEGAL_TERMS for spelling in named)
        # a note on more than was asked ("Interest Income and Expense"): its sentences naming it; not a legal
        # note, which names its proceedings as it likes ("U.S. Cell Phone Litigation")
        wider = not legal and not any(terms - spelling <= {"note"} for spelling in named)
        states = (lambda s: STATED_FIGURE.search(s) or LEGAL_FACT.search(s)) if legal else STATED_FIGURE.search
        stated: list[str] = []
        previous = None
        for sentence in _prose(text, NOTE_SENTENCE_CHARS):
            # not a table's line run into the prose and cut ("… 4,188 issued and outstanding (4,137 issued … as of December.")
            if sentence.count("(") == sentence.count(")") and not SUPPOSED.search(sentence) and (not wider or any(spelling <= set(question_terms(sentence)) for spelling in named)) \
                    and (states(sentence) or (CHANGE_REASON.search(sentence) and stated and stated[-1] == previous)):
                stated.append(sentence)
            previous = sentence
        return tuple((STATED, s) for s in stated)

    def _effect(self, sentence: str) -> bool:
        if not EFFECT_WORDS.search(sentence) or NOT_AN_EFFECT.search(sentence):
            return False
        terms = set(question_terms(sentence))
        return any(spelling <= terms for spelling in self._spelled)

    def _did(self, sentence: str) -> bool:
        return not NONE_DONE.search(sentence) and any(uses_term(stem(m.group("verb")), self._forms) for m in DID.finditer(sentence))

    def _latest_year(self, text: str) -> str | None:
        """The latest year the passage's sentences about what was asked name (not "Apple Vision Pro …
        expected to be available in early calendar year 2024" beside this quarter's repurchases)."""
        about = [s for s in _prose(text) if set(question_terms(s)) & set(self.terms)]
        return _latest_year(" ".join(about) if about else text)

    @staticmethod
    def _none_done(sentence: str, done: set[str]) -> bool:
        """"no repurchases", "did not repurchase": a negation among the NEGATION_REACH words before a word
        naming what was done."""
        words = re.findall(r"[a-z]+", sentence.lower())
        forms = _forms(done)
        return any(uses_term(stem(w), forms) and any(NONE_DONE.fullmatch(v) for v in words[max(0, i - NEGATION_REACH):i])
                   for i, w in enumerate(words))


def asked(topic: str, question: str) -> Asked | None:
    """What sentences answer the question, when it is one a filing answers in a sentence of its own:
    the effect of a cause ("What is the impact of foreign exchange rates on …" → every spelling of
    foreign exchange in CAUSE_SPELLINGS; "How did inflation affect …" → "inflation"), or whether and
    how much the company did something ("Did Apple report any share repurchase activities …, and what
    was the scale of these buybacks?" → what "repurchase" names), or what a note of the filing states
    ("Are there any significant changes in Amazon's debt structure …?" → the notes on debt:
    NOTE_TOPICS), or whether something changed ("Are there any significant changes in Apple's
    accounting policies?" → "accounting policies"). The topic is read first, then the question (a
    topic can lose its opening)."""
    for text in (topic, question):
        if found := EFFECT_QUESTION.search(text):
            named = found.group("of") or found.group("how")
            cause = set(question_terms(named)) - MOVING
            if not cause:
                return None
            for spellings in CAUSE_SPELLINGS:
                if any(set(question_terms(s)) <= cause for s in spellings):
                    return Asked("effect", spellings=spellings)
            return Asked("effect", spellings=(" ".join(w for w in question_words(named) if stem(w) not in MOVING),))
    words = question_words(topic)
    named = set(question_terms(" ".join(words)))
    if noted := [s for asks, spellings in NOTE_TOPICS if asks.search(question) and any(set(question_terms(s)) <= named for s in spellings)
                 for s in spellings]:
        return Asked("noted", spellings=tuple(noted), polar=bool(POLAR.match(question)))
    if (changed := CHANGE_QUESTION.match(question)) and (what := [w for w in question_words(changed.group("what")) if w in words]):
        return Asked("unchanged", terms=tuple(dict.fromkeys(stem(w) for w in what)), words=tuple(what))
    if DID_QUESTION.match(question) and words:
        return Asked("action", terms=tuple(dict.fromkeys(stem(w) for w in words)), words=tuple(words))
    return None


def _forms(terms) -> tuple[set[str], set[str]]:
    """Terms as focus.text_terms gives a text's, for uses_term."""
    return set(terms), {t[:SAME_PREFIX] for t in terms if len(t) >= SAME_PREFIX}


def _prose(text: str, longest: int = SENTENCE_CHARS[1]) -> list[str]:
    """The sentences of a passage's prose lines (not its label line or table rows) of prose length."""
    return [s for line in text.split("\n") if not line.startswith(("|", "[")) for s in passage_sentences(line)
            if SENTENCE_CHARS[0] <= len(s) <= longest and "[" not in s]


def _latest_year(text: str) -> str | None:
    return max(YEAR.findall(text), default=None)
