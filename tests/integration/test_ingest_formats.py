"""Real parsers on real files of every supported type: element counts, page/slide/sheet numbers,
tables kept as tables; and real bad input refused with a one-line reason."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.blocks import Limits, ParseFailure
from ingest.loaders import parse_file
from tests.conftest import SAMPLE_DATA, shared_data

pytestmark = pytest.mark.integration

OFFICE = "office"


def parse(path: Path):
    return parse_file(str(path), Limits())


def kinds(doc):
    return {b.kind for b in doc.blocks}


def test_pdf_pages_titles_and_tables():
    doc = parse(shared_data("sec10q", "docs", "2022 Q3 AAPL.pdf"))
    assert len(doc.blocks) > 200
    assert {"Title", "NarrativeText", "Table", "ListItem"} <= kinds(doc)
    pages = {b.page for b in doc.blocks}
    assert min(pages) == 1 and max(pages) == 28
    rows = [r for b in doc.blocks if b.kind == "Table" for r in b.rows]
    assert any(r.startswith("| Total net sales | 82,959 | 81,434 |") for r in rows)


def test_pdf_that_pypdf_cannot_read_is_parsed():
    doc = parse(shared_data("sec10q", "docs", "2023 Q1 MSFT.pdf"))
    assert max(b.page for b in doc.blocks) == 72 and len(doc.blocks) > 300


def test_docx_headings_and_tables():
    heading = parse(shared_data(OFFICE, "files", "heading123.docx"))
    depths = [b.depth for b in heading.blocks if b.kind == "Title"]
    assert depths == [0, 1, 2]
    cases = parse(shared_data(OFFICE, "files", "IllustrativeCases.docx"))
    tables = [b for b in cases.blocks if b.kind == "Table"]
    assert len(tables) == 8 and all(t.rows[0].startswith("|") and t.rows[1].startswith("| ---") for t in tables)
    assert any("€" in b.text for b in cases.blocks)


def test_pptx_slide_numbers():
    doc = parse(shared_data(OFFICE, "files", "aptia.pptx"))
    assert {b.page for b in doc.blocks} == set(range(1, 10))
    assert "ListItem" in kinds(doc)


@pytest.mark.parametrize("name", ["CVLKRA-KYC_Download_File_Structure_V3.1.xlsx", "Employee.xls"])
def test_spreadsheets_keep_sheet_names(name):
    doc = parse(shared_data(OFFICE, "files", name))
    sheets = {b.page for b in doc.blocks}
    assert all(isinstance(s, str) and s for s in sheets)
    assert len(sheets) == 30 if name.endswith("xlsx") else sheets == {"Sheet1"}  # the other two .xls sheets are empty
    assert "Table" in kinds(doc)


def test_markdown_html_text_csv_email(tmp_path):
    md = parse(shared_data(OFFICE, "markdown", "performance-management__dates.md"))
    assert "Table" in kinds(md) and "Title" in kinds(md)
    html = parse(shared_data(OFFICE, "html", "httpd-howto-htaccess.html"))
    assert len(html.blocks) > 20 and "Title" in kinds(html)
    txt_files = sorted((SAMPLE_DATA / "sample").rglob("*.txt")) if (SAMPLE_DATA / "sample").is_dir() else []
    if txt_files:
        assert parse(txt_files[0]).blocks
    csv = tmp_path / "budget.csv"
    csv.write_text("team,q1,q2\nsales,10,12\nsupport,4,5\n")
    table = parse(csv).blocks[0]
    assert table.kind == "Table" and table.rows[2] == "| sales | 10 | 12 |"
    message = EmailMessage()
    message["Subject"] = "Office move on Friday"
    message["From"] = "facilities@example.com"
    message["To"] = "staff@example.com"
    message.set_content("The office moves to the fifth floor on Friday. Pack your desk by Thursday evening.")
    eml = tmp_path / "move.eml"
    eml.write_bytes(bytes(message))
    assert any("fifth floor" in b.text for b in parse(eml).blocks)


def test_a_document_without_text_fails_with_the_reason():
    """Header/footer-only DOCX: not silently ingested with 0 chunks, but reported (after LibreOffice,
    where installed, found no body text either)."""
    with pytest.raises(ParseFailure, match="^no text: the document body holds no text"):
        parse(shared_data(OFFICE, "files", "EmptyDocumentWithHeaderFooter.docx"))
    chart = parse(shared_data(OFFICE, "files", "bar-chart.pptx"))
    assert [b.text for b in chart.blocks] == ["My Bar Chart"] and chart.notes == ()  # 10 KB of chart: too little to judge


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bug53475-password-is-pass.docx", "encrypted: password-protected"),
        ("extenxls_pwd123.xlsx", "encrypted: password-protected"),
        ("invalid.xlsx", "corrupt"),
        ("clusterfuzz-testcase-minimized-XLSX2CSVFuzzer-5636439151607808.xlsx", "corrupt"),
        ("clusterfuzz-testcase-minimized-POIXWPFFuzzer-6061520554164224.docx", "corrupt"),
        ("clusterfuzz-testcase-minimized-POIFuzzer-5205835528404992.pptx", "corrupt"),
        ("clusterfuzz-testcase-minimized-POIHSSFFuzzer-4651309315719168.xls", ""),
    ],
)
def test_bad_office_files_fail_with_one_line_reasons(name, reason):
    with pytest.raises(ParseFailure) as failure:
        parse(shared_data(OFFICE, "files", name))
    message = str(failure.value)
    assert message.startswith(reason) and "\n" not in message and len(message) < 300


def test_scanned_and_encrypted_pdfs(tmp_path):
    import pikepdf
    import pypdfium2 as pdfium

    blank = pdfium.PdfDocument.new()
    blank.new_page(612, 792)
    blank.save(str(tmp_path / "blank.pdf"))
    with pytest.raises(ParseFailure, match="no extractable text"):  # blank pages are not sent to OCR
        parse(tmp_path / "blank.pdf")
    source = pikepdf.open(shared_data("sec10q", "docs", "2023 Q3 AAPL.pdf"))
    source.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="owner", user="secret"))
    with pytest.raises(ParseFailure, match="encrypted"):
        parse(tmp_path / "locked.pdf")
    (tmp_path / "truncated.pdf").write_bytes(shared_data("sec10q", "docs", "2023 Q3 AAPL.pdf").read_bytes()[:5000])
    with pytest.raises(ParseFailure):
        parse(tmp_path / "truncated.pdf")
