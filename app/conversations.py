"""Per-user conversation history for the app, in SQLite under LORE_HOME (kept across restarts).

A conversation is an ordered list of messages; an assistant message carries the id of its entry in
the interaction log (where feedback and scores live) and the citations it was shown with, so a
conversation renders again exactly as it was, without asking the model again.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.schema import ChatMessage
from retrieval.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user, updated);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,            -- user | assistant
    content TEXT NOT NULL,
    interaction_id TEXT,           -- the interaction log entry of an answer
    refused INTEGER NOT NULL DEFAULT 0,
    citations TEXT NOT NULL DEFAULT '[]',  -- JSON list of {source, page, section, text, score, chunk_id}
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages(conversation_id, seq);
"""

TITLE_CHARS = 60


@dataclass(frozen=True)
class Conversation:
    id: str
    user: str
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    interaction_id: str = ""
    refused: bool = False
    citations: list[dict[str, Any]] = field(default_factory=list)
    ts: float = 0.0

    def chat_message(self) -> ChatMessage:
        return ChatMessage(self.role, self.content)


def title_from(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """Conversations are owned by one user: every read and write names the user, so one user can
    never open another's conversation by guessing its id."""

    def __init__(self, path: Path):
        self.path = path
        self._file = SQLiteFile(path, SCHEMA, rows_as_dicts=True, foreign_keys=True)
        self._db = self._file.connection
        self._transaction = self._file.transaction

    def create(self, user: str, title: str, conversation_id: str | None = None) -> str:
        conversation_id = conversation_id or uuid.uuid4().hex
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT INTO conversations VALUES (?,?,?,?,?)", (conversation_id, user, title_from(title) or "New conversation", now, now))
        return conversation_id

    def list(self, user: str, limit: int = 50) -> list[Conversation]:
        rows = self._db().execute(
            "SELECT * FROM conversations WHERE user=? ORDER BY updated DESC LIMIT ?", (user, limit)
        )
        return [Conversation(**dict(r)) for r in rows]

    def get(self, conversation_id: str, user: str) -> Conversation | None:
        row = self._db().execute("SELECT * FROM conversations WHERE id=? AND user=?", (conversation_id, user)).fetchone()
        return Conversation(**dict(row)) if row else None

    def messages(self, conversation_id: str, user: str) -> list[StoredMessage]:
        rows = self._db().execute(
            "SELECT m.* FROM messages m JOIN conversations c ON c.id=m.conversation_id "
            "WHERE m.conversation_id=? AND c.user=? ORDER BY m.seq",
            (conversation_id, user),
        )
        return [
            StoredMessage(
                role=r["role"],
                content=r["content"],
                interaction_id=r["interaction_id"] or "",
                refused=bool(r["refused"]),
                citations=json.loads(r["citations"]),
                ts=r["ts"],
            )
            for r in rows
        ]

    def add(self, conversation_id: str, user: str, message: StoredMessage) -> None:
        now = time.time()
        with self._transaction() as db:
            owned = db.execute("SELECT 1 FROM conversations WHERE id=? AND user=?", (conversation_id, user)).fetchone()
            if not owned:
                raise KeyError(f"conversation {conversation_id} not found for {user}")
            db.execute(
                "INSERT INTO messages (conversation_id, role, content, interaction_id, refused, citations, ts) VALUES (?,?,?,?,?,?,?)",
                (
                    conversation_id,
                    message.role,
                    message.content,
                    message.interaction_id or None,
                    int(message.refused),
                    json.dumps(message.citations, ensure_ascii=False),
                    now,
                ),
            )
            db.execute("UPDATE conversations SET updated=? WHERE id=?", (now, conversation_id))

    def rename(self, conversation_id: str, user: str, title: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE conversations SET title=? WHERE id=? AND user=?", (title_from(title), conversation_id, user))

    def delete(self, conversation_id: str, user: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM conversations WHERE id=? AND user=?", (conversation_id, user))
