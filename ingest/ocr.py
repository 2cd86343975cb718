"""OCR with Tesseract (Debian's `tesseract-ocr`, through pytesseract) for PDF pages without a text
layer and for images (PNG, JPEG, TIFF with every frame as a page, BMP, GIF, WebP).

One Tesseract call per page gives both the words and their confidences (`image_to_data`), under a
per-page deadline (`ingest.ocr_page_timeout_s`: the process is killed and only that page is
missed). Lines come back in reading order and go through the same line classifier as PDF text
layers (titles, paragraphs, lists, tables), with the page number kept for citations. Tesseract runs
single-threaded (OMP_THREAD_LIMIT=1): the parser workers are the parallelism, and OpenMP threads
fighting over the same cores made a page slower, not faster.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.blocks import Block, Limits, OcrOptions, OcrPage, ParseFailure
from ingest.layout import blocks_from_lines

INSTALL = "apt-get install --no-install-recommends tesseract-ocr tesseract-ocr-eng (or run `make system-deps` as root)"
MIN_PAGE_CHARS = 16  # a PDF page with less text than this (a page number, a stamp) is read by OCR
IMAGE_PAGE_CHARS = 200  # … and so is one with a little more whose pictures cover half the page (a scan with a label)
MAX_PIXELS = 60_000_000  # per page: an A3 page at 400 dpi is 31 M; larger is a decompression bomb or a poster


@dataclass(frozen=True)
class PageText:
    """One OCR'd page: its lines in reading order and the mean word confidence (0-100)."""

    page: int
    lines: tuple[str, ...]
    confidence: float | None
    seconds: float
    error: str = ""  # the page could not be read (timeout, Tesseract error)


@functools.cache
def _installed_languages(program: str) -> frozenset[str]:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = program
    return frozenset(pytesseract.get_languages(config=""))


def require_tesseract(options: OcrOptions) -> str:
    """The tesseract program, or ParseFailure naming the Debian package to install."""
    program = shutil.which("tesseract")
    if program is None:
        raise ParseFailure(f"OCR needs Tesseract, which is not installed: {INSTALL}")
    try:
        installed = _installed_languages(program)
    except Exception as exc:  # a broken installation is reported like a missing one
        raise ParseFailure(f"Tesseract does not run ({exc.__class__.__name__}: {exc}): reinstall it ({INSTALL})") from exc
    missing = [lang for lang in options.languages if lang not in installed]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
        raise ParseFailure(f"OCR language {', '.join(missing)} is not installed: apt-get install {packages}, or change ingest.ocr_languages")
    return program


@contextmanager
def _single_threaded() -> Iterator[None]:
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous


