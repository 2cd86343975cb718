"""PDF parsing without OCR: pdfium's text layer (about 25x faster than pdfminer here) read line
by line and turned into the same element structure unstructured produces (ingest/layout.py):
Title (with a depth), NarrativeText, ListItem and Table (rows kept whole, numeric columns as
cells), each with its page number. Running headers/footers that repeat across pages are dropped.
A PDF pdfium cannot open falls back to unstructured's pdfminer path. Pages without a text layer (a
scanned document, or a scanned page inside a text one) are rendered and read by OCR (ingest/ocr.py)
when it is on.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ingest.blocks import Block, Limits, OcrPage, ParseFailure, blocks_from_elements
from ingest.layout import blocks_from_lines

NO_TEXT = "no extractable text: no text layer, and no page that OCR could read (blank pages?)"


def parse_pdf(file: Path, limits: Limits | None = None) -> tuple[list[Block], str, tuple[OcrPage, ...], list[str]]:
    """(blocks, title, the pages read by OCR, notes for the user)."""
    import pypdfium2 as pdfium

    from ingest.ocr import needs_ocr, ocr_pdf_pages

    limits = limits or Limits()
    try:
        pdf = pdfium.PdfDocument(str(file))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ParseFailure("encrypted: password-protected PDF; remove the password and re-ingest") from exc
        return _parse_with_pdfminer(file), "", (), []
    ocr: dict[int, tuple[list[str], OcrPage]] = {}
    notes: list[str] = []
    try:
        title = (pdf.get_metadata_value("Title") or "").strip()
        pages = []
        unread = []
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            pages.append(_clean_lines(text))
            if needs_ocr(page, text):
                unread.append(index)
            page.close()
        if unread:
            ocr, notes = ocr_pdf_pages(pdf, unread, limits, any(pages))
    finally:
        pdf.close()
    if not any(pages) and not ocr:
        raise ParseFailure(NO_TEXT)
    furniture = _repeated_furniture(pages)
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        # a table that ends a page may go on at the top of the next one, without its header
        continued = blocks[-1].rows[:2] if blocks and blocks[-1].kind == "Table" and blocks[-1].page == number - 1 else ()
        if number in ocr:
            blocks.extend(blocks_from_lines(ocr[number][0], number, continued))
            continue
        kept = [ln for i, ln in enumerate(lines) if not _is_furniture(ln, i, len(lines), furniture)]
        blocks.extend(blocks_from_lines(kept, number, continued))
    read = tuple(entry for _, entry in sorted((n, e) for n, (_, e) in ocr.items()))
    if not blocks and not read:
        raise ParseFailure(NO_TEXT)
    return blocks, title, read, notes


def _parse_with_pdfminer(file: Path) -> list[Block]:
    from unstructured.partition.pdf import partition_pdf

    elements = partition_pdf(filename=str(file), strategy="fast", languages=["eng"])
    blocks = blocks_from_elements(elements, keep_furniture=True)
    if not blocks:
        raise ParseFailure(NO_TEXT)
    return blocks


NEGATIVE_SPACED = re.compile(r"\((\d[\d,.]*)\s+\)")


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\ufffe", "-").replace("\x02", "-").replace("\u00ad", "")
    text = NEGATIVE_SPACED.sub(r"(\1)", text)  # "(260 )" → "(260)"
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
