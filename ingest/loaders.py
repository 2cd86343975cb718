"""Parsing one file into structured blocks (titles, paragraphs, list items, tables with rows)
with `unstructured` (fast strategy), after cheap checks that turn bad input into a one-line reason:
empty, encrypted, corrupt, expansion bomb (ingest/guards.py), legacy format without a converter.
PDFs without a text layer and images are read by OCR (ingest/ocr.py); legacy and OpenDocument
Office files, and Office files the Python readers return empty, through LibreOffice
(ingest/convert.py). A file that still yields no text fails with a reason (ingest/coverage.py).

Runs inside parser worker processes: everything returned is a plain picklable record.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

from ingest.blocks import (
    IMAGE_TYPES,
    LEGACY_CONVERTER,
    ODF_TYPES,
    OLE_MAGIC,
    OLE_TYPES,
    SUPPORTED,
    TEXT_TYPES,
    ZIP_TYPES,
    Block,
    Limits,
    OcrPage,
    ParsedDocument,
    ParseFailure,
    blocks_from_elements,
)

def check_file(path: Path, limits: Limits) -> str:
    """Raise ParseFailure for input that must not reach a parser; returns the file's extension."""
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise ParseFailure(f"unsupported file type {ext or '(no extension)'}: convert it to PDF, DOCX, PPTX, XLSX, HTML, Markdown or text")
    size = path.stat().st_size
    if size == 0:
        raise ParseFailure("empty file: nothing to ingest")
    if size > limits.max_file_mb * 2**20:
        raise ParseFailure(f"too large: {size / 2**20:.1f} MB > ingest.max_file_mb={limits.max_file_mb:g}; raise the limit to ingest it")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if ext in ZIP_TYPES or ext in ODF_TYPES:
        if head == OLE_MAGIC:
            if _ole_has_stream(path, "EncryptedPackage"):
                raise ParseFailure("encrypted: password-protected file; remove the password and re-ingest")
            raise ParseFailure(f"corrupt: an OLE2 (legacy Office) file named {ext}; save it again as {ext}")
        _check_zip(path, ext, limits)
    elif ext in OLE_TYPES:
        if head != OLE_MAGIC:
            raise ParseFailure(f"corrupt: not a legacy Office {ext} file (wrong signature)")
        if _ole_encrypted(path):
            raise ParseFailure("encrypted: password-protected file; remove the password and re-ingest")
    elif ext == ".rtf" and not head.startswith(b"{\\rtf"):
        raise ParseFailure("corrupt: not an RTF file (no {\\rtf header)")
    elif ext == ".pdf" and not head.startswith(b"%PDF") and b"%PDF" not in _read_head(path, 1024):
        raise ParseFailure("corrupt: not a PDF file (no %PDF header)")
    if ext in LEGACY_CONVERTER and not _soffice():
        kind = "legacy" if ext in OLE_TYPES else ext[1:].upper()
        target = {"libreoffice-writer": ".docx", "libreoffice-calc": ".xlsx", "libreoffice-impress": ".pptx"}[LEGACY_CONVERTER[ext]]
        raise ParseFailure(f"unsupported: {kind} {ext} needs LibreOffice (apt-get install --no-install-recommends libreoffice-core {LEGACY_CONVERTER[ext]}) or save it as {target}")
    return ext


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(n)


def _check_zip(path: Path, ext: str, limits: Limits) -> None:
    from ingest.guards import ExpansionLimits, check_expansion

    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if not infos:
                raise ParseFailure(f"corrupt: empty {ext[1:].upper()} archive")
            unzipped = sum(i.file_size for i in infos)
            if unzipped > limits.max_unzipped_mb * 2**20:
                raise ParseFailure(
                    f"zip bomb guard: expands to {unzipped / 2**20:.0f} MB > ingest.max_unzipped_mb={limits.max_unzipped_mb:g}; raise the limit if the file is genuine"
                )
            if ext in ODF_TYPES and _odf_encrypted(archive):
                raise ParseFailure("encrypted: password-protected file; remove the password and re-ingest")
            guard = ExpansionLimits(limits.max_unzipped_mb, limits.max_zip_ratio, limits.max_text_chars, seconds=limits.guard_seconds)
            check_expansion(archive, ext, guard)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ParseFailure(f"corrupt: not a valid {ext[1:].upper()} (zip) file ({exc})") from exc


def _odf_encrypted(archive: zipfile.ZipFile) -> bool:
    """OpenDocument encryption is declared per member in META-INF/manifest.xml."""
    try:
        with archive.open("META-INF/manifest.xml") as manifest:
            return b"encryption-data" in manifest.read(4 * 2**20)
    except KeyError:
        return False


def _ole_has_stream(path: Path, name: str) -> bool:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return ole.exists(name)
    except Exception:
        return False


def _ole_encrypted(path: Path) -> bool:
    import msoffcrypto

    try:
        with open(path, "rb") as handle:
            return bool(msoffcrypto.OfficeFile(handle).is_encrypted())
    except Exception:  # an unreadable container is the parser's to report
        return False


def warm_parsers() -> None:
    """Import the parsers once per worker, before the first file's deadline starts."""
    import pypdfium2  # noqa: F401
    from unstructured.partition.auto import partition  # noqa: F401
    from unstructured.partition.md import partition_md  # noqa: F401


