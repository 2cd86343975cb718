"""Real Tesseract and real LibreOffice: text rendered into images and scanned PDFs comes back by OCR
with its page numbers and a confidence; a scanned page inside a text PDF is OCR'd alone; legacy
.doc/.xls/.ppt, Strict Open XML, RTF and OpenDocument files yield text; and a whole run over a
folder of scans and problem files reports every problem with its reason while a question about a
scanned page is answered and cited with that page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.conftest import shared_data

from ingest.blocks import Limits, ParseFailure
from ingest.loaders import _parse_converted, parse_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is absent: apt-get install --no-install-recommends tesseract-ocr tesseract-ocr-eng (or make system-deps)"
)
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice is absent: apt-get install --no-install-recommends libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress (or make system-deps)",
)
NOTICE = "The archive room moves to the basement of building C on 14 March."
KEYS = "Keys for the new archive are issued by the facilities desk on weekdays."
LABELS = "Invoices older than seven years are shredded every January."
COVER = (  # a full first page, so that the second page's text starts a passage of its own
    "This bulletin collects the notices of the facilities team for this quarter.",
    "The canteen opens at half past seven from Monday to Friday, and the coffee",
    "machines on every floor were replaced in the first week of the quarter.",
    "Bicycle parking moved to the courtyard behind building A; the old racks",
    "near the main entrance are removed at the end of the month.",
    "The fire drill of the second quarter takes place on a Thursday morning and",
    "lasts about twenty minutes; wardens receive their briefing a week before.",
    "Meeting rooms on the third floor can now be booked through the intranet,",
    "and rooms not claimed within fifteen minutes are released automatically.",
)


def render(*lines: str, size: tuple[int, int] = (2480, 1200)):
    """A white page with the lines in black, as a scanner at 300 dpi would give it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        draw.text((160, 160 + 90 * i), line, fill=0, font=font)
    return image


def text_of(doc) -> str:
    return " ".join(" ".join(b.text for b in doc.blocks).split())


def scanned_pdf(path: Path, *pages) -> Path:
    first, *rest = pages
    first.save(path, "PDF", resolution=300, save_all=True, append_images=rest)
    return path


@needs_tesseract
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_an_image_rendered_from_known_text_is_read(tmp_path, suffix):
    path = tmp_path / f"notice{suffix}"
    render("Relocation", NOTICE).save(path)
    doc = parse_file(str(path), Limits())
    assert NOTICE in text_of(doc)
    assert {b.page for b in doc.blocks} == {1}
    assert len(doc.ocr_pages) == 1 and doc.ocr_pages[0].confidence > 80


@needs_tesseract
def test_every_frame_of_a_tiff_is_a_page(tmp_path):
    path = tmp_path / "scans.tiff"
    render(NOTICE).save(path, save_all=True, append_images=[render(KEYS)], compression="tiff_deflate")
    doc = parse_file(str(path), Limits())
    pages = {b.page: " ".join(b.text for b in doc.blocks if b.page == b.page) for b in doc.blocks}
    assert set(pages) == {1, 2}
    assert NOTICE in " ".join(b.text for b in doc.blocks if b.page == 1)
    assert KEYS in " ".join(b.text for b in doc.blocks if b.page == 2)


@needs_tesseract
def test_a_scanned_pdf_is_read_page_by_page(tmp_path):
    path = scanned_pdf(tmp_path / "scan.pdf", render("Facilities bulletin"), render(NOTICE, KEYS))
    doc = parse_file(str(path), Limits())
    assert [p.page for p in doc.ocr_pages] == [1, 2] and all(p.confidence > 80 for p in doc.ocr_pages)
    second = " ".join(b.text for b in doc.blocks if b.page == 2)
    assert NOTICE in second and KEYS in second


