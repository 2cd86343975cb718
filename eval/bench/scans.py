"""OCR and LibreOffice throughput, one parser process (a worker's view; `ingest.workers` multiply it):

- OCR: a scanned PDF of full A4 pages rendered at 300 dpi from known text, read by `parse_file`
  (pdfium render + Tesseract per page): pages/s, and how many of the known words came back.
- LibreOffice: the legacy .doc/.ppt/.xls files of ../shared/data/office converted (sandboxed, a
  fresh profile each) and parsed by `parse_file`: files/s, conversion alone and with parsing.

Run as part of `python -m eval.bench.ingest` (alone: `python -m eval.bench.ingest --only-scans`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench.common import shared_data

WORDS = re.compile(r"[a-z]+")
TEXT = (
    "Staff who travel abroad request approval at least fourteen days before departure through the travel portal",
    "The request names the destination the dates the purpose of the trip and the budget centre that pays for it",
    "Economy class is booked for flights under six hours and premium economy for longer flights",
    "Hotel costs are refunded up to the city rate published by the finance team each January",
    "Receipts are scanned and attached to the expense claim within thirty days of the return",
    "Travel insurance is arranged by the company and covers medical costs and lost luggage",
)
LEGACY = ("Bug50955.doc", "au.edu.utas.www___data_assets_word_doc_0003_154335_International-Travel-Approval-Request-Form.doc",
          "basic_test_ppt_file.ppt", "Employee.xls")  # fmt: skip


def _page(number: int):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (2480, 3508), 255)  # A4 at 300 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    lines = [f"Travel policy page {number}"] + [TEXT[(number + i) % len(TEXT)] for i in range(36)]
    for i, line in enumerate(lines):
        draw.text((150, 150 + 88 * i), line, fill=0, font=font)
    return image, " ".join(lines)


def ocr_bench(pages: int = 6) -> dict[str, Any]:
    from ingest.blocks import Limits
    from ingest.loaders import parse_file

    if not shutil.which("tesseract"):
        return {"skipped": "tesseract is absent: apt-get install --no-install-recommends tesseract-ocr tesseract-ocr-eng"}
    rendered = [_page(n) for n in range(1, pages + 1)]
    with tempfile.TemporaryDirectory(prefix="lore-bench-ocr-") as work:
        path = Path(work) / "scan.pdf"
        first, *rest = [image for image, _ in rendered]
        first.save(path, "PDF", resolution=300, save_all=True, append_images=rest)
        started = time.perf_counter()
        doc = parse_file(str(path), Limits())
        seconds = time.perf_counter() - started
    known = WORDS.findall(" ".join(text for _, text in rendered).lower())
    read = set(WORDS.findall(" ".join(b.text for b in doc.blocks).lower()))
    confidences = [p.confidence for p in doc.ocr_pages if p.confidence is not None]
    return {
        "pages": pages, "dpi": Limits().ocr_dpi, "seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 3),
        "seconds_per_page": round(seconds / pages, 2), "known_words_read": round(sum(w in read for w in known) / len(known), 4),
        "mean_confidence": round(sum(confidences) / len(confidences), 1) if confidences else None,
    }  # fmt: skip


def libreoffice_bench() -> dict[str, Any]:
    from ingest.convert import convert
    from ingest.blocks import Limits
    from ingest.loaders import parse_file

    if not shutil.which("soffice"):
        return {"skipped": "LibreOffice is absent: apt-get install --no-install-recommends libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress"}
    files = [shared_data("office", "files", name) for name in LEGACY]
    per_file: dict[str, Any] = {}
    convert_total = parse_total = 0.0
    for file in files:
        with tempfile.TemporaryDirectory(prefix="lore-bench-soffice-") as work:
            started = time.perf_counter()
            convert(file, 120, Path(work))
            converted = time.perf_counter() - started
        started = time.perf_counter()
        doc = parse_file(str(file), Limits())  # .xls: xlrd reads it, no conversion
        parsed = time.perf_counter() - started
        convert_total += converted
        parse_total += parsed
        per_file[file.name[:60]] = {"bytes": file.stat().st_size, "convert_seconds": round(converted, 2),
                                    "parse_file_seconds": round(parsed, 2), "characters": sum(len(b.text) for b in doc.blocks)}  # fmt: skip
    return {"files": len(files), "convert_seconds": round(convert_total, 2), "convert_files_per_s": round(len(files) / convert_total, 3),
            "parse_file_seconds": round(parse_total, 2), "parse_file_files_per_s": round(len(files) / parse_total, 3), "per_file": per_file}  # fmt: skip
