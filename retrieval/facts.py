"""Numbers, dates and names in text, normalised so that an answer's facts can be found in the
passage it cites (and, in evaluation, in a reference answer).

- A quantity keeps what was written and what it means: "$36.4 billion", "36,413" under a table's
  "(In millions)" and "36,413 million" are the same amount within the precision each was written
  with. Percentages only ever match percentages.
- A date is (day, month, year) whatever the order it was written in ("July 1, 2023", "1 July 2023").
- Years, days of dates, quarter labels and document identifiers ("10-Q", "Note 5") are not amounts.

One home for these rules: answering (checked answers) and evaluation (key facts) both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
DATE_MDY = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
DATE_DMY = re.compile(rf"\b(?:\d{{1,2}}\s?[-–]\s?)?(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\s*,?\s+(\d{{4}})\b", re.I)
DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
DATE_MY = re.compile(rf"\b({_MONTH})\s+(\d{{4}})\b", re.I)

SCALES = {"thousand": 1e3, "thousands": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6,
          "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "trillions": 1e12}
CURRENCIES = ("$", "usd", "us$", "eur", "€", "gbp", "£", "chf", "jpy", "¥")
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
QUANTITY = re.compile(
    r"(?P<neg>[-−–(])?\s?"
    r"(?P<cur>US\$|\$|USD|EUR|€|GBP|£|CHF|JPY|¥)?\s?"
    rf"(?P<num>{_NUMBER})"
    r"(?:\s?(?P<pct>%|percent\b|per cent\b|percentage points?\b))?"
    r"(?:\s?(?P<scale>thousands?|millions?|billions?|trillions?|bn|mn|[kKmMbB])\b)?",
)
# Identifiers and labels whose digits are not amounts.
NOT_AMOUNT = re.compile(
    r"\b(?:Q[1-4]|FY ?\d{2,4}|H[12]|10-[QK]|8-K|S-\d|Note|Notes|Item|Items|Part|Section|Exhibit|Rule|Form|ASU|Level|Tier|Phase|Chapter|Article|Schedule|Table|Figure|Page|No\.)"
    r"\s?[-–]?\s?\d[\d.\-–A-Za-z]*",
    re.I,
)
ENUMERATOR = re.compile(r"(?m)^[ \t\-•*]*\(?\d{1,2}[.)](?=\s)")  # "1. …", "(2) …": list numbering
TABLE_SCALE = re.compile(r"\(?\bin (thousands|millions|billions)\b", re.I)


@dataclass(frozen=True)
class Quantity:
    text: str  # as written
    value: float  # scale applied, sign kept
    mantissa: float  # the digits as written
    scale: float  # 1, 1e3, 1e6, 1e9 (explicit in the text; 1 when none was written)
    percent: bool
    currency: str
    precision: float  # half of the last written digit, scale applied
    start: int
    end: int

    @property
    def scaled(self) -> bool:
        return self.scale != 1.0


@dataclass(frozen=True)
class DateMention:
    text: str
    year: int
    month: int
    day: int | None
    start: int
    end: int

    @property
    def key(self) -> tuple[int, int, int | None]:
        return (self.year, self.month, self.day)


def dates(text: str) -> list[DateMention]:
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, year: str, month: str, day: str | None) -> None:
        if any(s < m.end() and m.start() < e for s, e in taken):
            return
        mon = int(month) if month.isdigit() else MONTHS.get(month.lower().rstrip("."))
        if not mon or not 1 <= mon <= 12:
            return
        d = int(day) if day else None
        if d is not None and not 1 <= d <= 31:
            return
        found.append(DateMention(m.group(0), int(year), mon, d, m.start(), m.end()))
        taken.append((m.start(), m.end()))

    for m in DATE_MDY.finditer(text):
        add(m, m.group(3), m.group(1), m.group(2))
    for m in DATE_DMY.finditer(text):
        add(m, m.group(3), m.group(2), m.group(1))
    for m in DATE_ISO.finditer(text):
        add(m, m.group(1), m.group(2), m.group(3))
    for m in DATE_MY.finditer(text):
        add(m, m.group(2), m.group(1), None)
    return sorted(found, key=lambda d: d.start)


def _is_year(num: str, cur: str | None, pct: str | None, scale: str | None) -> bool:
    return not cur and not pct and not scale and bool(re.fullmatch(r"(19|20)\d\d", num))


def quantities(text: str, *, keep_years: bool = False) -> list[Quantity]:
    """The amounts written in `text`: not years, not the parts of dates, not labels like "Q3" or
    "Note 5". `keep_years` keeps bare years (for a question asking "which year")."""
    blocked = [(d.start, d.end) for d in dates(text)] + [(m.start(), m.end()) for m in NOT_AMOUNT.finditer(text)]
    blocked += [(m.start(), m.end()) for m in ENUMERATOR.finditer(text)]
    out: list[Quantity] = []
    for m in QUANTITY.finditer(text):
        num, cur, pct, scale_word = m.group("num"), m.group("cur"), m.group("pct"), m.group("scale")
        start, end = m.start("num"), m.end()
        if any(s <= start < e for s, e in blocked):
            continue
        if start > 0 and (text[start - 1].isalpha() or text[start - 1] in "_/"):  # part of a word or an id: "M2", "x86"
            continue
        if re.match(r"[-–][A-Za-z]", text[m.end("num") : m.end("num") + 2]) or re.search(r"[A-Za-z][-–]$", text[max(0, start - 2) : start]):
            continue  # an identifier such as a case number: "18-cv-07669"
        if len(num) > 1 and num[0] == "0" and num[1].isdigit():
            continue  # "07669": a code, not an amount
        if scale_word and scale_word in "kKmMbB" and not cur:
            scale_word = None  # a lone letter is a scale only after a currency: "$4.2B", not "5 m"
            end = m.end("pct") if pct else m.end("num")
        if end < len(text) and text[end : end + 1].isalpha() and not scale_word and not pct:
            continue  # "4K", "3rd"
        if not keep_years and _is_year(num, cur, pct, scale_word):
            continue
        digits = num.replace(",", "")
        mantissa = float(digits)
        scale = SCALES.get(scale_word.lower(), 1.0) if scale_word else 1.0
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        negative = m.group("neg") in ("-", "−", "(") and (m.group("neg") != "(" or text[end : end + 1] == ")")
        value = (-mantissa if negative else mantissa) * scale
        out.append(Quantity(text[m.start("cur") if cur else start : end].strip(), value, mantissa, scale, bool(pct),
                            (cur or "").lower(), 0.5 * 10 ** (-decimals) * scale, start, end))
    return out


def table_scale(text: str) -> float:
    """The scale a passage's bare table numbers are in: "(In millions, except ...)" → 1e6; else 1."""
    m = TABLE_SCALE.search(text)
    return SCALES[m.group(1).lower()] if m else 1.0


