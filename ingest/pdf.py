"""PDF parsing (no OCR): text, titles, list items and page numbers."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import Block, ParseFailure, blocks_from_elements

NO_TEXT = "no extractable text (scanned PDF?): OCR is not available"


def parse_pdf(file: Path) -> tuple[list[Block], str]:
    from unstructured.partition.pdf import partition_pdf

    elements = partition_pdf(filename=str(file), strategy="fast", languages=["eng"])
    blocks = blocks_from_elements(elements, keep_furniture=True)
    if not blocks:
        raise ParseFailure(NO_TEXT)
    return blocks, ""
