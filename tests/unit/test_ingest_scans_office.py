"""The rules around OCR, LibreOffice and empty documents, with fakes: the expansion-bomb guard on
crafted archives, the no-text and little-text verdicts, Tesseract's word table turned into lines
and a confidence, the conversion sandbox (a fake `soffice`), tools that are missing, OCR notes and
per-chunk confidence through a run."""

from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from ingest.coverage import no_text_reason, sparse_note
from ingest.blocks import Block, Limits, OcrPage, ParsedDocument, ParseFailure
from ingest.loaders import check_file
from ingest.notes import DocumentNote, DocumentNotes, notes_summary
from ingest.blocks import OcrOptions
from ingest.ocr import lines_from_data, require_tesseract
from tests.unit.test_app_chat import app_home  # noqa: F401 - the admin page test's fixture

pytestmark = pytest.mark.unit

CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def _xlsx(path: Path, strings: bytes, sheet: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("xl/sharedStrings.xml", strings)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def _shared_string_bomb(path: Path, string_chars: int = 32_000, cells: int = 200_000) -> Path:
    """One long shared string referenced by every cell: small on disk, billions of characters once read."""
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>' + b"A" * string_chars + b"</t></si></sst>"
    per_row = min(cells, 100)  # cells without an `r` reference are valid, and pack tightly
    rows = (b"<row>" + b'<c t="s"><v>0</v></c>' * per_row + b"</row>") * (cells // per_row)
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + rows + b"</sheetData></worksheet>"
    return _xlsx(path, strings, sheet)


def test_shared_string_bomb_is_stopped_in_seconds_with_a_reason(tmp_path):
    bomb = _shared_string_bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 120_000  # a small file …
    started = time.perf_counter()
    with pytest.raises(ParseFailure) as failure:
        check_file(bomb, Limits())  # … whose cells expand to 6.4 billion characters
    seconds = time.perf_counter() - started
    assert str(failure.value).startswith("expansion bomb guard: the cells expand to over 50,000,000 characters")
    assert "ingest.max_text_chars" in str(failure.value) and "\n" not in str(failure.value)
    assert seconds < 5, seconds


def test_the_same_workbook_under_the_limit_passes(tmp_path):
    small = _shared_string_bomb(tmp_path / "fine.xlsx", string_chars=20, cells=1000)
    assert check_file(small, Limits()) == ".xlsx"
    with pytest.raises(ParseFailure, match="expansion bomb guard"):
        check_file(small, Limits(max_text_chars=19_999))


def test_a_shared_string_longer_than_a_read_block_is_counted_whole(tmp_path):
    long = _shared_string_bomb(tmp_path / "long.xlsx", string_chars=3 * 2**20, cells=20)  # 3 MB string, 20 cells
    with pytest.raises(ParseFailure, match="expansion bomb guard"):
        check_file(long, Limits(max_text_chars=50_000_000))  # 63 M characters


def test_xml_entity_declarations_are_refused(tmp_path):
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><document>&lol2;</document>'
    path = tmp_path / "laughs.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", laughs)
    with pytest.raises(ParseFailure, match="expansion bomb guard: word/document.xml declares a DOCTYPE"):
        check_file(path, Limits())


def test_an_implausible_compression_ratio_is_refused_by_measure(tmp_path):
    path = tmp_path / "zeros.pptx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ppt/slides/slide1.xml", b" " * (20 * 2**20))  # 20 MB of spaces: about 1000:1
    with pytest.raises(ParseFailure, match=r"zip bomb guard: ppt/slides/slide1.xml expands \d+:1"):
        check_file(path, Limits())


def test_the_guard_has_its_own_time_budget(tmp_path):
    bomb = _shared_string_bomb(tmp_path / "slow.xlsx", string_chars=10, cells=50_000)
    with pytest.raises(ParseFailure, match="took over 1e-06 s"):
        check_file(bomb, Limits(guard_seconds=0.000001))


def test_encrypted_opendocument_is_reported_as_encrypted(tmp_path):
    path = tmp_path / "secret.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("META-INF/manifest.xml", b'<manifest:manifest><manifest:file-entry manifest:full-path="content.xml">'
                                                  b"<manifest:encryption-data/></manifest:file-entry></manifest:manifest>")  # fmt: skip
        archive.writestr("content.xml", b"\x00garbled")
    with pytest.raises(ParseFailure, match="^encrypted: password-protected"):
        check_file(path, Limits())