def same_amount(a: Quantity, b: Quantity, b_scale: float = 1.0, rounded_only: bool = False) -> bool:
    """Is `a` the amount `b` states? `b_scale` applies to `b` when it was written without a scale
    (a table under "(In millions)"). Rounding is allowed to the coarser of the two precisions, or,
    with `rounded_only`, to `a`'s own: `a` may round `b` ("$50.1 billion" for "50,122" in millions)
    but not state digits `b` lacks ("$50.122 million" is not the "50" of "50 million")."""
    if a.percent != b.percent:
        return False
    scale = b.scale if b.scaled else b_scale
    value = (b.value / b.scale) * scale if b.scaled else b.value * scale
    tolerance = a.precision if rounded_only else max(a.precision, b.precision / (b.scale if b.scaled else 1.0) * scale)
    if abs(abs(a.value) - abs(value)) <= tolerance * 1.0001:
        return True
    # A table number quoted without its table's scale ("36,413" for 36,413 million) is the same
    # digits, not the same amount: it is only accepted when the passage states no scale either.
    return False


def amount_in(quantity: Quantity, passage: str, scale: float | None = None) -> bool:
    """Does `passage` state `quantity` (as an amount, not inside a date or a label)? The quantity may
    round the passage's figure, not be more precise than it: an answer states no digit its passage lacks."""
    scale = table_scale(passage) if scale is None else scale
    return any(same_amount(quantity, q, scale, rounded_only=True) or same_amount(quantity, q, 1.0, rounded_only=True)
               for q in quantities(passage, keep_years=True))


