"""The expansion-bomb guard: Office Open XML and OpenDocument files are zip archives of XML, and a
small file can expand into far more than any parser should be given — by a member that decompresses
at an implausible ratio, by XML entity declarations (the "billion laughs"), or by a spreadsheet
whose cells all point at one huge shared string (110 KB on disk, billions of characters once a
reader fills in every cell). Parsers hold a worker for the whole file timeout on such input.

`check_expansion` runs before any parser, measures what the archive really holds (bytes actually
decompressed, not the sizes its directory claims), stops at the first limit crossed, and is itself
bounded in time. It raises ParseFailure with a one-line reason naming the limit.
"""

from __future__ import annotations

import re
import time
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.blocks import ParseFailure

READ_BLOCK = 1 << 20
KEEP = 8192  # bytes carried across blocks so a tag cut at a block's end is matched in the next
MIN_RATIO_BYTES = 5 * 2**20  # members smaller than this may compress at any ratio
XML_SUFFIXES = (".xml", ".rels", ".vml")
DOCTYPE = re.compile(rb"<!(?:DOCTYPE|ENTITY)\b", re.I)
# A cell that refers to a shared string: <c r="A1" s="2" t="s"><v>17</v></c> (any prefix, any attribute order).
# An inline string's text: <is><t>…</t></is>. One pattern for both, so each sheet is read once.
CELL_TEXT = re.compile(rb"<(?:\w+:)?c\b[^>]*?\bt=\"s\"[^>]*>\s*<(?:\w+:)?v>\s*(\d+)\s*</|<(?:\w+:)?t\b[^>]*>([^<]*)</")
SI_EDGE = re.compile(rb"<(/?)(?:\w+:)?si\b[^>]*?(/?)>")  # a shared string item's start, end or empty form
TAG = re.compile(rb"<[^>]*>")


@dataclass(frozen=True)
class ExpansionLimits:
    max_unzipped_mb: float = 500.0  # bytes the XML members may decompress to, all together
    max_zip_ratio: float = 200.0  # per member of at least 5 MB
    max_text_chars: int = 50_000_000  # characters a spreadsheet's cells may expand to
    max_members: int = 20_000
    seconds: float = 20.0  # the guard's own time budget


@dataclass(frozen=True)
class ExpansionReport:
    xml_bytes: int  # decompressed XML, measured
    cell_chars: int  # characters the spreadsheet's cells expand to (0 for documents and slides)
    seconds: float


def check_expansion(archive: zipfile.ZipFile, ext: str, limits: ExpansionLimits) -> ExpansionReport:
    """Raise ParseFailure when the archive would expand past a limit; else what was measured."""
    started = time.perf_counter()
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ParseFailure(f"zip bomb guard: {len(infos)} members (> {limits.max_members}); a document has far fewer")
    budget = int(limits.max_unzipped_mb * 2**20)
    clock = _Clock(started, limits.seconds)
    for info in infos:
        if info.file_size >= MIN_RATIO_BYTES and info.file_size / max(1, info.compress_size) > limits.max_zip_ratio:
            raise ParseFailure(
                f"zip bomb guard: {info.filename} expands {info.file_size / max(1, info.compress_size):.0f}:1 "
                f"(> ingest.max_zip_ratio={limits.max_zip_ratio:g}); raise the limit if the file is genuine"
            )
    total = 0
    for info in infos:
        if not info.filename.lower().endswith(XML_SUFFIXES):
            continue
        head = b""
        for block in _blocks(archive, info, clock):
            total += len(block)
            if total > budget:
                raise ParseFailure(
                    f"zip bomb guard: XML expands past ingest.max_unzipped_mb={limits.max_unzipped_mb:g} "
                    f"(stopped after {clock.elapsed():.1f} s); raise the limit if the file is genuine"
                )
            if len(head) < 65536:
                head += block[: 65536 - len(head)]
        if DOCTYPE.search(head):
            raise ParseFailure(f"expansion bomb guard: {info.filename} declares a DOCTYPE or XML entities, which Office files never do; save the file again from its application")
    cells = 0
    if ext in (".xlsx", ".xlsm"):
        cells = _cell_chars(archive, infos, limits, clock)
    return ExpansionReport(total, cells, clock.elapsed())


class _Clock:
    def __init__(self, started: float, seconds: float):
        self.started = started
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def check(self) -> None:
        if self.elapsed() > self.seconds:
            raise ParseFailure(
                f"expansion bomb guard: checking the file took over {self.seconds:g} s; it is too large or too deeply "
                "packed to ingest (raise ingest.guard_seconds if it is genuine)"
            )


def _blocks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, clock: _Clock) -> Iterator[bytes]:
    try:
        with archive.open(info) as member:
            while block := member.read(READ_BLOCK):
                clock.check()
                yield block
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ParseFailure(f"corrupt: {info.filename} could not be decompressed ({exc.__class__.__name__}: {exc})") from exc


def _scan(archive: zipfile.ZipFile, info: zipfile.ZipInfo, pattern: re.Pattern[bytes], clock: _Clock) -> Iterator[re.Match[bytes]]:
    """Matches of `pattern` over a member read block by block; a match is never reported twice."""
    buffer = b""
    for block in _blocks(archive, info, clock):
        buffer += block
        end = 0
        for match in pattern.finditer(buffer):
            end = match.end()
            yield match
        buffer = buffer[max(end, len(buffer) - KEEP) :]
    for match in pattern.finditer(buffer):
        yield match


def _string_lengths(archive: zipfile.ZipFile, info: zipfile.ZipInfo, clock: _Clock) -> array:
    """The length of every shared string (text between its tags), streamed: one string may be
    larger than a block, so lengths accumulate across blocks."""
    lengths = array("q")
    current: int | None = None
    carry = b""
    for block in _blocks(archive, info, clock):
        data = carry + block
        cut = data.rfind(b"<")
        if cut != -1 and b">" not in data[cut:]:  # a tag cut at the block's end waits for the next
            data, carry = data[:cut], data[cut:]
        else:
            carry = b""
        pos = 0
        for edge in SI_EDGE.finditer(data):
            if current is not None:
                current += len(TAG.sub(b"", data[pos : edge.start()]))
            closing, empty = edge.groups()
            if closing:
                lengths.append(current or 0)
                current = None
            elif empty:
                lengths.append(0)
            else:
                current = 0
            pos = edge.end()
        if current is not None:
            current += len(TAG.sub(b"", data[pos:]))
    return lengths


def _cell_chars(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: ExpansionLimits, clock: _Clock) -> int:
    """Characters the workbook's cells expand to: each shared-string reference counts the whole
    string again, as a reader that fills in every cell produces it."""
    names = {i.filename.lower(): i for i in infos}
    lengths = array("q")
    strings = names.get("xl/sharedstrings.xml")
    if strings is not None:
        lengths = _string_lengths(archive, strings, clock)
    total = 0
    for name, info in names.items():
        if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            continue
        for match in _scan(archive, info, CELL_TEXT, clock):
            shared, inline = match.groups()
            if shared is not None:
                index = int(shared)
                total += lengths[index] if index < len(lengths) else 0
            else:
                total += len(inline)
            if total > limits.max_text_chars:
                raise ParseFailure(
                    f"expansion bomb guard: the cells expand to over {limits.max_text_chars:,} characters "
                    f"(ingest.max_text_chars; stopped after {clock.elapsed():.1f} s); split the workbook or raise the limit if it is genuine"
                )
    return total
