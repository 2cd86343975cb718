"""Judge replies cached in SQLite under LORE_HOME: same inputs, judge and prompt version → same verdict,
without calling the model again (re-running a report or a gate costs nothing for unchanged answers)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class JudgeCache:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db().execute("CREATE TABLE IF NOT EXISTS judge_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    def get(self, key: str) -> Any | None:
        row = self._db().execute("SELECT value FROM judge_cache WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Any) -> None:
        self._db().execute("INSERT OR REPLACE INTO judge_cache VALUES (?,?,?)", (key, json.dumps(value), time.time()))

    def __len__(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0]
