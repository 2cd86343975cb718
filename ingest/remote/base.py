"""What every remote source shares: its scope, the listing-and-download context it writes into
(`Collection`: change tokens against the manifest, staging files, failures), the errors a source
raises, and the size and file-name guards of a download. The kinds (s3.py, web.py, imap.py) build
on this; the package's `collect` and `parse_remote` run them."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ingest.acl import AclMap, parse_groups, source_acl
from ingest.globs import any_match
from ingest.manifest import DocumentRow, Manifest
from ingest.sources import ScanResult, doc_id_for
from retrieval.errors import ConfigError, LoreError
from retrieval.schema import FileFailure, SourceFile

KINDS = ("folder", "s3", "web", "imap")
COMMON_KEYS = {"name", "kind", "groups", "acl", "include", "exclude", "max_mb", "timeout_s", "download_timeout_s"}
NOTHING_DELETED = "(nothing from this source was deleted)"
Progress = Callable[[str, int, int | None], None]  # (source name, items done, total or None)


class DownloadError(Exception):
    """One item could not be fetched; the message is its one-line reason."""


class SourceUnavailable(LoreError):
    """The source as a whole could not be listed (unreachable, credentials refused, no such bucket)."""


@dataclass(frozen=True)
class RemoteScope:
    """What a complete listing of a remote source vouches for: document paths starting with `root`
    (minus `blind` prefixes that could not be listed), filtered by the source's include/exclude."""

    root: str
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    blind: tuple[str, ...] = ()

    def covers(self, path: str) -> bool:
        if not path.startswith(self.root) or any(path.startswith(b) for b in self.blind):
            return False
        rel = path[len(self.root) :].lstrip("/")
        return any_match(self.include, rel) and not any_match(self.exclude, rel)


