"""API keys: random tokens mapped to a user and groups, stored hashed in LORE_HOME/api_keys.sqlite.

Keys are 32 random bytes, so a fast hash (sha256) is the right tool: there is nothing to brute-force
and a slow KDF would cost milliseconds on every request. Only the hash and a short display id are
kept; the key itself is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import InputError
from retrieval.settings import Settings
from retrieval.sqlite import SQLiteFile

KEY_PREFIX = "lore-"
SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,       -- short public id, e.g. for `lore keys revoke`
    key_hash TEXT NOT NULL UNIQUE, -- sha256 hex of the key
    user TEXT NOT NULL,
    groups TEXT NOT NULL,          -- JSON list
    created REAL NOT NULL,
    revoked REAL                   -- NULL while valid
);
"""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    user: str
    groups: tuple[str, ...]
    created: float
    revoked: float | None = None

    def is_admin(self, admin_group: str) -> bool:
        return admin_group in self.groups

    def to_json(self) -> dict:
        return {"key_id": self.key_id, "user": self.user, "groups": list(self.groups), "created": self.created, "revoked": self.revoked}


def keys_path(settings: Settings) -> Path:
    return settings.home / "api_keys.sqlite"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_groups(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """'a,b' or ['a','b'] → ('a','b'); each name validated (they become metadata keys)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    groups = tuple(dict.fromkeys(g.strip() for g in items if g.strip()))
    for group in groups:
        if not NAME.match(group):
            raise InputError(f"invalid group name {group!r}: use letters, digits and . _ @ + -")
    return groups


class KeyStore:
    def __init__(self, path: Path):
        self.path = path
        self._db = SQLiteFile(path, SCHEMA).connection

    @classmethod
    def for_settings(cls, settings: Settings) -> KeyStore:
        return cls(keys_path(settings))

    def add(self, user: str, groups: list[str] | tuple[str, ...] | str) -> tuple[str, ApiKey]:
        """Create a key; returns (the key itself — shown once —, its record)."""
        user = user.strip()
        if not NAME.match(user):
            raise InputError(f"invalid user name {user!r}: use letters, digits and . _ @ + -")
        group_tuple = parse_groups(groups)
        if not group_tuple:
            raise InputError("a key needs at least one group: pass --groups g1,g2")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(key_id=secrets.token_hex(4), user=user, groups=group_tuple, created=time.time())
        self._db().execute(
            "INSERT INTO api_keys VALUES (?,?,?,?,?,NULL)",
            (record.key_id, hash_key(key), record.user, json.dumps(list(record.groups)), record.created),
        )
        return key, record

    def lookup(self, key: str) -> ApiKey | None:
        """The valid (not revoked) key record for this key, or None."""
        if not key or len(key) > 256:
            return None
        row = self._db().execute(
            "SELECT key_id, user, groups, created, revoked FROM api_keys WHERE key_hash=? AND revoked IS NULL", (hash_key(key),)
        ).fetchone()
        return self._record(row) if row else None

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        sql = "SELECT key_id, user, groups, created, revoked FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked IS NULL"
        return [self._record(r) for r in self._db().execute(sql + " ORDER BY created")]

    def revoke(self, key_id_or_user: str) -> list[ApiKey]:
        """Revoke one key (by key id) or every key of a user; returns what was revoked."""
        rows = self._db().execute(
            "SELECT key_id, user, groups, created, revoked FROM api_keys WHERE (key_id=? OR user=?) AND revoked IS NULL",
            (key_id_or_user, key_id_or_user),
        ).fetchall()
        now = time.time()
        self._db().executemany("UPDATE api_keys SET revoked=? WHERE key_id=?", [(now, r[0]) for r in rows])
        return [self._record(r) for r in rows]

    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL").fetchone()[0])

    @staticmethod
    def _record(row) -> ApiKey:
        return ApiKey(key_id=row[0], user=row[1], groups=tuple(json.loads(row[2])), created=row[3], revoked=row[4])
