"""`lore backup` / `lore restore`: a consistent snapshot of a LORE_HOME while the services run.

Consistency: the backup holds the ingest lock (`LORE_HOME/ingest.lock`, the flock every ingest run
takes), so no writer changes the store, the manifest or the lexical index while they are copied;
the API and the app only read those. Every SQLite file (manifest, lexical index, interaction log
with scores and feedback, API keys, Chroma's own chroma.sqlite3) is copied with SQLite's online
backup API, which gives a consistent snapshot even while answers are being logged. Other files
(Chroma's HNSW segments, users.yaml, lore.toml, logs) are copied as they are.

With a Chroma server (`store.kind = "http"`) the store is not under LORE_HOME: its collection is
exported to `chroma-export/<collection>.jsonl` (ids, texts, metadata, vectors) and imported on
restore, which also moves a store between an embedded directory and a server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from retrieval.errors import InputError, LockedError, StoreError
from retrieval.settings import Settings, masked_dump

FORMAT = 1
MANIFEST = "lore-backup.json"
EXPORT_DIR = "chroma-export"
SQLITE_MAGIC = b"SQLite format 3\x00"
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".lock", ".tmp")


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == SQLITE_MAGIC


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _copy_sqlite(src: Path, dst: Path) -> None:
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the backup
    finally:
        target.close()
        source.close()


def _sql_count(path: Path, sql: str) -> int | None:
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return int(db.execute(sql).fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return None


def home_counts(settings: Settings, home: Path | None = None) -> dict[str, int | None]:
    """Row counts of a LORE_HOME's databases (None: that database does not exist yet)."""
    home = home or settings.home
    collection = settings.store.collection
    interactions = home / "interactions.sqlite"
    return {
        "documents": _sql_count(home / f"state-{collection}.sqlite", "SELECT COUNT(*) FROM documents WHERE state != 'failed'"),
        "lexical_chunks": _sql_count(home / f"lexical-{collection}.sqlite", "SELECT COUNT(*) FROM chunks_fts"),
        "interactions": _sql_count(interactions, "SELECT COUNT(*) FROM interactions"),
        "scores": _sql_count(interactions, "SELECT COUNT(*) FROM scores"),
        "feedback": _sql_count(interactions, "SELECT COUNT(*) FROM feedback"),
        "api_keys": _sql_count(home / "api_keys.sqlite", "SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL"),
    }


def _hold_ingest_lock(home: Path, wait_s: float):
    """The ingest lock, waiting up to `wait_s` for a running ingest to finish."""
    from ingest.lock import IngestLock

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return IngestLock(home / "ingest.lock").acquire()
        except LockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(SKIP_SUFFIXES))


