"""The records parsing works in (ingest/loaders.py and the readers it calls: pdf, ocr, convert,
guards, coverage): the file types read, a parse failure, the blocks of a document and its OCR'd
pages, the limits parsing runs under, and the blocks made from `unstructured`'s elements. It imports
none of those readers, so each of them imports it and none imports another's caller.

Runs inside parser worker processes: every record is plain and picklable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.tables import html_table_rows

ZIP_TYPES = {".docx", ".pptx", ".xlsx", ".xlsm", ".docm", ".pptm"}
ODF_TYPES = {".odt", ".ods", ".odp"}
OLE_TYPES = {".doc", ".ppt", ".xls"}
TEXT_TYPES = {".txt", ".text", ".md", ".markdown", ".csv", ".tsv", ".html", ".htm", ".xhtml", ".eml"}
IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
SUPPORTED = ZIP_TYPES | ODF_TYPES | OLE_TYPES | TEXT_TYPES | IMAGE_TYPES | {".pdf", ".msg", ".rtf"}
# Read only through LibreOffice (ingest/convert.py); the Debian package that converts each.
LEGACY_CONVERTER = {".doc": "libreoffice-writer", ".rtf": "libreoffice-writer", ".odt": "libreoffice-writer",
                    ".ppt": "libreoffice-impress", ".odp": "libreoffice-impress", ".ods": "libreoffice-calc"}  # fmt: skip
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Page furniture, not content (PDF "Header"s from the fast strategy are guesses, so PDFs keep them).
DROPPED = {"PageBreak", "PageNumber", "Header", "Footer", "Image"}


class ParseFailure(Exception):
    """A file that cannot be ingested; the message is the one-line reason in the report."""


@dataclass(frozen=True)
class Block:
    """One structural element of a document."""

    kind: str  # unstructured category: Title, NarrativeText, ListItem, Table, Text, ...
    text: str
    page: int | str | None = None  # PDF page, PPTX slide, XLSX sheet name
    depth: int = 0  # heading level for titles (0 = top)
    rows: tuple[str, ...] = ()  # tables: Markdown rows, the first one the header


@dataclass(frozen=True)
class OcrPage:
    """A page read by OCR: its mean word confidence (0-100), or why it could not be read."""

    page: int
    confidence: float | None
    error: str = ""


@dataclass(frozen=True)
class ParsedDocument:
    blocks: tuple[Block, ...]
    title: str = ""
    seconds: float = 0.0
    ocr_pages: tuple[OcrPage, ...] = ()
    notes: tuple[str, ...] = ()  # what the user should know: little text for the file's size, pages not read


@dataclass(frozen=True)
class Limits:
    """Limits and switches of parsing, as the parser workers get them (ingest settings)."""

    max_file_mb: float = 100.0
    max_unzipped_mb: float = 500.0
    max_zip_ratio: float = 200.0
    max_text_chars: int = 50_000_000
    guard_seconds: float = 20.0
    ocr: bool = True
    ocr_languages: tuple[str, ...] = ("eng",)
    ocr_page_timeout_s: float = 60.0
    ocr_dpi: int = 300
    ocr_low_confidence: float = 60.0
    convert_timeout_s: float = 120.0

    @classmethod
    def from_settings(cls, config: Any) -> Limits:
        """From `IngestSettings` (retrieval/settings.py)."""
        return cls(
            max_file_mb=config.max_file_mb, max_unzipped_mb=config.max_unzipped_mb, max_zip_ratio=config.max_zip_ratio,
            max_text_chars=config.max_text_chars, guard_seconds=config.guard_seconds, ocr=config.ocr,
            ocr_languages=tuple(config.ocr_languages), ocr_page_timeout_s=config.ocr_page_timeout_s, ocr_dpi=config.ocr_dpi,
            ocr_low_confidence=config.ocr_low_confidence, convert_timeout_s=config.convert_timeout_s,
        )  # fmt: skip

    def ocr_options(self) -> OcrOptions:
        return OcrOptions(self.ocr_languages, self.ocr_page_timeout_s, self.ocr_dpi, self.ocr_low_confidence)


@dataclass(frozen=True)
class OcrOptions:
    languages: tuple[str, ...] = ("eng",)
    page_timeout_s: float = 60.0
    dpi: int = 300  # rendering resolution of PDF pages
    low_confidence: float = 60.0  # mean word confidence (0-100) under which a page is flagged


def blocks_from_elements(elements: list[Any], keep_furniture: bool) -> list[Block]:
    blocks: list[Block] = []
    for element in elements:
        kind = type(element).__name__
        if kind in DROPPED and not (keep_furniture and kind in ("Header", "Footer")):
            continue
        meta = element.metadata
        text = (element.text or "").strip()
        page = meta.page_name if meta.page_name else meta.page_number
        if kind == "Table":
            rows = html_table_rows(meta.text_as_html) if meta.text_as_html else ()
            if rows:
                blocks.append(Block("Table", "\n".join(rows), page, 0, rows))
            elif text:
                blocks.append(Block("Table", text, page))
            continue
        if not text:
            continue
        blocks.append(Block(kind, text, page, int(meta.category_depth or 0) if kind == "Title" else 0))
    return blocks