TRAVEL_FORM_DOC = "au.edu.utas.www___data_assets_word_doc_0003_154335_International-Travel-Approval-Request-Form.doc"


def _set_password_marker(path: Path, ext: str) -> None:
    """Write into a real legacy file the marker Office writes when a password to open is set:
    Word's FIB flags fEncrypted + fObfuscation, Excel's FilePass record in the workbook globals,
    PowerPoint's encrypted CurrentUser token and a UserEditAtom that points at a crypt session."""
    import struct

    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        if ext == ".doc":
            data = bytearray(ole.openstream("WordDocument").read())
            data[0x0B] |= 0x01 | 0x80
            ole.write_stream("WordDocument", bytes(data))
        elif ext == ".xls":
            data = bytearray(ole.openstream("Workbook").read())
            pos = 0
            while struct.unpack_from("<H", data, pos)[0] != 0x5C:  # WriteAccess becomes FilePass (XOR), same length
                pos += 4 + struct.unpack_from("<H", data, pos + 2)[0]
            struct.pack_into("<HHHHH", data, pos, 0x2F, struct.unpack_from("<H", data, pos + 2)[0], 0, 0x1234, 0x5678)
            ole.write_stream("Workbook", bytes(data))
        else:
            user = bytearray(ole.openstream("Current User").read())
            edit = struct.unpack_from("<I", user, 16)[0]
            struct.pack_into("<I", user, 12, 0xF3D1C4DF)
            ole.write_stream("Current User", bytes(user))
            data = bytearray(ole.openstream("PowerPoint Document").read())
            struct.pack_into("<I", data, edit + 4, 0x20)
            ole.write_stream("PowerPoint Document", bytes(data))


@pytest.mark.parametrize(
    ("name", "ext", "plain"),
    [
        (TRAVEL_FORM_DOC, ".doc", "unsupported: legacy .doc needs LibreOffice"),  # Word 97
        ("Employee.xls", ".xls", ""),  # xlrd reads .xls without LibreOffice
        ("basic_test_ppt_file.ppt", ".ppt", "unsupported: legacy .ppt needs LibreOffice"),
    ],
)
def test_encrypted_legacy_office_files_are_reported_as_encrypted(tmp_path, monkeypatch, name, ext, plain):
    """Reported before LibreOffice is looked for: the same file without its password marker is not."""
    import shutil

    from tests.conftest import shared_data

    monkeypatch.setenv("PATH", str(tmp_path))  # no LibreOffice, whatever the machine has
    original = tmp_path / f"plain{ext}"
    shutil.copy(shared_data("office", "files", name), original)
    if plain:
        with pytest.raises(ParseFailure, match=f"^{plain}"):
            check_file(original, Limits())
    else:
        assert check_file(original, Limits()) == ext
    locked = tmp_path / f"locked{ext}"
    shutil.copy(original, locked)
    _set_password_marker(locked, ext)
    with pytest.raises(ParseFailure, match="^encrypted: password-protected file; remove the password and re-ingest$"):
        check_file(locked, Limits())


def test_ocr_languages_setting_reaches_tesseract(tmp_path, monkeypatch):
    """`ingest.ocr_languages` from the environment is the `-l` Tesseract is run with (joined by '+')."""
    from PIL import Image

    from ingest.ocr import _installed_languages, ocr_image
    from retrieval.settings import load_settings

    record = tmp_path / "args.txt"
    fake = tmp_path / "tesseract"
    fake.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = --list-langs ]; then printf 'List of available languages (3):\\neng\\ndeu\\nosd\\n'; exit 0; fi\n"
        "if [ \"$1\" = --version ]; then echo 'tesseract 5.3.0'; exit 0; fi\n"
        'case "$2" in /*) ;; *) exit 2;; esac\n'  # only ever an output base that pytesseract made in a temporary folder
        f'echo "$@" > {record}\n'
        'printf "level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext\\n'
        '5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t10\\t10\\t91\\tHallo\\n" > "$2.tsv"\n'
    )  # fmt: skip
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("LORE_INGEST__OCR_LANGUAGES", '["eng", "deu"]')
    _installed_languages.cache_clear()
    try:
        limits = Limits.from_settings(load_settings(overrides={"profile": "test"}).ingest)
        page = ocr_image(Image.new("L", (40, 20), 255), 1, limits.ocr_options())
    finally:
        _installed_languages.cache_clear()
    assert limits.ocr_languages == ("eng", "deu")
    assert "-l eng+deu" in record.read_text() and page.lines == ("Hallo",) and page.confidence == 91


