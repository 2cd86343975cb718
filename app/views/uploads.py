"""Documents uploaded by an administrator: checked (type, size, content signature), saved under a
safe name in `LORE_HOME/uploads/<source>/`, with their groups in a sidecar `<file>.acl` that
ingestion reads. Not a page: a helper of the ingestion page."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from retrieval.errors import InputError
from retrieval.settings import Settings

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_NAME_CHARS = 120
SIDECAR_SUFFIX = ".acl"  # ingest/acl.py reads `<document>.acl`

# What a file of each type must start with: a renamed executable or a text file called .pdf is
# turned away here instead of failing later in the parser.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".docx": (b"PK\x03\x04",),
    ".pptx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
}


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


def uploads_root(settings: Settings) -> Path:
    return settings.home / "uploads"


def upload_sources(settings: Settings) -> list[str]:
    root = uploads_root(settings)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and SOURCE_NAME.match(p.name)) if root.is_dir() else []


def check_source_name(name: str) -> str:
    name = name.strip()
    if not SOURCE_NAME.match(name):
        raise InputError(f"invalid source name {name!r}: use letters, digits, '.', '_' or '-' (up to 64 characters)")
    return name


def safe_file_name(name: str) -> str:
    """The last path component only, with unusual characters replaced: no '../', no hidden files,
    no names that the ingest scanner would skip or mistake for an ACL sidecar."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").split("/")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = UNSAFE_CHARS.sub("_", stem).strip(" ._-~$") or "document"
    suffix = UNSAFE_CHARS.sub("", suffix).lower()
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1]
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(name: str, data: bytes, settings: Settings) -> str | None:
    """Why this file can't be accepted, or None when it can."""
    suffix = Path(name).suffix.lower()
    allowed = [t.lower() if t.startswith(".") else "." + t.lower() for t in settings.app.upload_types]
    if suffix not in allowed:
        return f"type {suffix or '(none)'} is not accepted: upload one of {', '.join(allowed)}"
    limit = settings.app.upload_max_mb * 1024 * 1024
    if len(data) > limit:
        return f"{len(data) / 2**20:.1f} MB is over the {settings.app.upload_max_mb:g} MB limit (setting app.upload_max_mb)"
    if not data:
        return "the file is empty"
    signatures = SIGNATURES.get(suffix)
    if signatures and not data.startswith(signatures):
        return f"the content is not a {suffix} file (its first bytes do not match)"
    return None


def save_upload(settings: Settings, source: str, name: str, data: bytes, groups: tuple[str, ...]) -> Path:
    """Write the file and its groups sidecar; returns the saved path (an existing file is replaced)."""
    folder = uploads_root(settings) / check_source_name(source)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_file_name(name)
    if target.resolve().parent != folder.resolve():  # belt and braces after the name cleaning
        raise InputError(f"unsafe file name {name!r}: rename the file")
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    tmp.replace(target)
    sidecar = target.with_name(target.name + SIDECAR_SUFFIX)
    sidecar.write_text(yaml.safe_dump(list(groups)), encoding="utf-8")
    return target
