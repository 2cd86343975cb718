"""Lines of text laid out on a page → the element structure unstructured produces: Title (with a
depth), NarrativeText, ListItem and Table (rows kept whole, numeric columns as cells, period
headings rebuilt), each with its page number. The lines come from a PDF's text layer (ingest/pdf.py)
or from OCR (ingest/ocr.py); both call this module and neither calls the other back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ingest.blocks import Block

NUMBER = re.compile(r"^\(?[$€£¥]?\(?-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?%?\)?$|^[—–-]+$")
CURRENCY = {"$", "€", "£", "¥", "%"}
BULLET = re.compile(r"^([•●◦▪■□◆♦\-–*·]|\(?[a-z0-9]{1,3}[.)])\s+\S")
TITLE_PREFIX = re.compile(r"^(PART|Part)\s+[IVX\d]+\b|^(ITEM|Item)\s+\d+[A-Z]?\b|^(NOTE|Note)\s+\d+\b")
TERMINAL = (".", ",", ";", "?", "!")
TABLE_UNITS = re.compile(r"\bin (?:thousands|millions|billions)\b", re.I)
TRAILING_UNITS = re.compile(r"\((?:[\w$ ]+ )?in (?:thousands|millions|billions)[^)]{0,60}\)\s*:?\s*$", re.I)
UNITS_LINE = re.compile(r"^\(?(?:\w+ )?in (?:thousands|millions|billions)\b", re.I)  # "(In millions, except …)"
# Column headings of financial tables: a period phrase ("Three Months Ended"), then the period ends.
PERIOD_PHRASE = re.compile(r"\b(?:(?:Three|Six|Nine|Twelve) Months|Quarter|(?:Fiscal )?Years?|\d{1,2} Weeks) End(?:ed|ing)\b", re.I)
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
PARTIAL_DATE = re.compile(rf"\b{_MON} \d{{1,2}}\b,?")
PERIOD_TOKEN = re.compile(r"\b(?:Q[1-4]|YTD|FY|H[12]) ?\d{4}\b")
CHANGE = re.compile(r"(?<![\w%])(?:%|Percentage|Percent)? ?Change\b")
YEAR = re.compile(r"(?<![\d,$])\b(?:19|20)\d{2}\b(?![\d,])")


def row_cells(line: str) -> list[str] | None:
    """'Net sales $ 82,959 $ 81,434' → ['Net sales', '$ 82,959', '$ 81,434']; None if not a numeric row."""
    tokens = line.split()
    cells: list[str] = []
    percent = False
    i = len(tokens)
    while i > 0:
        token = tokens[i - 1]
        if token == "%" and not percent:
            percent = True
        elif NUMBER.match(token):
            cells.insert(0, token + (" %" if percent else ""))
            percent = False
        elif token in CURRENCY and cells and not percent:
            cells[0] = token + " " + cells[0]
        else:
            break
        i -= 1
    if percent:
        i += 1
    label = " ".join(tokens[:i])
    if len(cells) < 2 or len(label.split()) > 20:
        return None
    if label and label.rstrip().endswith(TERMINAL[:1]) and len(label.split()) > 8:  # a sentence ending in numbers
        return None
    return [label, *cells]


def column_headings(header: str, columns: int) -> tuple[str, list[str]] | None:
    """The headings of a table's value columns from its header text, as PDFs lay them out on
    several lines ("Three Months Ended Nine Months Ended / July 1, / 2023 / June 25, / 2022 …"):
    (the rest of the header, e.g. title and units; one heading per column), or None when the header
    does not name `columns` periods."""
    if columns < 1:
        return None
    phrases = list(PERIOD_PHRASE.finditer(header))
    tokens = list(PERIOD_TOKEN.finditer(header))
    days = list(PARTIAL_DATE.finditer(header))
    years = [m for m in YEAR.finditer(header) if not any(t.start() <= m.start() < t.end() for t in tokens)]
    group = columns // len(phrases) if phrases and columns % len(phrases) == 0 else 0

    def day(i: int) -> str:
        return days[i].group(0).rstrip(",")

    changes = list(CHANGE.finditer(header))
    if (changes and phrases and len(changes) == len(phrases) and len(years) + len(changes) == columns
            and len(days) in (len(years), len(phrases))):
        # "Three Months Ended Nine Months Ended July 1, 2023 June 25, 2022 Change July 1, 2023 …": each
        # period group ends with a change column. Or one day per group: "Three Months Ended March 31,
        # Percentage Change Nine Months Ended March 31, Percentage Change 2023 2022 2023 2022".
        per = len(years) // len(phrases)
        headings = []
        for g, phrase in enumerate(phrases):
            headings += [f"{phrase.group(0)} {day(g * per + k if len(days) == len(years) else g)}, {years[g * per + k].group(0)}"
                         for k in range(per)]
            headings.append(f"{phrase.group(0)} change")
        rest = _without(header, [*phrases, *days, *years, *changes])
        return rest, headings
    used = [*phrases, *days, *years]
    if tokens and columns % len(tokens) == 0:  # "Q3 2023 Q3 2022 YTD 2023 YTD 2022"
        ends, used = [tokens[i * len(tokens) // columns].group(0) for i in range(columns)], [*phrases, *tokens]
    elif len(years) != columns:
        return None
    elif len(days) == columns:  # "July 1, 2023 June 25, 2022 …" or "October 29, October 30, … 2023 2022 …"
        ends = [f"{day(i)}, {years[i].group(0)}" for i in range(columns)]
    elif group and len(days) == len(phrases):  # "Three Months Ended September 30, Nine Months … 2022 2023 2022 2023"
        ends = [f"{day(i // group)}, {years[i].group(0)}" for i in range(columns)]
    elif len(days) == 1:  # "Three Months Ended September 30, 2023 2022"
        ends = [f"{day(0)}, {y.group(0)}" for y in years]
    elif not days:
        ends = [y.group(0) for y in years]
    else:
        return None
    headings = [f"{phrases[i // group].group(0)} {end}" if group else end for i, end in enumerate(ends)]
    if phrases and not group and len(phrases) == 1:
        headings = [f"{phrases[0].group(0)} {end}" for end in ends]
    return _without(header, used), headings


def _without(text: str, matches: list[re.Match]) -> str:
    for m in sorted(matches, key=lambda m: m.start(), reverse=True):
        text = text[: m.start()] + " " + text[m.end() :]
    return " ".join(text.split()).strip(" ,:;")


def _is_title(line: str, next_line: str | None) -> bool:
    words = line.split()
    if not words or len(words) > 12 or len(line) > 100 or line.endswith(TERMINAL) or not any(c.isalpha() for c in line):
        return False
    if next_line and next_line[:1].islower():
        return False
    if TITLE_PREFIX.match(line):
        return True
    letters = [c for c in line if c.isalpha()]
    if len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return True
    long_words = [w for w in words if len(w) > 3 and w[0].isalpha()]
    return bool(long_words) and line[0].isupper() and sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.6


def _title_depth(line: str) -> int:
    if line.upper().startswith("PART"):
        return 0
    if line.upper().startswith("ITEM"):
        return 1
    if line.upper().startswith("NOTE"):
        return 2
    return 3


def _short_label(line: str) -> bool:
    words = len(line.split())
    return (words <= 10 and not line.endswith((".", ";", "?", "!"))) or (words <= 16 and line.endswith(":"))


def blocks_from_lines(lines: list[str], page: int, continued: Sequence[str] = ()) -> list[Block]:
    """A page's blocks. `continued`: the heading rows (heading and separator) of a table that ended
    the page before; a table opening this page without a header of its own, before any title, with
    as many columns, is that table going on and takes its headings (a balance sheet's second page
    starts with the row "10,330 shares outstanding) 108 108", which was read as its heading)."""
    rows = [row_cells(ln) for ln in lines]
    kinds = ["row" if r else "" for r in rows]
    # Tables: runs of numeric rows, with short label lines between rows and a header above.
    i = 0
    while i < len(lines):
        if kinds[i] != "row":
            i += 1
            continue
        start = i
        end = i
        j = i + 1
        while j < len(lines):
            if kinds[j] == "row":
                end = j
            elif not (_short_label(lines[j]) and any(kinds[k] == "row" for k in range(j + 1, min(j + 4, len(lines))))):
                break
            j += 1
        head = start
        while head > 0 and start - head < 14 and not kinds[head - 1] and (_short_label(lines[head - 1]) or UNITS_LINE.match(lines[head - 1])) and not TITLE_PREFIX.match(lines[head - 1]):
            head -= 1
        if sum(k == "row" for k in kinds[start : end + 1]) >= 2 or (head < start and len(rows[start] or ()) >= 4):
            for k in range(head, end + 1):
                kinds[k] = kinds[k] or "label"
            kinds[head] = "head" if head < start else kinds[head]
            for k in range(head + 1, start):
                kinds[k] = "head+"
        i = end + 1
    titles = [kinds[i] == "" and _is_title(ln, lines[i + 1] if i + 1 < len(lines) else None) for i, ln in enumerate(lines)]
    _demote_header_fragments(lines, titles)
    blocks: list[Block] = []
    paragraph: list[str] = []
    para_kind = "NarrativeText"
    table: list[list[str]] = []
    header: list[str] = []

    def close_paragraph() -> None:
        nonlocal paragraph
        if paragraph:
            text = " ".join(paragraph)
            kind = para_kind if para_kind == "ListItem" or len(text.split()) >= 6 else "Text"
            blocks.append(Block(kind, text, page))
            paragraph = []

    def close_table() -> None:
        nonlocal table, header
        if table or header:
            # "The following table shows … (dollars in millions):" just above: the table's unit.
            before = " ".join(paragraph) if paragraph else (blocks[-1].text if blocks and blocks[-1].kind != "Table" else "")
            unit = TRAILING_UNITS.search(before[-120:])
            if unit and not any(TABLE_UNITS.search(h) for h in header):
                header = [unit.group(0).rstrip(":").strip(), *header]
            elif header and (cut := re.match(r"^(thousands|millions|billions)\)", header[0], re.I)) and before.rstrip().endswith("(in"):
                header = [f"(in {cut.group(1)}){header[0][cut.end():]}", *header[1:]]  # "… (in" / "millions)" across lines
            if not header and table and (prior := _going_on(blocks, continued)) and _widths(table) == _cell_count(prior[0]) - 1:
                # the table above goes on here: its headings; a label wrapped onto a line of its own
                # ("Common stock (…; 10,242 and" / "10,258 shares outstanding) 108 108") is one label
                if blocks and _wrapped_label(blocks[-1], table[0]):
                    table[0] = [f"{blocks.pop().text} {table[0][0]}", *table[0][1:]]
                all_rows = (*prior[:2], *(_row(r) for r in _grouped(table)))
            else:
                all_rows = table_rows(header, table)
            blocks.append(Block("Table", "\n".join(all_rows), page, 0, all_rows))
        table, header = [], []

    for index, line in enumerate(lines):
        kind = kinds[index]
        if kind in ("head", "head+"):
            close_paragraph()
            if kind == "head":
                close_table()
            header.append(line)
            continue
        if kind in ("row", "label"):
            close_paragraph()
            table.append(rows[index] or [line])
            continue
        close_table()
        if titles[index]:
            close_paragraph()
            blocks.append(Block("Title", line, page, _title_depth(line)))
        elif BULLET.match(line):
            close_paragraph()
            paragraph, para_kind = [line], "ListItem"
        elif paragraph and (not paragraph[-1].endswith((".", "!", "?", ":")) or line[:1].islower()):
            paragraph.append(line)
        else:
            close_paragraph()
            paragraph, para_kind = [line], "NarrativeText"
    close_paragraph()
    close_table()
    return blocks


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _cell_count(row: str) -> int:
    """How many cells a row `_row` wrote has (an escaped "\\|" inside a cell divides nothing)."""
    return len(re.split(r"(?<!\\) \| ", row.strip()[2:-2])) if row.strip().startswith("| ") else 0


LEAD_IN = re.compile(r"^(.*?[\w)]):\s+(?=\S)")  # the words up to the first colon followed by more


def _going_on(blocks: list[Block], continued: Sequence[str]) -> Sequence[str]:
    """The heading rows of the table a headerless one goes on from: the page's table just above (a
    wrapped label line between them aside), or, when nothing but text stands above it on this page,
    the table that ended the page before (`continued`); () when it starts a table of its own."""
    if blocks and blocks[-1].kind == "Table":
        return blocks[-1].rows[:2]
    if len(blocks) >= 2 and blocks[-2].kind == "Table" and _unfinished(blocks[-1]):
        return blocks[-2].rows[:2]
    return continued if not any(b.kind in ("Table", "Title") for b in blocks) else ()


def _unfinished(block: Block) -> bool:
    """A line of text that does not end its sentence ("Common stock (…; 10,242 and")."""
    return block.kind in ("Text", "NarrativeText") and not block.text.rstrip().endswith(TERMINAL)


def _wrapped_label(block: Block, first: list[str]) -> bool:
    """Is `block` the first part of the label of the row `first` ("…; 10,242 and" / "10,258 shares outstanding)")?"""
    return _unfinished(block) and len(first) > 1 and (first[0][:1].islower() or first[0][:1].isdigit())


def _widths(table: list[list[str]], least: int = 1) -> int:
    """The number of value columns most of a table's rows with at least `least` of them have (0: no such row)."""
    widths = Counter(len(r) - 1 for r in table if len(r) > least)
    return widths.most_common(1)[0][0] if widths else 0