@needs_tesseract
def test_a_scanned_page_inside_a_text_pdf_is_read_alone(tmp_path):
    import pikepdf

    scan = scanned_pdf(tmp_path / "page.pdf", render(LABELS))
    mixed = pikepdf.open(shared_data("sec10q", "docs", "2023 Q3 AAPL.pdf"))
    del mixed.pages[2:]
    with pikepdf.open(scan) as extra:
        mixed.pages.append(extra.pages[0])
        mixed.save(tmp_path / "mixed.pdf")
    doc = parse_file(str(tmp_path / "mixed.pdf"), Limits())
    assert [p.page for p in doc.ocr_pages] == [3]  # pages 1-2 come from the text layer
    assert LABELS in " ".join(b.text for b in doc.blocks if b.page == 3)
    assert any("Apple" in b.text for b in doc.blocks if b.page == 1)


@needs_tesseract
def test_ocr_off_leaves_the_scanned_page_out_with_a_note(tmp_path):
    scan = scanned_pdf(tmp_path / "scan.pdf", render(NOTICE))
    with pytest.raises(ParseFailure, match=r"OCR is off \(ingest.ocr = false\)"):
        parse_file(str(scan), Limits(ocr=False))


@needs_soffice
@pytest.mark.parametrize(
    ("name", "expected", "pages"),
    [
        ("au.edu.utas.www___data_assets_word_doc_0003_154335_International-Travel-Approval-Request-Form.doc", "International Travel Approval Request Form", {None}),
        ("Bug50955.doc", "Пол АНДЕРСОН", {None}),  # Word 95, which no Python reader here opens
        ("basic_test_ppt_file.ppt", "This is the title on page 2", {1, 2}),  # slide numbers kept
    ],
)
def test_legacy_office_files_yield_text(name, expected, pages):
    doc = parse_file(str(shared_data("office", "files", name)), Limits())
    assert expected in text_of(doc)
    assert {b.page for b in doc.blocks} <= pages | {None} and pages <= {b.page for b in doc.blocks} | {None}


@needs_soffice
def test_a_legacy_xls_converts_with_its_sheet_names():
    blocks = _parse_converted(shared_data("office", "files", "Employee.xls"), Limits())
    assert {b.page for b in blocks} == {"Sheet1"} and "| First name: | firstName |" in "\n".join(b.text for b in blocks)