def parse_file(path: str, limits: Limits) -> ParsedDocument:
    """Parse one file (in a worker). Raises ParseFailure with a one-line reason."""
    import time

    from ingest.coverage import no_text_reason, shortfall_note

    start = time.perf_counter()
    file = Path(path)
    if not os.access(file, os.R_OK):
        raise ParseFailure("permission denied: make the file readable by the ingest user")
    ext = check_file(file, limits)
    title, ocr_pages, notes = "", (), []
    try:
        if ext == ".pdf":
            from ingest.pdf import parse_pdf

            blocks, title, ocr_pages, notes = parse_pdf(file, limits)
        elif ext in IMAGE_TYPES:
            from ingest.ocr import parse_image

            blocks, pages = parse_image(file, limits.ocr_options(), limits.ocr)
            ocr_pages = tuple(OcrPage(p.page, p.confidence, p.error) for p in pages)
            notes = [p.error for p in pages if p.error]
        elif ext in LEGACY_CONVERTER:
            blocks = _parse_converted(file, limits)
        else:
            blocks = _parse_office_or_text(file, ext, limits)
    except ParseFailure:
        raise
    except Exception as exc:  # any parser crash is this file's failure, never the run's
        raise ParseFailure(describe_error(exc, ext)) from exc
    if not blocks:
        raise ParseFailure(no_text_reason(file, ext, ocr_pages, notes))
    if note := shortfall_note(file, ext, blocks):
        notes = [*notes, note]
    return ParsedDocument(tuple(blocks), title or _first_title(blocks), time.perf_counter() - start, tuple(ocr_pages), tuple(notes))


def _parse_office_or_text(file: Path, ext: str, limits: Limits) -> list[Block]:
    """The Python readers first; an Office file they cannot read (an .xls xlrd rejects) or return
    empty (Strict Open XML, some early Office 2007 files) goes through LibreOffice once."""
    convertible = ext in ZIP_TYPES or ext == ".xls"
    try:
        blocks = _parse_with_unstructured(file, ext)
    except ParseFailure:
        raise
    except Exception:
        if not (convertible and _soffice()):
            raise
        return _parse_converted(file, limits)
    if not blocks and convertible and _soffice():
        return _parse_converted(file, limits)
    return blocks


def _parse_converted(file: Path, limits: Limits) -> list[Block]:
    """Convert with LibreOffice (ingest/convert.py), check the result like any input, parse it."""
    import tempfile

    from ingest.convert import convert

    with tempfile.TemporaryDirectory(prefix="lore-soffice-") as workdir:
        converted = convert(file, limits.convert_timeout_s, Path(workdir))
        ext = check_file(converted, limits)
        return _parse_with_unstructured(converted, ext)


def _parse_with_unstructured(file: Path, ext: str) -> list[Block]:
    if ext in TEXT_TYPES and ext != ".eml":
        text = read_text(file)
        if not text.strip():
            raise ParseFailure("no text: the file holds only whitespace")
        elements = _partition_text_kind(ext, text)
    else:
        from unstructured.partition.auto import partition

        elements = partition(filename=str(file), strategy="fast", languages=["eng"])
    return blocks_from_elements(elements, keep_furniture=False)


def _partition_text_kind(ext: str, text: str) -> list[Any]:
    if ext in (".md", ".markdown"):
        from unstructured.partition.md import partition_md

        return partition_md(text=text, languages=["eng"])
    if ext in (".html", ".htm", ".xhtml"):
        from unstructured.partition.html import partition_html

        return partition_html(text=text, languages=["eng"])
    if ext in (".csv", ".tsv"):
        return [_csv_table(text, "\t" if ext == ".tsv" else ",")]
    from unstructured.partition.text import partition_text

    return partition_text(text=text, languages=["eng"])


def _csv_table(text: str, delimiter: str) -> Any:
    """CSV straight to a Table element (unstructured's partition_csv needs a file and pandas)."""
    import csv
    import html
    import io

    from unstructured.documents.elements import ElementMetadata, Table

    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows if row)
    return Table(text="\n".join(" ".join(r) for r in rows), metadata=ElementMetadata(text_as_html=f"<table>{body}</table>"))


def read_text(file: Path) -> str:
    """Text in UTF-8 (with or without BOM) or UTF-16 (BOM), else Windows-1252 (the usual legacy
    encoding of Western office files), else the detected encoding with replacement characters."""
    data = file.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise ParseFailure("binary data in a text file: check the file type")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 2**20]).best()
    return data.decode(best.encoding if best is not None and best.encoding else "latin-1", errors="replace")


def _first_title(blocks: list[Block] | tuple[Block, ...]) -> str:
    return next((b.text for b in blocks if b.kind == "Title"), "")


def describe_error(exc: BaseException, ext: str) -> str:
    """One line naming what is wrong with the file."""
    name = exc.__class__.__name__
    text = " ".join(str(exc).split())[:200]
    lowered = (name + " " + text).lower()
    if "password" in lowered or "encrypt" in lowered:
        return "encrypted: password-protected file; remove the password and re-ingest"
    if isinstance(exc, PermissionError):
        return "permission denied: make the file readable by the ingest user"
    if isinstance(exc, (zipfile.BadZipFile, KeyError)) or "zip" in lowered or "xml" in lowered or "syntax" in lowered:
        return f"corrupt: {ext[1:].upper()} could not be read ({name}: {text})"
    return f"parse error ({name}: {text}): the file may be corrupt; open and save it again"