def table_rows(header: list[str], table: list[list[str]]) -> tuple[str, ...]:
    """Markdown rows of a table: a heading row that names every value column where the header
    text allows (column_headings), the separator, then the rows. A row of bare years right under
    the header ("2023 2022 2023 2022") is part of the headings."""
    table = list(table)
    text = " ".join(header)
    if table and len(table[0]) > 1 and all(YEAR.fullmatch(c.strip()) for c in table[0][1:]):
        text = f"{text} {' '.join(table.pop(0))}".strip()  # "Three Months Ended September 30, | 2023 | 2022"
    table = _grouped(table)
    columns = _widths(table, least=2) or max((len(r) - 1 for r in table), default=0)
    found = column_headings(text, columns) if text else None
    if found is None and (lead := LEAD_IN.match(text)):
        # "… for the trailing twelve months ended September 30, 2022 and 2023 (in millions): Twelve Months
        # Ended September 30, 2022 2023": the sentence introducing the table wrapped into its header; the
        # headings are what follows its colon (its own dates would count as columns)
        if (after := column_headings(text[lead.end():], columns)) is not None:
            found = (" ".join(f"{lead.group(1)} {after[0]}".split()), after[1])
    if found is not None:
        rest, headings = found
        return (_row([rest, *headings]), "|" + " --- |" * (columns + 1), *(_row(r) for r in table))
    if not text and table:
        text = " ".join(table.pop(0))
    return ("| " + text + " |", "| --- |", *(_row(r) for r in table))