def ocr_image(image: Any, page: int, options: OcrOptions, dpi: int | None = None) -> PageText:
    """OCR one PIL image as page `page`. A timeout or Tesseract error is the page's `error`."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = require_tesseract(options)
    config = "--psm 3" + (f" --dpi {dpi}" if dpi else "")
    started = time.perf_counter()
    try:
        with _single_threaded():
            data = pytesseract.image_to_data(image, lang="+".join(options.languages), config=config,
                                             output_type=pytesseract.Output.DICT, timeout=options.page_timeout_s)  # fmt: skip
    except RuntimeError as exc:
        if "timeout" not in str(exc).lower():
            raise
        return PageText(page, (), None, time.perf_counter() - started, f"OCR timeout on page {page} (ingest.ocr_page_timeout_s={options.page_timeout_s:g})")
    except pytesseract.TesseractError as exc:
        return PageText(page, (), None, time.perf_counter() - started, f"OCR failed on page {page} ({' '.join(str(exc).split())[:120]})")
    lines, confidence = lines_from_data(data)
    return PageText(page, tuple(lines), confidence, time.perf_counter() - started)


def lines_from_data(data: dict[str, list[Any]]) -> tuple[list[str], float | None]:
    """Tesseract's word table (image_to_data) → text lines in reading order and the mean word
    confidence weighted by word length (words Tesseract gave no confidence, -1, are left out)."""
    lines: dict[tuple[int, int, int, int], list[str]] = {}
    weighted = 0.0
    letters = 0
    for i, word in enumerate(data.get("text", [])):
        word = (word or "").strip()
        if not word:
            continue
        key = (int(data["page_num"][i]), int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append(word)
        conf = float(data["conf"][i])
        if conf >= 0:
            weighted += conf * len(word)
            letters += len(word)
    text = [" ".join(words) for _, words in sorted(lines.items())]
    return text, (round(weighted / letters, 1) if letters else None)


def page_blocks(result: PageText) -> list[Block]:
    return blocks_from_lines(list(result.lines), result.page)


def render_page(page: Any, dpi: int) -> Any:
    """A pdfium page as a grayscale PIL image at `dpi` (less for pages too large to render whole)."""
    width, height = page.get_size()
    scale = dpi / 72
    if width * height * scale * scale > MAX_PIXELS:
        scale = (MAX_PIXELS / (width * height)) ** 0.5
    return page.render(scale=scale, grayscale=True).to_pil(), round(scale * 72)


def image_pages(file: Path) -> Iterator[tuple[int, Any]]:
    """(page number, PIL image) for every frame of an image file (multi-page TIFF, animated GIF)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(file)
    except UnidentifiedImageError as exc:
        raise ParseFailure(f"corrupt: not a readable {file.suffix.lower()[1:].upper()} image") from exc
    except Image.DecompressionBombError as exc:
        raise ParseFailure(f"image too large ({exc}): scale it down to under {MAX_PIXELS // 1_000_000} megapixels") from exc
    with image:
        for index, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if frame.width * frame.height > MAX_PIXELS:
                raise ParseFailure(f"image too large: page {index} is {frame.width}x{frame.height} pixels; scale it down to under {MAX_PIXELS // 1_000_000} megapixels")
            try:
                yield index, frame.convert("L")
            except OSError as exc:
                raise ParseFailure(f"corrupt: page {index} of the image could not be decoded ({exc})") from exc


def parse_image(file: Path, options: OcrOptions, enabled: bool) -> tuple[list[Block], list[PageText]]:
    """Blocks and per-page OCR results of an image file."""
    if not enabled:
        raise ParseFailure("image without a text layer: OCR is off (ingest.ocr = false); turn it on to read images")
    require_tesseract(options)
    blocks: list[Block] = []
    pages: list[PageText] = []
    for number, image in image_pages(file):
        result = ocr_image(image, number, options)
        pages.append(result)
        blocks.extend(page_blocks(result))
    return blocks, pages


def needs_ocr(page, text: str) -> bool:
    """A page with (almost) no text layer that draws something, or little text over a page-sized picture."""
    import pypdfium2.raw as pdfium_c

    chars = len(text.strip())
    if chars >= IMAGE_PAGE_CHARS or pdfium_c.FPDFPage_CountObjects(page.raw) == 0:
        return False
    if chars < MIN_PAGE_CHARS:
        return True
    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        left, bottom, right, top = obj.get_pos()
        covered += max(0.0, right - left) * max(0.0, top - bottom)
    return covered >= 0.5 * width * height


def ocr_pdf_pages(pdf, indices: list[int], limits: Limits, has_text: bool) -> tuple[dict[int, tuple[list[str], OcrPage]], list[str]]:
    """OCR the pages at `indices` (0-based): {page number: (lines, record)} and notes. Without OCR
    (off, or Tesseract missing) a PDF with no text at all fails; one with text gets a note."""
    numbers = ", ".join(str(i + 1) for i in indices[:10]) + (" …" if len(indices) > 10 else "")
    if not limits.ocr:
        if not has_text:
            raise ParseFailure("no extractable text (scanned PDF?): OCR is off (ingest.ocr = false); turn it on to read scans")
        return {}, [f"pages without a text layer not read ({numbers}): OCR is off (ingest.ocr = false)"]
    options = limits.ocr_options()
    try:
        require_tesseract(options)
    except ParseFailure as exc:
        if not has_text:
            raise ParseFailure(f"no extractable text (scanned PDF?): {exc}") from None
        return {}, [f"pages without a text layer not read ({numbers}): {exc}"]
    found: dict[int, tuple[list[str], OcrPage]] = {}
    notes: list[str] = []
    for index in indices:
        page = pdf[index]
        try:
            image, dpi = render_page(page, options.dpi)
        finally:
            page.close()
        result = ocr_image(image, index + 1, options, dpi)
        found[index + 1] = (list(result.lines), OcrPage(index + 1, result.confidence, result.error))
        if result.error:
            notes.append(result.error)
    return found, notes