def date_in(date: DateMention, passage: str) -> bool:
    """Is the date in the passage (day and month and year, or month and year when no day was written)?"""
    for d in dates(passage):
        if d.year == date.year and d.month == date.month and (date.day is None or d.day == date.day):
            return True
    return False


# ---- names ----------------------------------------------------------------------------------------------

COMMON_CAPITALISED = frozenset(
    """a an the this that these those there their its it in on at for from by with as of to and or but if
    when while during after before since until about over under between within without into onto upon
    yes no not based according however therefore overall additionally also although because so thus
    total net our we you they he she i my your his her us them what which who whom whose where why how
    is are was were be been being has have had do does did will would can could should may might must
    company company's companies quarter quarters year years month months period periods fiscal
    source sources document documents report reports filing filings statement statements note notes item
    part section page table figure form exhibit see refer per approximately about around nearly
    first second third fourth three six nine twelve one two four five seven eight ten
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    usd us$ eur gbp chf jpy inc corp corporation ltd llc plc co both each all any some other certain u.s""".split()
)
_NAME_WORD = r"(?:[A-Z][\w&'’.\-]*|[a-z]+[A-Z][\w\-]*|[A-Z0-9]{2,}[\w\-]*)"
NAME_RUN = re.compile(rf"{_NAME_WORD}(?:[ \t]+(?:of|&|{_NAME_WORD}|\d[\w.\-]*))*")
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[-•*]\s+)$")


def names(text: str) -> list[str]:
    """Proper names written in `text`: runs of capitalised words ("European Commission",
    "Professional Visualization", "GlobalProtect", "M2"), without the sentence-opening common words."""
    spans = sorted([(d.start, d.end) for d in dates(text)] + [(q.start, q.end) for q in quantities(text, keep_years=True)])
    for start, end in reversed(spans):  # amounts and dates are not names, and break a run of words
        text = text[:start] + " ; " + text[end:]
    text = re.sub(r"(?<=[.!?])[ \t]+(?=[A-Z])", "\n", text)  # a run of names never crosses a sentence end
    found: list[str] = []
    for m in NAME_RUN.finditer(text):
        words = m.group(0).split()
        opens_sentence = bool(SENTENCE_START.search(text[: m.start()]))
        while words and (_bare(words[0]) in COMMON_CAPITALISED or words[0].lower() in ("of", "&")):
            words, opens_sentence = words[1:], False
        while words and words[-1].lower() in ("of", "&"):
            words = words[:-1]
        if not words:
            continue
        if opens_sentence and len(words) == 1 and re.fullmatch(r"[A-Z][a-z'’\-]+", words[0]):
            continue  # "Legal proceedings ...": a capital that only opens the sentence
        name = re.sub(r"['’]s$", "", " ".join(words).strip(".,;:'’")).strip()
        if not re.search(r"[A-Za-z]", name) or len(name) < 2:
            continue
        if all(_bare(w) in COMMON_CAPITALISED for w in words):
            continue
        if re.search(r"\d", name) and "-" in name:
            continue  # an identifier: "10-Q", "18-cv-07669"
        found.append(name)
    return list(dict.fromkeys(found))


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word.lower().strip("'’.,"))


def plain(text: str) -> str:
    """Lower case, hyphens and punctuation as spaces, one space between words: for name matching."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    return " ".join(re.sub(r"[^\w%$.]+|(?<!\d)\.|\.(?!\d)", " ", text).split())


def name_in(name: str, passage: str) -> bool:
    return f" {plain(name)} " in f" {plain(passage)} "
