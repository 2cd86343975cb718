"""The interaction log: every answer with what it was built from, in SQLite under LORE_HOME.

It is the input of continuous evaluation (scores are stored next to each interaction) and of the
app's feedback and quality pages. WAL mode lets the app, the API and `lore monitor` share it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from retrieval.schema import Answer
from retrieval.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,          -- JSON list
    conversation_id TEXT,
    question TEXT NOT NULL,
    query TEXT NOT NULL,           -- standalone query used for retrieval
    contexts TEXT NOT NULL,        -- JSON list of {id, source, page, section, text, score}
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,       -- JSON list of citations as in the `lore ask` contract
    refused INTEGER NOT NULL,
    model TEXT NOT NULL,
    timings TEXT NOT NULL,         -- JSON {retrieve_ms, first_token_ms, total_ms}
    usage TEXT NOT NULL,           -- JSON {prompt_tokens, completion_tokens}
    dropped_markers INTEGER NOT NULL DEFAULT 0,
    channel TEXT NOT NULL DEFAULT 'cli'
);
CREATE INDEX IF NOT EXISTS interactions_ts ON interactions(ts);
CREATE INDEX IF NOT EXISTS interactions_conv ON interactions(conversation_id);
CREATE TABLE IF NOT EXISTS scores (
    interaction_id TEXT NOT NULL REFERENCES interactions(id),
    metric TEXT NOT NULL,
    value REAL,                    -- NULL when the judge failed
    judge TEXT NOT NULL,
    detail TEXT,                   -- JSON (claims, verdicts, error)
    ts REAL NOT NULL,
    PRIMARY KEY (interaction_id, metric)
);
CREATE TABLE IF NOT EXISTS feedback (
    interaction_id TEXT NOT NULL REFERENCES interactions(id),
    user TEXT NOT NULL,
    rating INTEGER NOT NULL,       -- +1 or -1
    comment TEXT NOT NULL DEFAULT '',
    ts REAL NOT NULL,
    PRIMARY KEY (interaction_id, user)
);
"""

JSON_COLUMNS = ("groups", "contexts", "citations", "timings", "usage")


class InteractionLog:
    def __init__(self, path: Path):
        self.path = path
        self._file = SQLiteFile(path, SCHEMA, rows_as_dicts=True)
        self._connect = self._file.connection
        self.transaction = self._file.transaction

    def record(
        self,
        answer: Answer,
        *,
        user: str,
        groups: list[str],
        conversation_id: str | None = None,
        channel: str = "cli",
    ) -> str:
        interaction_id = answer.interaction_id or uuid.uuid4().hex
        contexts = [
            {"id": s.chunk.id, "source": s.chunk.source, "page": s.chunk.page, "section": s.chunk.section, "text": s.chunk.text, "score": s.score}
            for s in answer.contexts
        ]
        with self.transaction() as db:
            db.execute(
                "INSERT INTO interactions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    interaction_id,
                    time.time(),
                    user,
                    json.dumps(groups),
                    conversation_id,
                    answer.question,
                    answer.query,
                    json.dumps(contexts),
                    answer.answer,
                    json.dumps([c.to_json() for c in answer.citations]),
                    int(answer.refused),
                    answer.model,
                    json.dumps(asdict(answer.timings)),
                    json.dumps(asdict(answer.usage)),
                    answer.dropped_markers,
                    channel,
                ),
            )
        answer.interaction_id = interaction_id
        return interaction_id

    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        item = dict(row)
        for key in JSON_COLUMNS:
            if key in item and isinstance(item[key], str):
                item[key] = json.loads(item[key])
        if "refused" in item:
            item["refused"] = bool(item["refused"])
        return item

    def get(self, interaction_id: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT * FROM interactions WHERE id=?", (interaction_id,)).fetchone()
        return self._row(row) if row else None

    def recent(self, limit: int = 100, user: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM interactions", []
        if user is not None:
            sql += " WHERE user=?"
            args.append(user)
        sql += " ORDER BY ts DESC LIMIT ?"
        return [self._row(r) for r in self._connect().execute(sql, (*args, limit))]

    def conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = self._connect().execute("SELECT * FROM interactions WHERE conversation_id=? ORDER BY ts", (conversation_id,))
        return [self._row(r) for r in rows]

    def unscored(self, metric: str, limit: int) -> list[dict[str, Any]]:
        rows = self._connect().execute(
            "SELECT i.* FROM interactions i LEFT JOIN scores s ON s.interaction_id=i.id AND s.metric=? "
            "WHERE s.interaction_id IS NULL ORDER BY i.ts LIMIT ?",
            (metric, limit),
        )
        return [self._row(r) for r in rows]

    def save_score(self, interaction_id: str, metric: str, value: float | None, judge: str, detail: Any = None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?)",
                (interaction_id, metric, value, judge, json.dumps(detail) if detail is not None else None, time.time()),
            )

    def scores(self, metric: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        sql = "SELECT s.*, i.question, i.answer, i.user, i.ts AS asked_ts FROM scores s JOIN interactions i ON i.id=s.interaction_id WHERE s.ts>=?"
        args: list[Any] = [since]
        if metric:
            sql += " AND s.metric=?"
            args.append(metric)
        return [dict(r) for r in self._connect().execute(sql + " ORDER BY s.ts", args)]

    def save_feedback(self, interaction_id: str, user: str, rating: int, comment: str = "") -> None:
        if rating not in (1, -1):
            raise ValueError("rating must be +1 or -1")
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?,?,?,?,?)", (interaction_id, user, rating, comment.strip(), time.time())
            )

    def feedback(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._connect().execute(
            "SELECT f.*, i.question, i.answer FROM feedback f JOIN interactions i ON i.id=f.interaction_id ORDER BY f.ts DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