@pytest.mark.parametrize(
    ("chars", "markup", "pictures", "expected"),
    [
        (0, 500_000, 0, "little text: 0 characters from 488 KB"),
        (900, 500_000, 0, "little text: 900 characters"),  # 0.18 % of the markup
        (1_100, 500_000, 0, ""),  # 0.22 %: the least real files give is 0.6 %
        (40, 30_000, 0, ""),  # too small to judge
        (12, 2_000, 400_000, "little text: 12 characters beside 391 KB of pictures"),
        (2_300, 50_000, 300_000, ""),  # a slide deck with pictures and real text
    ],
)
def test_little_text_for_the_content_is_noted(chars, markup, pictures, expected):
    note = sparse_note(chars, markup, pictures)
    assert note.startswith(expected) if expected else note == ""


@pytest.mark.parametrize(
    ("ext", "pages", "expected"),
    [
        (".docx", (), "no text: the document body holds no text"),
        (".doc", (), "no text: the document body holds no text"),
        (".png", (OcrPage(1, None),), "no text: OCR found no words"),
        (".pdf", (OcrPage(1, None, "OCR timeout on page 1 (ingest.ocr_page_timeout_s=60)"),), "no text: OCR could not read any page (OCR timeout on page 1"),
        (".html", (), "no text: the file holds nothing to search"),
    ],
)
def test_no_text_reasons(tmp_path, ext, pages, expected):
    reason = no_text_reason(tmp_path / f"x{ext}", ext, pages, ())
    assert reason.startswith(expected) and "\n" not in reason


def test_tesseract_words_become_lines_in_reading_order_with_a_weighted_confidence():
    data = {  # image_to_data's table: two lines of one paragraph, then a second block; -1: no word
        "text": ["", "Second", "line", "First", "line", "", "Footer"],
        "conf": [-1, 90, 90, 60, 100, -1, 30],
        "page_num": [1] * 7,
        "block_num": [1, 1, 1, 1, 1, 1, 2],
        "par_num": [1] * 7,
        "line_num": [1, 2, 2, 1, 1, 1, 1],
    }
    lines, confidence = lines_from_data(data)
    assert lines == ["First line", "Second line", "Footer"]
    # (60*5 + 100*4 + 90*6 + 90*4 + 30*6) / 25
    assert confidence == pytest.approx(71.2)
    assert lines_from_data({"text": [], "conf": [], "page_num": [], "block_num": [], "par_num": [], "line_num": []}) == ([], None)


def test_missing_tesseract_or_language_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ParseFailure) as failure:
        require_tesseract(OcrOptions())
    assert "apt-get install --no-install-recommends tesseract-ocr tesseract-ocr-eng" in str(failure.value)
    fake = tmp_path / "tesseract"
    fake.write_text('#!/bin/sh\nprintf \'List of available languages in "/usr/share" (2):\\neng\\nosd\\n\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert require_tesseract(OcrOptions(languages=("eng",))) == str(fake)
    with pytest.raises(ParseFailure, match="OCR language deu is not installed: apt-get install tesseract-ocr-deu"):
        require_tesseract(OcrOptions(languages=("eng", "deu")))


def test_ocr_off_or_missing_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    from PIL import Image

    image = tmp_path / "note.png"
    Image.new("L", (200, 100), 255).save(image)
    from ingest.loaders import parse_file

    with pytest.raises(ParseFailure, match=r"OCR is off \(ingest.ocr = false\); turn it on"):
        parse_file(str(image), Limits(ocr=False))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ParseFailure, match="OCR needs Tesseract, which is not installed: apt-get install"):
        parse_file(str(image), Limits())