@dataclass(frozen=True)
class RemoteSource:
    """What every remote source has; each kind adds its own fields and `collect`."""

    kind: ClassVar[str] = ""
    keys: ClassVar[frozenset[str]] = frozenset()  # the kind's own YAML keys

    name: str
    groups: tuple[str, ...] | None = None
    acl: AclMap = AclMap()
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    max_mb: float | None = None  # None: ingest.max_file_mb
    timeout_s: float = 30.0  # per request (connect, each read)
    download_timeout_s: float = 300.0  # per item, however slowly the server sends it

    @property
    def location(self) -> str:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The source as `lore config show` prints it: settings, secret references, secrets masked."""
        return {"name": self.name, "kind": self.kind, "location": self.location,
                "groups": list(self.groups) if self.groups is not None else None, "include": list(self.include),
                "exclude": list(self.exclude)}  # fmt: skip

    def collect(self, ctx: Collection) -> None:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def common(spec: Mapping[str, Any], base: Path, where: str, own_keys: Iterable[str]) -> dict[str, Any]:
        """The options every kind shares, validated; unknown keys are refused (a typo would else be ignored)."""
        name = str(spec["name"])
        own_keys = set(own_keys)
        for key in spec:
            if f"{key}_env" in own_keys and f"{key}_file" in own_keys:  # a secret written into the YAML itself
                raise ConfigError(f"{where}: source {name!r}: `{key}` holds a secret in the YAML; put it in an environment variable or a file "
                                  f"and name it with `{key}_env` or `{key}_file` instead")  # fmt: skip
        unknown = sorted(set(spec) - COMMON_KEYS - own_keys)
        if unknown:
            raise ConfigError(f"{where}: source {name!r} ({spec.get('kind')}) has unknown key(s) {', '.join(unknown)}: see docs/sources.md")
        out: dict[str, Any] = {"name": name, "acl": source_acl(spec, base, where)}
        if "groups" in spec:
            out["groups"] = parse_groups(spec["groups"], f"{where} source {name!r} groups")
        for key in ("include", "exclude"):
            if key in spec:
                value = spec[key]
                value = [value] if isinstance(value, str) else value
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise ConfigError(f"{where}: source {name!r}: {key} must be a glob or a list of globs")
                out[key] = tuple(value)
        for key in ("max_mb", "timeout_s", "download_timeout_s"):
            if key in spec:
                value = spec[key]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                    raise ConfigError(f"{where}: source {name!r}: {key} must be a positive number")
                out[key] = float(value)
        return out


@dataclass
class SourceStats:
    listed: int = 0  # items found
    downloaded: int = 0
    unchanged: int = 0  # by change token, nothing downloaded
    skipped: int = 0  # not a document type Lore reads, robots.txt, noindex, another host
    complete: bool = False  # a scope was recorded: deletes propagate
    error: str = ""  # why the source as a whole could not be listed


class Collection:
    """What a remote source's `collect` works with: the manifest's view of its documents, the
    staging folder, the groups rules, the size cap, and the result it adds files and failures to."""

    def __init__(self, source: RemoteSource, manifest: Manifest, fingerprint: str, staging: Path, default_groups: Sequence[str],
                 max_file_mb: float, progress: Callable[[int], None] | None = None):  # fmt: skip
        self.source = source
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.staging = staging
        self.default_groups = tuple(default_groups)
        self.cap_bytes = int((source.max_mb or max_file_mb) * 2**20)
        self.result = ScanResult()
        self.stats = SourceStats()
        self._progress = progress

    # -- what the manifest knows -----------------------------------------------------------------
    def known(self, path: str) -> DocumentRow | None:
        return self.manifest.get(doc_id_for(path))

    def current(self, path: str, token: str, groups: tuple[str, ...]) -> DocumentRow | None:
        """The committed row when the item is unchanged (same token, groups and chunking): no download needed."""
        row = self.known(path)
        if row is None or not token or row.token != token or row.fingerprint != self.fingerprint:
            return None
        if row.state not in ("ok", "failed") or row.groups != groups:
            return None
        return row

    def groups_for(self, rel: str, explicit: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if explicit is not None:
            return explicit
        mapped = self.source.acl.groups_for(rel)
        if mapped is not None:
            return mapped
        return self.source.groups if self.source.groups is not None else self.default_groups

    # -- results ---------------------------------------------------------------------------------
    def unchanged(self, path: str, display: str, root: str, row: DocumentRow) -> None:
        self.stats.listed += 1
        self.stats.unchanged += 1
        self.result.files.append(SourceFile(path=path, source=display, root=root, size=row.size, mtime=row.mtime,
                                            groups=row.groups, token=row.token))  # fmt: skip
        self.tick()

    def downloaded(self, path: str, display: str, root: str, local: Path, token: str, mtime: float, groups: tuple[str, ...]) -> None:
        self.stats.listed += 1
        self.stats.downloaded += 1
        self.result.files.append(SourceFile(path=path, source=display, root=root, size=local.stat().st_size, mtime=mtime,
                                            groups=groups, token=token, local=str(local)))  # fmt: skip
        self.tick()

    def fail(self, path: str, error: str) -> None:
        self.stats.listed += 1
        self.result.failed.append(FileFailure(path, " ".join(error.split())))
        self.tick()

    def fail_source(self, error: str) -> None:
        """The source could not be listed (or a part of it, when `complete` stays possible for the rest)."""
        error = " ".join(error.split())
        self.stats.error = self.stats.error or error
        self.result.failed.append(FileFailure(self.source.location, error))

    def gone(self, path: str) -> None:
        """The server says the item no longer exists (HTTP 404/410): delete it even from an incomplete listing."""
        self.result.missing.add(path)

    def scope(self, root: str, blind: Sequence[str] = ()) -> None:
        self.stats.complete = True
        self.result.scopes.append(RemoteScope(root, self.source.include, self.source.exclude, tuple(blind)))

    def tick(self) -> None:
        if self._progress is not None:
            self._progress(1)

    def skip(self) -> None:
        self.stats.skipped += 1

    # -- staging ---------------------------------------------------------------------------------
    def stage(self, path: str, filename: str) -> Path:
        """A fresh file for item `path` named like the item (the extension picks the parser)."""
        folder = self.staging / hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / safe_file_name(filename)

    def write(self, chunks: Iterable[bytes], dest: Path, what: str) -> int:
        """Stream `chunks` into `dest`, stopping past the size cap or the per-item deadline."""
        return write_capped(chunks, dest, self.cap_bytes, self.source.download_timeout_s, what)


def write_capped(chunks: Iterable[bytes], dest: Path, cap_bytes: int, deadline_s: float, what: str) -> int:
    started = time.monotonic()
    written = 0
    try:
        with open(dest, "wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > cap_bytes:
                    raise DownloadError(f"too large: over {cap_bytes / 2**20:g} MB; raise max_mb for this source (or ingest.max_file_mb) to ingest it")
                if time.monotonic() - started > deadline_s:
                    raise DownloadError(f"timeout: downloading {what} took over download_timeout_s={deadline_s:g}s")
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return written


def too_large(size: int, cap_bytes: int) -> str:
    return f"too large: {size / 2**20:.1f} MB > {cap_bytes / 2**20:g} MB; raise max_mb for this source (or ingest.max_file_mb) to ingest it"


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_file_name(name: str, default: str = "document") -> str:
    """A file name without folders or odd characters, its extension kept (lower-cased), at most 120 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._") or default
    ext = _UNSAFE.sub("", ext).lower()[:10]
    return f"{stem[:110]}.{ext}" if ext else stem[:120]
