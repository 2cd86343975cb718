"""Judge replies cached in SQLite under LORE_HOME: same inputs, judge and prompt version → same verdict,
without calling the model again (re-running a report or a gate costs nothing for unchanged answers)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from retrieval.sqlite import SQLiteFile


class JudgeCache:
    def __init__(self, path: Path):
        self.path = path
        self._db = SQLiteFile(path, "CREATE TABLE IF NOT EXISTS judge_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts REAL NOT NULL)").connection

    def get(self, key: str) -> Any | None:
        row = self._db().execute("SELECT value FROM judge_cache WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Any) -> None:
        self._db().execute("INSERT OR REPLACE INTO judge_cache VALUES (?,?,?)", (key, json.dumps(value), time.time()))

    def __len__(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0]
