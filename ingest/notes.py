"""What a user should know about ingested documents that did not fail: little text for the file's
size, pages left unread, and pages read by OCR with their confidence (low ones flagged). Kept in the
collection's state database beside the manifest, one row per document that has something to say,
replaced when the document is re-ingested and removed with it; `lore status` and the admin page
read them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.blocks import ParsedDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS document_notes (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    notes TEXT NOT NULL,            -- JSON list of one-line notes
    ocr_pages INTEGER NOT NULL,     -- pages read by OCR
    ocr_confidence REAL,            -- their mean word confidence (0-100)
    low_pages TEXT NOT NULL,        -- JSON list of [page, confidence] under ingest.ocr_low_confidence
    run_id TEXT NOT NULL,
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True)
class DocumentNote:
    path: str
    source: str
    notes: tuple[str, ...]
    ocr_pages: int
    ocr_confidence: float | None
    low_pages: tuple[tuple[int, float], ...]

    @classmethod
    def of(cls, path: str, source: str, parsed: ParsedDocument, low_confidence: float) -> DocumentNote | None:
        """The note for a parsed document, or None when there is nothing to say."""
        read = [p for p in parsed.ocr_pages if p.confidence is not None]
        low = tuple((p.page, p.confidence) for p in read if p.confidence < low_confidence)  # type: ignore[operator]
        if not parsed.notes and not parsed.ocr_pages:
            return None
        mean = round(sum(p.confidence for p in read) / len(read), 1) if read else None  # type: ignore[misc]
        return cls(path, source, tuple(parsed.notes), len(parsed.ocr_pages), mean, low)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "notes": list(self.notes), "ocr_pages": self.ocr_pages,
                "ocr_confidence": self.ocr_confidence, "low_confidence_pages": [{"page": p, "confidence": c} for p, c in self.low_pages]}  # fmt: skip


class DocumentNotes:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def put(self, doc_id: str, note: DocumentNote | None, run_id: str) -> None:
        """Replace a document's note (None: it has none now)."""
        if note is None:
            self.db.execute("DELETE FROM document_notes WHERE doc_id=?", (doc_id,))
            return
        self.db.execute(
            "INSERT OR REPLACE INTO document_notes VALUES (?,?,?,?,?,?,?,?,?)",
            (doc_id, note.path, note.source, json.dumps(list(note.notes), ensure_ascii=False), note.ocr_pages,
             note.ocr_confidence, json.dumps([list(p) for p in note.low_pages]), run_id, time.time()),
        )  # fmt: skip

    def delete(self, doc_ids: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM document_notes WHERE doc_id=?", [(d,) for d in doc_ids])

    def all(self) -> list[DocumentNote]:
        rows = self.db.execute("SELECT * FROM document_notes ORDER BY path").fetchall()
        return [
            DocumentNote(r["path"], r["source"], tuple(json.loads(r["notes"])), r["ocr_pages"], r["ocr_confidence"],
                         tuple((int(p), float(c)) for p, c in json.loads(r["low_pages"])))
            for r in rows
        ]  # fmt: skip


def notes_summary(state_db: Path) -> dict[str, Any]:
    """For `lore status` and the admin page: documents with notes, OCR totals, low-confidence pages."""
    empty: dict[str, Any] = {"notes": [], "ocr": {"documents": 0, "pages": 0, "low_confidence": []}}
    if not state_db.exists():
        return empty
    store = DocumentNotes(state_db)
    try:
        notes = store.all()
    finally:
        store.close()
    return {
        "notes": [{"path": n.path, "note": text} for n in notes for text in n.notes],
        "ocr": {
            "documents": sum(1 for n in notes if n.ocr_pages),
            "pages": sum(n.ocr_pages for n in notes),
            "low_confidence": [{"path": n.path, "pages": [p for p, _ in n.low_pages], "confidence": min(c for _, c in n.low_pages)}
                               for n in notes if n.low_pages],  # fmt: skip
        },
    }
