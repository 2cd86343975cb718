"""No silent empty documents: a file that yields no text fails with the reason, and one that yields
far less text than its content suggests is ingested with a note that says so (run report text,
the run log, `lore status`, the admin page).

"Content" is measured where it can be: the XML parts of an Office Open XML file that hold its text
(the body of a document, the slides, the shared strings and sheets of a workbook). Text readers
turn 0.6-22 % of that markup into characters on the files of ../shared/data/office; a result
under SPARSE_RATIO of it means the reader lost most of the document (a sheet format it does not
know, text in shapes it does not read). Images, charts and embedded objects are counted apart:
their text is not read (OCR reads PDFs and image files, not pictures inside Office files).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from ingest.blocks import IMAGE_TYPES, ZIP_TYPES, Block, OcrPage

SPARSE_RATIO = 0.002  # characters per byte of text-bearing markup
MIN_MARKUP = 64 * 1024  # smaller files are too small to judge
MIN_PICTURES = 256 * 1024  # pictures/charts/embeddings that make a note worth it when the text is short
SHORT_TEXT = 200  # characters


def text_chars(blocks: Iterable[Block]) -> int:
    return sum(len(b.text) for b in blocks)


def office_parts(file: Path) -> tuple[int, int]:
    """(bytes of the XML parts that hold text, compressed bytes of pictures, charts and embeddings)."""
    markup = pictures = 0
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                name = info.filename.lower()
                if name.endswith(".xml") and (
                    name in ("word/document.xml", "xl/sharedstrings.xml")
                    or name.startswith(("ppt/slides/slide", "xl/worksheets/", "word/footnotes", "word/endnotes"))
                ):  # fmt: skip
                    markup += info.file_size
                elif "/media/" in name or "/embeddings/" in name or "/charts/" in name:
                    pictures += info.compress_size
    except (zipfile.BadZipFile, OSError):
        return 0, 0
    return markup, pictures


def sparse_note(chars: int, markup: int, pictures: int) -> str:
    """The note for a result far smaller than the content, or ''."""
    if markup >= MIN_MARKUP and chars < markup * SPARSE_RATIO:
        return (f"little text: {chars:,} characters from {markup / 1024:,.0f} KB of document text markup; the reader may have "
                "missed most of it: open and save the file again (or as PDF) and re-ingest")  # fmt: skip
    if pictures >= MIN_PICTURES and chars < SHORT_TEXT:
        return (f"little text: {chars:,} characters beside {pictures / 1024:,.0f} KB of pictures, charts or embedded files, "
                "whose text is not read; save it as PDF to have its pages OCR'd")  # fmt: skip
    return ""


def shortfall_note(file: Path, ext: str, blocks: Sequence[Block]) -> str:
    if ext not in ZIP_TYPES:
        return ""
    markup, pictures = office_parts(file)
    return sparse_note(text_chars(blocks), markup, pictures)


def no_text_reason(file: Path, ext: str, ocr_pages: Sequence[OcrPage], notes: Sequence[str]) -> str:
    """One line saying why a file gave no text, and what to do."""
    errors = [p.error for p in ocr_pages if p.error]
    if ocr_pages and len(errors) == len(ocr_pages):
        return f"no text: OCR could not read any page ({errors[0]}); raise ingest.ocr_page_timeout_s or check the scan"
    if ext in IMAGE_TYPES or ocr_pages:
        return "no text: OCR found no words (a blank or unreadable scan?); check the image quality or ingest.ocr_languages"
    if ext in ZIP_TYPES or ext in (".doc", ".xls", ".ppt", ".odt", ".ods", ".odp", ".rtf"):
        _, pictures = office_parts(file) if ext in ZIP_TYPES else (0, 0)
        where = "pictures, charts or embedded files" if pictures else "headers, footers, pictures or charts"
        return f"no text: the document body holds no text (only {where}?); nothing to search: save it as PDF to have those read"
    return "no text: the file holds nothing to search"
