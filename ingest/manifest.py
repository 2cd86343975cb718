"""The ingest manifest (SQLite in LORE_HOME): one row per document with its content hash and the
ids of its chunks, plus a small state machine that makes every store change crash-safe.

Replacing a document's chunks:  ok → writing (pending ids recorded) → [chunks written]
→ cleanup (stale ids recorded, new hash committed) → [stale chunks deleted] → ok.
Deleting a document:  ok → deleting → [chunks deleted] → row removed.
A run killed at any point leaves a row in writing/cleanup/deleting; `Manifest.unfinished()`
lists them and the pipeline finishes or rolls back that work before doing anything else.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    groups TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,          -- JSON list: the chunks in the store now
    state TEXT NOT NULL,              -- ok | writing | cleanup | deleting | failed
    pending_ids TEXT NOT NULL,        -- JSON list: writing → new ids; cleanup → stale ids
    error TEXT NOT NULL DEFAULT '',   -- state failed: the reason (content `sha256` failed)
    run_id TEXT NOT NULL,
    updated REAL NOT NULL,
    token TEXT NOT NULL DEFAULT ''    -- remote sources: the change token (ETag, UIDVALIDITY:UID) of the committed content
);
CREATE INDEX IF NOT EXISTS documents_path ON documents(path);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,             -- running | ok | failed
    report TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS source_runs (  -- the last run of each named source (sources.yaml)
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    run_id TEXT NOT NULL,
    finished REAL NOT NULL,
    status TEXT NOT NULL,             -- ok | partial (some items failed) | failed (could not be listed)
    counts TEXT NOT NULL,             -- JSON: files, added, updated, unchanged, deleted, failed, downloaded, skipped
    failures TEXT NOT NULL            -- JSON list of {"path","error"} (the first 100)
);
"""
COLUMNS = "doc_id, path, source, root, sha256, size, mtime, groups, fingerprint, chunk_ids, state, pending_ids, error, run_id, updated, token"


@dataclass(frozen=True)
class DocumentRecord:
    """One file as this run found it, before its chunks are written: what the manifest records for it
    when they are (or when it fails). `fingerprint` says how its chunks were made (ingest/pipeline.py)."""

    doc_id: str
    path: str
    source: str
    root: str
    sha256: str
    size: int
    mtime: float
    groups: tuple[str, ...]
    fingerprint: str
    token: str = ""


@dataclass(frozen=True, kw_only=True)
class DocumentRow(DocumentRecord):
    """A document as the manifest holds it: the record, its chunks and where its last write stands."""

    chunk_ids: tuple[str, ...]
    state: str
    pending_ids: tuple[str, ...]
    error: str
    run_id: str

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> DocumentRow:
        return cls(
            doc_id=row["doc_id"], path=row["path"], source=row["source"], root=row["root"], sha256=row["sha256"],
            size=row["size"], mtime=row["mtime"], groups=tuple(g for g in row["groups"].split(",") if g),
            fingerprint=row["fingerprint"], chunk_ids=tuple(json.loads(row["chunk_ids"])), state=row["state"],
            pending_ids=tuple(json.loads(row["pending_ids"])), error=row["error"], run_id=row["run_id"],
            token=row["token"],
        )  # fmt: skip


