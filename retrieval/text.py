"""Text rules shared by answering, excerpts, checks and evaluation: where a sentence ends.

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
    return bool(INITIALS.match(token)) or token[:-1].lower().rsplit(".", 1)[-1] in ABBREVIATIONS


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