def export_collection(collection: Any, path: Path, batch: int = 500) -> int:
    """Every record of a Chroma collection as JSON lines (vectors included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while True:
            found = collection.get(limit=batch, offset=written, include=["documents", "metadatas", "embeddings"])
            if not found["ids"]:
                return written
            for i, doc, meta, vec in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True):
                out.write(json.dumps({"id": i, "document": doc, "metadata": meta, "embedding": [float(x) for x in vec]}) + "\n")
            written += len(found["ids"])


def import_collection(collection: Any, path: Path, batch: int = 500) -> int:
    rows, imported = [], 0

    def flush() -> None:
        nonlocal imported
        if rows:
            collection.upsert(ids=[r["id"] for r in rows], documents=[r["document"] for r in rows],
                              metadatas=[r["metadata"] for r in rows], embeddings=[r["embedding"] for r in rows])
            imported += len(rows)
            rows.clear()

    with path.open(encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) >= batch:
                flush()
    flush()
    return imported


def create_backup(settings: Settings, dest: Path, *, lock_wait_s: float = 600.0) -> dict[str, Any]:
    """Snapshot settings.home into `dest` (a new or empty directory); returns the backup manifest."""
    from retrieval.chroma_connection import ChromaConnection
    from retrieval.store import make_store

    home, dest = settings.home, dest.expanduser().resolve()
    if not home.is_dir():
        raise InputError(f"LORE_HOME {home} does not exist: nothing to back up")
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty: back up into a new directory")
    if dest == home or dest.is_relative_to(home):
        raise InputError(f"{dest} is inside LORE_HOME: back up to a directory outside {home}")
    started = time.perf_counter()
    dest.mkdir(parents=True, exist_ok=True)
    lock = _hold_ingest_lock(home, lock_wait_s)
    try:
        chunks = make_store(settings).count()
        files = []
        for src in _files(home):
            rel = src.relative_to(home)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if _is_sqlite(src):
                _copy_sqlite(src, target)
            else:
                shutil.copy2(src, target)
            files.append(rel)
        exported = None
        if settings.store.kind == "http":
            exported = export_collection(ChromaConnection(settings).collection, dest / EXPORT_DIR / f"{settings.store.collection}.jsonl")
            files.append(Path(EXPORT_DIR) / f"{settings.store.collection}.jsonl")
    finally:
        lock.release()
    (dest / "settings.json").write_text(json.dumps(masked_dump(settings), indent=2), encoding="utf-8")
    manifest = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "lore_version": _version(),
        "source_home": str(home),
        "store": {"kind": settings.store.kind, "collection": settings.store.collection, "chunks": chunks, "exported": exported},
        "counts": home_counts(settings, dest),
        "files": {str(rel): {"bytes": (dest / rel).stat().st_size, "sha256": _sha256(dest / rel)} for rel in files},
        "seconds": round(time.perf_counter() - started, 3),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise InputError(f"{src} is not a Lore backup ({MANIFEST} missing): give the directory `lore backup` wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is damaged ({exc}): use another backup") from exc
    if manifest.get("format") != FORMAT:
        raise InputError(f"{src} has backup format {manifest.get('format')!r}; this Lore reads format {FORMAT}")
    return manifest


def restore_backup(settings: Settings, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore a backup into settings.home (empty, or replaced with force). Stop services first."""
    src = src.expanduser().resolve()
    manifest = read_manifest(src)
    home = settings.home
    existing = [p for p in home.iterdir() if p.name != "ingest.lock"] if home.is_dir() else []
    if existing and not force:
        raise InputError(f"LORE_HOME {home} is not empty: restore into an empty directory, or pass --force to replace it")
    for rel, meta in manifest["files"].items():
        if not (src / rel).is_file() or _sha256(src / rel) != meta["sha256"]:
            raise InputError(f"{src / rel} is missing or damaged (checksum mismatch): use another backup")
    started = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    lock = _hold_ingest_lock(home, 0)
    try:
        for path in existing:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for rel in manifest["files"]:
            if rel.startswith(EXPORT_DIR + "/"):
                continue
            (home / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, home / rel)
        imported = _restore_server_store(settings, src, manifest)
    finally:
        lock.release()
    return _verify(settings, manifest, imported, time.perf_counter() - started)


def _restore_server_store(settings: Settings, src: Path, manifest: dict[str, Any]) -> int | None:
    """With a Chroma server, load the exported collection into it (embedded: already copied)."""
    export = src / EXPORT_DIR / f"{settings.store.collection}.jsonl"
    if settings.store.kind != "http":
        if manifest["store"]["kind"] == "http":
            raise InputError("this backup holds a Chroma server's collection: restore it with store.kind=http pointing at a server")
        return None
    if not export.is_file():
        raise InputError(f"this backup has no export of collection {settings.store.collection!r}: back up with store.kind=http first")
    from retrieval.chroma_connection import ChromaConnection

    return import_collection(ChromaConnection(settings).collection, export)


def _verify(settings: Settings, manifest: dict[str, Any], imported: int | None, seconds: float) -> dict[str, Any]:
    from retrieval.store import make_store

    counts = home_counts(settings)
    chunks = make_store(settings).count()
    expected = {**manifest["counts"], "chunks": manifest["store"]["chunks"]}
    actual = {**counts, "chunks": chunks}
    mismatched = {k: {"expected": v, "actual": actual.get(k)} for k, v in expected.items() if actual.get(k) != v}
    if mismatched:
        raise StoreError(f"restored data does not match the backup ({mismatched}): restore again with --force")
    return {"restored": str(settings.home), "from": manifest.get("source_home"), "created": manifest["created"], "counts": actual,
            "imported_chunks": imported, "seconds": round(seconds, 3)}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lore")
    except Exception:  # not installed as a package (running from a checkout)
        return os.environ.get("LORE_VERSION", "unknown")