class Manifest:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed state must survive power loss too
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(documents)")}
        if "token" not in columns:  # a manifest written before remote sources existed
            self.db.execute("ALTER TABLE documents ADD COLUMN token TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self.db.close()

    # -- reading ---------------------------------------------------------------------------------
    def get(self, doc_id: str) -> DocumentRow | None:
        row = self.db.execute("SELECT * FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return DocumentRow.from_sql(row) if row else None

    def rows(self) -> Iterator[DocumentRow]:
        for row in self.db.execute("SELECT * FROM documents ORDER BY path").fetchall():
            yield DocumentRow.from_sql(row)

    def unfinished(self) -> list[DocumentRow]:
        return [DocumentRow.from_sql(r) for r in self.db.execute("SELECT * FROM documents WHERE state IN ('writing','cleanup','deleting')")]

    def summary(self) -> dict[str, Any]:
        documents = self.db.execute("SELECT COUNT(*) FROM documents WHERE state != 'failed'").fetchone()[0]
        failed = self.db.execute("SELECT COUNT(*) FROM documents WHERE state = 'failed'").fetchone()[0]
        row = self.db.execute("SELECT * FROM runs WHERE status != 'running' ORDER BY started DESC LIMIT 1").fetchone()
        last = None
        if row is not None:
            last = {
                "run_id": row["run_id"],
                "started": _iso(row["started"]),
                "finished": _iso(row["finished"]) if row["finished"] else None,
                "status": row["status"],
                "report": json.loads(row["report"]),
            }
        return {"documents": int(documents), "failed_documents": int(failed), "last_ingest": last}

    # -- state transitions (each one commit) -----------------------------------------------------
    def begin_write(self, doc: DocumentRecord, pending_ids: Sequence[str], run_id: str) -> None:
        """Record the ids about to be written. A new document gets a row with an empty hash, so an
        interrupted first write is retried by the next run."""
        existing = self.get(doc.doc_id)
        if existing is None or existing.state == "failed":
            self.db.execute(
                f"INSERT OR REPLACE INTO documents ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, doc.path, doc.source, doc.root, "", doc.size, doc.mtime, ",".join(doc.groups),
                 "", "[]", "writing", json.dumps(list(pending_ids)), "", run_id, time.time(), ""),
            )  # fmt: skip
        else:
            self.db.execute(
                "UPDATE documents SET state='writing', pending_ids=?, run_id=?, updated=? WHERE doc_id=?",
                (json.dumps(list(pending_ids)), run_id, time.time(), doc.doc_id),
            )

    def commit_write(self, doc: DocumentRecord, new_ids: Sequence[str], stale_ids: Sequence[str], run_id: str) -> None:
        """The new chunks are in the store: they become the document's chunks; old ones are stale."""
        self.db.execute(
            "UPDATE documents SET path=?, source=?, root=?, sha256=?, size=?, mtime=?, groups=?, fingerprint=?, chunk_ids=?,"
            " state=?, pending_ids=?, error='', run_id=?, updated=?, token=? WHERE doc_id=?",
            (doc.path, doc.source, doc.root, doc.sha256, doc.size, doc.mtime, ",".join(doc.groups),
             doc.fingerprint, json.dumps(list(new_ids)), "cleanup" if stale_ids else "ok", json.dumps(list(stale_ids)),
             run_id, time.time(), doc.token, doc.doc_id),
        )  # fmt: skip

    def finish(self, doc_id: str) -> None:
        self.db.execute("UPDATE documents SET state='ok', pending_ids='[]', updated=? WHERE doc_id=?", (time.time(), doc_id))

    def roll_back_write(self, doc_id: str, force_reparse: bool) -> None:
        """An interrupted write was undone: keep the old chunks; a first write leaves no row behind."""
        row = self.get(doc_id)
        if row is None:
            return
        if not row.chunk_ids and not row.sha256:
            self.db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        else:
            self.db.execute(
                "UPDATE documents SET state='ok', pending_ids='[]', sha256=CASE WHEN ? THEN '' ELSE sha256 END,"
                " token=CASE WHEN ? THEN '' ELSE token END WHERE doc_id=?",
                (force_reparse, force_reparse, doc_id),
            )

    def begin_delete(self, doc_id: str) -> None:
        self.db.execute("UPDATE documents SET state='deleting', updated=? WHERE doc_id=?", (time.time(), doc_id))

    def remove(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    def record_failure(self, doc: DocumentRecord, error: str, run_id: str) -> None:
        """Remember that this content failed, so an unchanged bad file is not parsed again every night.
        A document that already has chunks keeps them (and its good hash): nothing is lost."""
        existing = self.get(doc.doc_id)
        if existing is not None and existing.state != "failed":
            return
        self.db.execute(
            f"INSERT OR REPLACE INTO documents ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.doc_id, doc.path, doc.source, doc.root, doc.sha256, doc.size, doc.mtime,
             ",".join(doc.groups), doc.fingerprint, "[]", "failed", "[]", error, run_id, time.time(), doc.token),
        )  # fmt: skip

    def touch(self, doc_id: str, path: str, source: str, root: str, mtime: float, token: str | None = None) -> None:
        """Same content, new name, time or change token (a remote item re-read with the same hash)."""
        self.db.execute(
            "UPDATE documents SET path=?, source=?, root=?, mtime=?, token=COALESCE(?, token) WHERE doc_id=?",
            (path, source, root, mtime, token, doc_id),
        )

    def rows_under(self, prefix: str) -> list[DocumentRow]:
        """Documents whose path starts with `prefix` (a remote source's root)."""
        rows = self.db.execute("SELECT * FROM documents WHERE substr(path, 1, ?) = ? ORDER BY path", (len(prefix), prefix)).fetchall()
        return [DocumentRow.from_sql(r) for r in rows]

    # -- runs ------------------------------------------------------------------------------------
    def start_run(self, run_id: str) -> None:
        self.db.execute("INSERT INTO runs(run_id, started, status) VALUES (?,?,?)", (run_id, time.time(), "running"))

    def end_run(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE runs SET finished=?, status=?, report=? WHERE run_id=?", (time.time(), status, json.dumps(report), run_id)
        )

    def record_source_run(self, name: str, kind: str, location: str, run_id: str, status: str, counts: dict[str, int],
                          failures: Sequence[dict[str, str]]) -> None:  # fmt: skip
        self.db.execute(
            "INSERT OR REPLACE INTO source_runs VALUES (?,?,?,?,?,?,?,?)",
            (name, kind, location, run_id, time.time(), status, json.dumps(counts), json.dumps(list(failures)[:100])),
        )

    def forget_sources(self, keep: Sequence[str]) -> None:
        """Drop the last-run rows of sources no longer configured."""
        names = list(keep)
        self.db.execute(f"DELETE FROM source_runs WHERE name NOT IN ({','.join('?' * len(names))})", names)

    def source_runs(self) -> list[dict[str, Any]]:
        """The last run of every named source, by name."""
        out = []
        for row in self.db.execute("SELECT * FROM source_runs ORDER BY name").fetchall():
            out.append({"name": row["name"], "kind": row["kind"], "location": row["location"], "run_id": row["run_id"],
                        "finished": _iso(row["finished"]), "status": row["status"], **json.loads(row["counts"]),
                        "failures": json.loads(row["failures"])})  # fmt: skip
        return out


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))
