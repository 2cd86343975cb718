"""Structure-aware chunking: chunks follow titles/sections, tables split only between rows (the
header row repeated), and sizes are counted in the embedder's own tokens, because a chunk longer
than the embedder reads (MiniLM: 256 word pieces) is silently truncated when embedded.

Each chunk starts with a one-line context header (`[document › section]`): the embedder and the
lexical index then see what a passage is about even when its own sentences never say it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.blocks import Block

CountTokens = Callable[[Sequence[str]], list[int]]
# A table's unit row, "| (In millions) |" or "| (dollars in thousands, except per share) |": it stands below
# the heading row, so a table split over chunks repeats it with the heading (its figures mean nothing without it).
UNIT_ROW = re.compile(r"^\|[\s|]*\((?:[a-z$ ]*\bin\s+)?(?:thousands|millions|billions)\b[^)]*\)[\s|]*$", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class ChunkDraft:
    text: str
    page: int | str | None
    section: str
    element_types: tuple[str, ...]
    # Where the page or section changes inside the chunk: (character offset in `text`, page, section),
    # the first at the body's start. A citation then names the page and section of the sentence it
    # cites, not the chunk's first ones.
    spans: tuple[tuple[int, int | str | None, str], ...] = ()


@dataclass
class _Unit:
    text: str
    tokens: int
    kind: str
    page: int | str | None
    overlappable: bool = True
    section: str = ""


@dataclass
class _Open:
    units: list[_Unit] = field(default_factory=list)
    section: str = ""

    @property
    def tokens(self) -> int:
        return sum(u.tokens + 1 for u in self.units)

    def body_tokens(self) -> int:
        return sum(u.tokens + 1 for u in self.units if u.kind != "Title")


class Chunker:
    # Bump when the same blocks give other chunks (the ingest fingerprint then re-chunks every stored
    # file); tests/unit/test_ingest_chunking.py pins the chunks of a sample to this version.
    VERSION = "1"

    def __init__(self, count_tokens: CountTokens, chunk_tokens: int = 220, overlap: int = 32):
        if overlap >= chunk_tokens // 2:
            overlap = chunk_tokens // 4
        self.count = count_tokens
        self.size = chunk_tokens
        self.overlap = overlap
        self.min_tokens = chunk_tokens // 4  # a section smaller than this joins the next one

    @property
    def fingerprint(self) -> str:
        """What the chunks of a file depend on besides its blocks: this code's version and every setting."""
        return f"chunker {self.VERSION}|{self.size}|{self.overlap}|{self.min_tokens}"

    def chunk(self, blocks: Sequence[Block], label: str) -> list[ChunkDraft]:
        counts = self.count([b.text for b in blocks]) if blocks else []
        drafts: list[ChunkDraft] = []
        stack: list[str] = []
        current = _Open()
        header_tokens = self._header_budget(label)
        budget = max(16, self.size - header_tokens)

        def flush(carry: bool) -> None:
            """Close the open chunk; with `carry`, its last short units open the next one (overlap)."""
            if current.body_tokens() == 0 and not carry:
                return  # a heading with no body yet stays for the next section's text
            drafts.append(self._draft(current, label))
            tail: list[_Unit] = []
            if carry:
                for unit in reversed(current.units):
                    if not unit.overlappable or sum(u.tokens for u in tail) + unit.tokens > self.overlap:
                        break
                    tail.insert(0, unit)
            current.units = tail
            # the next chunk is named after where its text starts: the carried text's section, or the
            # section being read (a table split over chunks, the text after a heading)
            current.section = tail[0].section if tail else " › ".join(stack)

        for block, tokens in zip(blocks, counts, strict=True):
            if block.kind == "Title":
                if current.body_tokens() >= self.min_tokens:
                    flush(carry=False)
                depth = max(0, min(block.depth, len(stack)))
                stack[:] = stack[:depth] + [_short(block.text)]
                if not current.units or current.body_tokens() == 0:
                    current.section = " › ".join(stack)
                self._add(current, _Unit(block.text, tokens, "Title", block.page, False, " › ".join(stack)), budget, flush)
                continue
            if not current.units:
                current.section = " › ".join(stack)
            section = " › ".join(stack)
            if block.kind == "Table" and block.rows:
                self._add_table(current, block, tokens, budget, flush, section)
            elif tokens <= budget:
                self._add(current, _Unit(block.text, tokens, block.kind, block.page, True, section), budget, flush)
            else:
                for piece, n in self._split_text(block.text, budget):
                    self._add(current, _Unit(piece, n, block.kind, block.page, True, section), budget, flush)
        if current.body_tokens() > 0 or (current.units and not drafts):
            drafts.append(self._draft(current, label))
        return drafts

    def _header_budget(self, label: str) -> int:
        return self.count([f"[{label} › ]"])[0] + 24  # room for the innermost section name

    def _add(self, current: _Open, unit: _Unit, budget: int, flush: Callable[[bool], None]) -> None:
        if current.units and current.tokens + unit.tokens + 1 > budget:
            flush(True)
            if current.units and current.tokens + unit.tokens + 1 > budget:
                current.units.clear()
        current.units.append(unit)

    def _add_table(self, current: _Open, block: Block, tokens: int, budget: int, flush: Callable[[bool], None], section: str = "") -> None:
        if tokens <= budget and (not current.units or current.tokens + tokens + 1 <= budget):
            current.units.append(_Unit(block.text, tokens, "Table", block.page, False, section))
            return
        header = "\n".join(block.rows[:2])
        body = list(block.rows[2:])
        units = [r for r in body[:2] if UNIT_ROW.match(r)]
        header_n = self.count([header])[0] if body else 0
        counts = self.count(body) if body else []
        if current.body_tokens() > 0:
            flush(False)
        rows: list[str] = []
        used = header_n
        for row, n in zip(body, counts, strict=True):
            if rows and used + n + 1 > budget:
                current.units.append(_Unit("\n".join([header, *rows]), used, "Table", block.page, False, section))
                flush(False)
                if units and header_n and not header.endswith(units[-1]):  # from the second chunk on: the unit row too
                    header = "\n".join([header, *units])
                    header_n = self.count([header])[0]
                rows, used = [], header_n
            rows.append(row)
            used += n + 1
        if rows or not body:
            text = "\n".join([header, *rows]) if body else block.text
            current.units.append(_Unit(text, used, "Table", block.page, False, section))

    def _split_text(self, text: str, budget: int) -> list[tuple[str, int]]:
        """Sentences (then word windows for run-on text), each within the budget."""
        sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
        counts = self.count(sentences)
        pieces: list[tuple[str, int]] = []
        for sentence, n in zip(sentences, counts, strict=True):
            if n <= budget:
                pieces.append((sentence, n))
                continue
            words = sentence.split()
            step = max(1, int(len(words) * budget / n * 0.9))
            for start in range(0, len(words), step):
                piece = " ".join(words[start : start + step])
                pieces.append((piece, self.count([piece])[0]))
        return pieces

    def _draft(self, current: _Open, label: str) -> ChunkDraft:
        section = current.section
        header = f"[{label} › {section.rsplit(' › ', 1)[-1]}]" if section else f"[{label}]"
        body = "\n".join(u.text for u in current.units)
        page = next((u.page for u in current.units if u.page is not None), None)
        kinds = tuple(dict.fromkeys(u.kind for u in current.units))
        spans: list[tuple[int, int | str | None, str]] = []
        offset = len(header) + 1
        for unit in current.units:
            where = (unit.page if unit.page is not None else page, unit.section or section)
            if not spans or spans[-1][1:] != where:
                spans.append((offset, *where))
            offset += len(unit.text) + 1
        return ChunkDraft(header + "\n" + body, page, section, kinds, tuple(spans) if len(spans) > 1 else ())


def _short(title: str, limit: int = 80) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1] + "…"