def strict_xlsx(path: Path) -> Path:
    """A workbook saved as Strict Open XML (ISO 29500 strict namespaces)."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    sheet.append(["Team", "Quarter", "Item"])
    sheet.append(["Facilities", "Q3", "Archive relocation costs 4,200 euros"])
    buffer = io.BytesIO()
    book.save(buffer)
    strict = [(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
              (b"http://schemas.openxmlformats.org/officeDocument/2006/relationships", b"http://purl.oclc.org/ooxml/officeDocument/relationships"),
              (b"http://schemas.openxmlformats.org/drawingml/2006/main", b"http://purl.oclc.org/ooxml/drawingml/main")]  # fmt: skip
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            for transitional, iso in strict:
                data = data.replace(transitional, iso)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            out.writestr(info.filename, data)
    return path


@needs_soffice
def test_a_strict_open_xml_workbook_is_read_not_silently_empty(tmp_path):
    from unstructured.partition.auto import partition

    path = strict_xlsx(tmp_path / "strict.xlsx")
    assert partition(filename=str(path), strategy="fast") == []  # what the Python reader gives
    doc = parse_file(str(path), Limits())
    assert "Archive relocation costs 4,200 euros" in text_of(doc) and {b.page for b in doc.blocks} == {"Budget"}


@needs_soffice
@pytest.mark.parametrize("target", ["odt", "rtf"])
def test_opendocument_and_rtf_are_read(tmp_path, target):
    source = shared_data("office", "files", "heading123.docx")
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", target, "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    doc = parse_file(str(tmp_path / f"heading123.{target}"), Limits())
    assert [b.depth for b in doc.blocks if b.kind == "Title"][:3] == [0, 1, 2] and len(text_of(doc)) > 1000


@needs_tesseract
@needs_soffice
def test_a_run_over_scans_and_problem_files(tmp_path, lore_home):
    """Real parser workers: scans yield text with page numbers and confidence, every problem file is
    reported with its reason, `lore status` shows the OCR pages, and a question about the scanned
    page is answered from retrieval and cited with its page (the fake model writes the answer)."""
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant
    from retrieval.generators import FakeChatModel
    from retrieval.settings import load_settings
    from tests.unit.test_ingest_scans_office import _shared_string_bomb

    docs = tmp_path / "docs"
    docs.mkdir()
    cover = render("Facilities bulletin", *COVER, size=(2480, 1800))
    scanned_pdf(docs / "bulletin.pdf", cover, render("Archive Relocation", NOTICE, KEYS))
    render(LABELS).save(docs / "shredding.png")
    shutil.copy(shared_data("office", "files", "basic_test_ppt_file.ppt"), docs / "slides.ppt")
    shutil.copy(shared_data("office", "files", "EmptyDocumentWithHeaderFooter.docx"), docs / "empty.docx")
    shutil.copy(shared_data("office", "files", "extenxls_pwd123.xlsx"), docs / "locked.xlsx")
    strict_xlsx(docs / "strict.xlsx")
    _shared_string_bomb(docs / "bomb.xlsx")
    (docs / "blank.png").write_bytes(b"")  # empty file
    settings = load_settings(overrides={"profile": "test", "ingest": {"workers": 2}})
    report = Ingestor(settings).run([docs])
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert set(failed) == {"empty.docx", "locked.xlsx", "bomb.xlsx", "blank.png"}, failed
    assert failed["empty.docx"].startswith("no text:") and failed["locked.xlsx"].startswith("encrypted:")
    assert failed["bomb.xlsx"].startswith("expansion bomb guard:") and failed["blank.png"].startswith("empty file")
    assert all("\n" not in e and len(e) < 300 for e in failed.values())
    assert report.added == 4  # bulletin.pdf, shredding.png, slides.ppt, strict.xlsx

    environ = {**os.environ, "LORE_HOME": str(lore_home)}
    status = subprocess.run([sys.executable, "-m", "app.cli", "status", "--profile", "test", "--json"], cwd=REPO, env=environ,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["ocr"]["pages"] == 3 and doc["ocr"]["documents"] == 2 and doc["ocr"]["low_confidence"] == []
    assert {Path(f["path"]).name for f in doc["failures"]} >= {"empty.docx", "locked.xlsx", "bomb.xlsx"}

    retrieval = settings.retrieval.model_copy(update={"min_score": 0.0})
    assistant = build_assistant(settings.model_copy(update={"retrieval": retrieval}), chat_model=FakeChatModel())
    answer = assistant.ask("When does the archive room move to the basement of building C?", groups=["all-staff"])
    assert not answer.refused and "14 March" in answer.answer
    cited = answer.citations[0]
    assert (cited.source, cited.page) == ("bulletin.pdf", 2)
    scanned = [c for c in assistant.store.iter_chunks() if c.source == "bulletin.pdf"]
    assert scanned and all(c.ocr_confidence is not None and c.ocr_confidence > 80 for c in scanned)


def blurred(path: Path) -> Path:
    """A poor scan: small grey-on-white text, out of focus (Tesseract reads it, unsure)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    image = Image.new("L", (1400, 300), 255)
    ImageDraw.Draw(image).text((20, 40), LABELS.replace(".", " by the archive team."), fill=0, font=ImageFont.load_default(size=14))
    image.filter(ImageFilter.GaussianBlur(1.8)).save(path)
    return path


@needs_tesseract
def test_a_poor_scan_is_flagged_low_confidence_and_a_slow_page_times_out(tmp_path, lore_home):
    from ingest.notes import notes_summary
    from ingest.pipeline import Ingestor
    from retrieval.settings import load_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    blurred(docs / "poor.png")
    render(NOTICE).save(docs / "clear.png")
    settings = load_settings(overrides={"profile": "test"})
    report = Ingestor(settings).run([docs])
    assert report.added == 2 and report.failed == []
    low = notes_summary(settings.state_db)["ocr"]["low_confidence"]
    assert [(Path(d["path"]).name, d["pages"]) for d in low] == [("poor.png", [1])] and low[0]["confidence"] < settings.ingest.ocr_low_confidence

    with pytest.raises(ParseFailure, match=r"^no text: OCR could not read any page \(OCR timeout on page 1 \(ingest.ocr_page_timeout_s=0.01\)\)"):
        parse_file(str(docs / "clear.png"), Limits(ocr_page_timeout_s=0.01))
