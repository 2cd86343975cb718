"""Who is using the app, and which groups they belong to (the groups filter every retrieval).

Three ways to know the user (setting `app.auth`):
- `users_file`: a YAML file of users with bcrypt password hashes (`lore users add`), for small teams;
- `oidc`: Streamlit's built-in OpenID Connect login (`st.login()`), configured in `.streamlit/secrets.toml`;
- `trusted_header`: an authenticating reverse proxy puts the user (and optionally groups) in headers.
Nobody is let in without one of these unless `app.allow_anonymous` is true; the anonymous user has the
default groups (`ingest.default_groups`).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import ConfigError, InputError
from retrieval.settings import Settings

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
# Group names become metadata keys (`acl:<group>`) and comma-joined lists: no commas, no spaces.
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer passwords are refused rather than silently cut
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...]
    method: str  # users_file | oidc | trusted_header | anonymous
    admin_group: str = "admin"

    @property
    def is_admin(self) -> bool:
        return self.admin_group in self.groups

    @property
    def anonymous(self) -> bool:
        return self.method == "anonymous"


@dataclass(frozen=True)
class UserRecord:
    user: str
    groups: tuple[str, ...]
    password_hash: str = ""


def parse_groups(text: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """`"a, b"` or `["a", "b"]` → ("a", "b"), validated and de-duplicated in order."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    groups = tuple(dict.fromkeys(str(g).strip() for g in items if str(g).strip()))
    for group in groups:
        if not GROUP_NAME.match(group):
            raise InputError(f"invalid group name {group!r}: use letters, digits, '.', '_' or '-' (no spaces or commas)")
    return groups


def hash_password(password: str, rounds: int = 12) -> str:
    import bcrypt

    data = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(data) > MAX_PASSWORD_BYTES:
        raise InputError(f"password too long: bcrypt reads at most {MAX_PASSWORD_BYTES} bytes, use a shorter one")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=rounds)).decode("ascii")


@functools.cache
def _dummy_hash() -> bytes:
    """A hash of a random password: checking unknown users against it costs the same time as a real
    check, so the login form does not reveal which user names exist."""
    import bcrypt

    return bcrypt.hashpw(secrets.token_hex(16).encode("ascii"), bcrypt.gensalt(rounds=12))


class UsersFile:
    """`users: {name: {groups: [...], password_hash: "$2b$..."}}` — written atomically, mode 0600."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, UserRecord]:
        if not self.path.is_file():
            return {}
        try:
            doc = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"users file {self.path} is not valid YAML ({exc}): fix it or recreate it with `lore users add`") from exc
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict):
            raise ConfigError(f"users file {self.path} has no `users:` mapping: recreate it with `lore users add`")
        records = {}
        for name, entry in users.items():
            entry = entry if isinstance(entry, dict) else {}
            groups = entry.get("groups") or []
            records[str(name)] = UserRecord(
                user=str(name),
                groups=tuple(str(g) for g in (groups if isinstance(groups, list) else str(groups).split(","))),
                password_hash=str(entry.get("password_hash") or ""),
            )
        return records

    def save(self, records: Mapping[str, UserRecord]) -> None:
        doc = {
            "users": {
                r.user: {"groups": list(r.groups), **({"password_hash": r.password_hash} if r.password_hash else {})}
                for r in sorted(records.values(), key=lambda r: r.user)
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                yaml.safe_dump(doc, out, sort_keys=False)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, user: str, groups: tuple[str, ...], password: str | None, rounds: int = 12) -> UserRecord:
        """Create or update a user; without a password an existing hash is kept (groups change only)."""
        if not USER_NAME.match(user):
            raise InputError(f"invalid user name {user!r}: use letters, digits and . _ @ + - (up to 128 characters)")
        records = self.load()
        old = records.get(user)
        password_hash = hash_password(password, rounds) if password else (old.password_hash if old else "")
        record = UserRecord(user=user, groups=groups, password_hash=password_hash)
        records[user] = record
        self.save(records)
        return record

    def remove(self, user: str) -> bool:
        records = self.load()
        if records.pop(user, None) is None:
            return False
        self.save(records)
        return True

    def verify(self, user: str, password: str) -> UserRecord | None:
        import bcrypt

        record = self.load().get(user)
        data = password.encode("utf-8")
        try:
            stored = record.password_hash.encode("ascii") if record and record.password_hash else _dummy_hash()
            ok = len(data) <= MAX_PASSWORD_BYTES and bcrypt.checkpw(data, stored)
        except ValueError:  # a malformed hash in the file
            ok = False
        return record if ok and record is not None and record.password_hash else None


def groups_or_default(groups: tuple[str, ...], settings: Settings) -> tuple[str, ...]:
    return groups or tuple(settings.ingest.default_groups)


def anonymous_identity(settings: Settings) -> Identity:
    return Identity(ANONYMOUS, tuple(settings.ingest.default_groups), "anonymous", settings.app.admin_group)


def identity_from_record(record: UserRecord, settings: Settings, method: str = "users_file") -> Identity:
    return Identity(record.user, groups_or_default(record.groups, settings), method, settings.app.admin_group)


def identity_from_headers(headers: Mapping[str, str], settings: Settings) -> Identity | None:
    """Trusted-header mode: the proxy has authenticated the user. Groups come from the groups header,
    else from the users file entry of that user, else the default groups."""
    user = (headers.get(settings.app.trusted_header) or "").strip()
    if not user:
        return None
    if not USER_NAME.match(user):
        raise InputError(f"the {settings.app.trusted_header} header holds an invalid user name: check the proxy configuration")
    header_groups = headers.get(settings.app.trusted_groups_header) if settings.app.trusted_groups_header else None
    groups = parse_groups(header_groups) if header_groups else ()
    if not groups:
        record = UsersFile(settings.users_path).load().get(user)
        groups = record.groups if record else ()
    return Identity(user, groups_or_default(groups, settings), "trusted_header", settings.app.admin_group)


def identity_from_claims(claims: Mapping[str, Any], settings: Settings) -> Identity | None:
    """OIDC: the user is the e-mail (else the subject); groups are the token's groups claim plus any
    groups given to that user in the users file, else the default groups."""
    user = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "").strip()
    if not user:
        return None
    raw = claims.get(settings.app.oidc_groups_claim)
    claimed = [g for g in (raw.split(",") if isinstance(raw, str) else raw or []) if GROUP_NAME.match(str(g).strip())]
    record = UsersFile(settings.users_path).load().get(user)
    groups = tuple(dict.fromkeys([*(str(g).strip() for g in claimed), *(record.groups if record else ())]))
    return Identity(user, groups_or_default(groups, settings), "oidc", settings.app.admin_group)


def oidc_configured() -> bool:
    """Whether `.streamlit/secrets.toml` has an [auth] section (Streamlit's login needs it)."""
    import streamlit as st

    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises FileNotFoundError or its own error
        return False