def _grouped(table: list[list[str]]) -> list[list[str]]:
    """Rows whose label the table repeats under several sub-headings, named with their sub-heading:
    "| North America |" / "| Net sales | 78,843 | …" and the same "Net sales" under "International"
    and "AWS" → "| North America — Net sales | 78,843 | …". A row read alone (its chunk, the
    answer's label, a search for "AWS net sales") otherwise cannot say whose it is. A sub-heading
    that ends in a colon ("Current assets:") introduces a list, not a group, and names nothing."""
    table = _joined_labels(table)
    labels = Counter(r[0].strip().lower() for r in table if len(r) > 1)
    group = ""
    out = []
    for row in table:
        if len(row) == 1:
            text = row[0].strip()
            group = "" if text.endswith(":") or CONTINUED.search(text) else text
        elif group and row[0].strip() and labels[row[0].strip().lower()] > 1:
            row = [f"{group} — {row[0].strip()}", *row[1:]]
        out.append(row)
    return out


CONTINUED = re.compile(r"\b(?:in|of|and|or|for|to|from|by|the|on|at|with|net)$", re.I)  # a label line the next line goes on


def _joined_labels(table: list[list[str]]) -> list[list[str]]:
    """A row label wrapped over two lines ("Reclassification adjustments for net realized gain included
    in net" / "income | — | 1 |"): one label, the line on its own joined to the row that goes on in
    lower case."""
    out: list[list[str]] = []
    for row in table:
        if out and len(out[-1]) == 1 and len(row) > 1 and row[0].strip()[:1].islower():
            row = [f"{out.pop()[0].strip()} {row[0].strip()}", *row[1:]]
        out.append(row)
    return out


def _demote_header_fragments(lines: list[str], titles: list[bool]) -> None:
    """Three or more one-to-three-word 'titles' in a row are column headings, not sections."""
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and titles[j] and len(lines[j].split()) <= 3 and not TITLE_PREFIX.match(lines[j]):
            j += 1
        if j - i >= 3:
            for k in range(i, j):
                titles[k] = False
        i = max(j, i + 1)