def _fake_soffice(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    fake = folder / "soffice"
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_conversion_runs_in_a_throwaway_sandbox(tmp_path, monkeypatch):
    """The fake soffice records its arguments and environment and writes the converted file."""
    from ingest import convert as conversion

    record = tmp_path / "record.txt"
    bin_dir = tmp_path / "bin"
    _fake_soffice(bin_dir, f'echo "$@" > {record}; env >> {record}\n'
                           'for a; do out=$prev; prev=$a; done\n'  # the last two arguments: --outdir DIR FILE
                           'dir=$(echo "$@" | sed "s/.*--outdir \\([^ ]*\\) .*/\\1/"); printf PK > "$dir/document.docx"\n')  # fmt: skip
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setattr(conversion, "_can_unshare", lambda: False)
    source = tmp_path / "old memo.doc"
    source.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    work = tmp_path / "work"
    converted = conversion.convert(source, timeout_s=10, workdir=work)
    assert converted == work / "out" / "document.docx" and converted.read_bytes() == b"PK"
    said = record.read_text()
    assert f"-env:UserInstallation={(work / 'profile').as_uri()}" in said and "--headless" in said and "--norestore" in said
    assert str(work / "in" / "document.doc") in said  # a copy, under a plain name; the original is never opened by it
    assert "HTTPS_PROXY" not in said and f"HOME={work}" in said


def test_the_conversion_has_no_network_where_namespaces_are_allowed(tmp_path, monkeypatch):
    """The fake soffice tries to reach a server on this machine's loopback: it can outside the
    sandbox, and cannot inside it (a network namespace of its own has no route to it)."""
    import socket
    import sys

    from ingest import convert as conversion

    conversion._can_unshare.cache_clear()
    if not conversion._can_unshare():
        pytest.skip("this kernel refuses unprivileged namespaces (unshare -rn): conversions run without network isolation here")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    record = tmp_path / "record.txt"
    reach = tmp_path / "reach.py"
    reach.write_text("import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', %d), 2)\n    said = 'reached'\n"
                     "except OSError as exc:\n    said = type(exc).__name__\nopen(sys.argv[1], 'a').write(said + '\\n')\n" % port)
    _fake_soffice(tmp_path / "bin", f"{sys.executable} {reach} {record}\n"
                                    'dir=$(echo "$@" | sed "s/.*--outdir \\([^ ]*\\) .*/\\1/"); printf PK > "$dir/document.docx"\n')  # fmt: skip
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    source = tmp_path / "memo.doc"
    source.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    try:
        conversion.convert(source, timeout_s=20, workdir=tmp_path / "sandboxed")
        monkeypatch.setattr(conversion, "_can_unshare", lambda: False)
        conversion.convert(source, timeout_s=20, workdir=tmp_path / "plain")
    finally:
        server.close()
    sandboxed, plain = record.read_text().split()
    assert plain == "reached" and sandboxed in ("OSError", "ConnectionRefusedError", "TimeoutError"), sandboxed


def test_a_hanging_conversion_is_killed_at_the_deadline(tmp_path, monkeypatch):
    from ingest import convert as conversion

    _fake_soffice(tmp_path / "bin", "sleep 30 & sleep 30\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(conversion, "_can_unshare", lambda: False)
    source = tmp_path / "slow.ppt"
    source.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    started = time.perf_counter()
    with pytest.raises(ParseFailure, match="timeout: LibreOffice took over ingest.convert_timeout_s=1s"):
        conversion.convert(source, timeout_s=1, workdir=tmp_path / "w")
    assert time.perf_counter() - started < 8


def test_a_conversion_without_output_is_a_reason(tmp_path, monkeypatch):
    from ingest import convert as conversion

    _fake_soffice(tmp_path / "bin", 'echo "Error: source file could not be loaded"; exit 0\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(conversion, "_can_unshare", lambda: False)
    source = tmp_path / "broken.xls"
    source.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    with pytest.raises(ParseFailure, match=r"^corrupt: LibreOffice could not convert the \.xls file \(Error: source file could not be loaded\)"):
        conversion.convert(source, timeout_s=10, workdir=tmp_path / "w")


def test_notes_keep_ocr_confidence_and_flag_low_pages(tmp_path):
    parsed = ParsedDocument((Block("NarrativeText", "x", 1),), ocr_pages=(OcrPage(1, 92.0), OcrPage(2, 41.5), OcrPage(3, None, "OCR timeout on page 3")),
                            notes=("OCR timeout on page 3",))  # fmt: skip
    note = DocumentNote.of("/d/scan.pdf", "scan.pdf", parsed, low_confidence=60)
    assert note is not None and note.low_pages == ((2, 41.5),) and note.ocr_confidence == pytest.approx(66.8, abs=0.1)
    assert DocumentNote.of("/d/a.pdf", "a.pdf", ParsedDocument((Block("Title", "A"),)), 60) is None
    db = tmp_path / "state.sqlite"
    store = DocumentNotes(db)
    store.put("doc1", note, "run1")
    store.put("doc2", None, "run1")
    store.close()
    summary = notes_summary(db)
    assert summary["ocr"] == {"documents": 1, "pages": 3, "low_confidence": [{"path": "/d/scan.pdf", "pages": [2], "confidence": 41.5}]}
    assert summary["notes"] == [{"path": "/d/scan.pdf", "note": "OCR timeout on page 3"}]
    store = DocumentNotes(db)
    store.delete(["doc1"])
    store.close()
    assert notes_summary(db)["ocr"]["pages"] == 0


def test_a_run_records_ocr_confidence_per_chunk_and_notes(test_settings, tmp_path):
    """A fake parser returning OCR'd pages: each chunk carries the lowest confidence of its pages;
    the note reaches the report, the run log and `lore status`; a deleted file takes its note along."""
    from ingest.pipeline import Ingestor
    from retrieval.embedders import HashEmbedder
    from retrieval.index import Index

    def parse(path: str, limits: Limits) -> ParsedDocument:
        words = " ".join(f"word{i}" for i in range(300))
        return ParsedDocument((Block("NarrativeText", "Page one says the archive moves. " + words, 1), Block("NarrativeText", "Page two is faint. " + words, 2)),
                              ocr_pages=(OcrPage(1, 91.0), OcrPage(2, 38.0)), notes=("little text: test",))  # fmt: skip

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4 fake")
    index = Index.open(test_settings)
    store = index.store
    ingestor = Ingestor(test_settings, index, HashEmbedder(64), parse=parse, in_process=True)
    report = ingestor.run([docs])
    assert report.added == 1 and [n.error for n in report.notes] == ["little text: test"]
    chunks = list(store.iter_chunks())
    by_page = {c.page: c.ocr_confidence for c in chunks}
    assert by_page[1] == 91.0 and by_page[2] == 38.0
    log = next((test_settings.log_dir).glob("ingest-*.jsonl")).read_text()
    assert '"event": "note"' in log and "little text: test" in log
    summary = notes_summary(test_settings.state_db)
    assert summary["ocr"]["low_confidence"] == [{"path": str(docs / "scan.pdf"), "pages": [2], "confidence": 38.0}]
    os.remove(docs / "scan.pdf")
    ingestor.run([docs])
    assert notes_summary(test_settings.state_db)["ocr"]["pages"] == 0


def test_the_admin_page_lists_documents_without_text_notes_and_low_confidence_pages(app_home):
    from ingest.manifest import DocumentRecord, Manifest
    from tests.unit.test_app_chat import app_as

    manifest = Manifest(app_home.state_db)
    manifest.start_run("run1")
    bad = DocumentRecord("d1", "/share/empty.docx", "empty.docx", "/share", "x", 10, 0.0, ("all-staff",), "f")
    manifest.record_failure(bad, "no text: the document body holds no text", "run1")
    manifest.end_run("run1", "ok", {"added": 1, "failed": [{"path": "/share/empty.docx", "error": "no text: the document body holds no text"}]})
    manifest.close()
    parsed = ParsedDocument((Block("NarrativeText", "x", 1),), ocr_pages=(OcrPage(1, 95.0), OcrPage(2, 31.0)), notes=("little text: 12 characters",))
    notes = DocumentNotes(app_home.state_db)
    notes.put("d2", DocumentNote.of("/share/scan.pdf", "scan.pdf", parsed, 60), "run1")
    notes.close()

    admin = app_as("root")
    admin.switch_page("views/ingestion.py").run()
    assert not admin.exception, admin.exception
    labels = [e.label for e in admin.expander]
    assert "Documents not searchable: 1" in labels and "Documents with notes: 1" in labels
    assert "Low OCR confidence: 1 document(s)" in labels
    shown = [df.value.to_dict("records") for df in admin.dataframe]
    assert [{"path": "/share/scan.pdf", "pages": "2", "confidence": 31.0}] in shown
    assert [{"path": "/share/empty.docx", "reason": "no text: the document body holds no text"}] in shown
