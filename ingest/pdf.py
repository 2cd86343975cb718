"""PDF parsing without OCR: pdfium's text layer (about 25x faster than pdfminer here) read line
by line and turned into the same element structure unstructured produces: Title (with a depth),
NarrativeText, ListItem and Table (rows kept whole, numeric columns as cells), each with its page
number. Running headers/footers that repeat across pages are dropped. A PDF pdfium cannot open
falls back to unstructured's pdfminer path; one with no text at all fails (scanned, no OCR).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ingest.loaders import Block, ParseFailure, blocks_from_elements

NO_TEXT = "no extractable text (scanned PDF?): OCR is not available"
NUMBER = re.compile(r"^\(?[$€£¥]?\(?-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?%?\)?$|^[—–-]+$")
CURRENCY = {"$", "€", "£", "¥", "%"}
BULLET = re.compile(r"^([•●◦▪■□◆♦\-–*·]|\(?[a-z0-9]{1,3}[.)])\s+\S")
TITLE_PREFIX = re.compile(r"^(PART|Part)\s+[IVX\d]+\b|^(ITEM|Item)\s+\d+[A-Z]?\b|^(NOTE|Note)\s+\d+\b")
TERMINAL = (".", ",", ";", "?", "!")


def parse_pdf(file: Path) -> tuple[list[Block], str]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(file))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ParseFailure("encrypted: password-protected PDF; remove the password and re-ingest") from exc
        return _parse_with_pdfminer(file)
    try:
        title = (pdf.get_metadata_value("Title") or "").strip()
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            pages.append(_clean_lines(text))
            page.close()
    finally:
        pdf.close()
    if not any(pages):
        raise ParseFailure(NO_TEXT)
    furniture = _repeated_furniture(pages)
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        kept = [ln for i, ln in enumerate(lines) if not _is_furniture(ln, i, len(lines), furniture)]
        blocks.extend(blocks_from_lines(kept, number))
    if not blocks:
        raise ParseFailure(NO_TEXT)
    return blocks, title


def _parse_with_pdfminer(file: Path) -> tuple[list[Block], str]:
    from unstructured.partition.pdf import partition_pdf

    elements = partition_pdf(filename=str(file), strategy="fast", languages=["eng"])
    blocks = blocks_from_elements(elements, keep_furniture=True)
    if not blocks:
        raise ParseFailure(NO_TEXT)
    return blocks, ""


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\ufffe", "-").replace("\x02", "-").replace("\u00ad", "")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _norm(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _repeated_furniture(pages: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of many pages (running headers, footers, page numbers)."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edge = set(lines[:2] + lines[-2:])
        seen.update({_norm(ln) for ln in edge})
    return {line for line, count in seen.items() if count >= max(3, len(pages) // 3)}


def _is_furniture(line: str, index: int, count: int, furniture: set[str]) -> bool:
    at_edge = index < 2 or index >= count - 2
    return at_edge and (_norm(line) in furniture or (index >= count - 2 and re.fullmatch(r"(page )?\d{1,4}", line.lower()) is not None))


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


def blocks_from_lines(lines: list[str], page: int) -> list[Block]:
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
        while head > 0 and start - head < 14 and not kinds[head - 1] and kinds[head - 1] == "" and _short_label(lines[head - 1]) and not TITLE_PREFIX.match(lines[head - 1]):
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
    table: list[str] = []
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
            head = "| " + " ".join(header) + " |" if header else table.pop(0) if table else ""
            all_rows = (head, "| --- |", *table)
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
            cells = rows[index] or [line]
            table.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
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
