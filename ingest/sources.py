"""What to ingest: command-line paths (files, folders, globs) or named sources from a
`sources.yaml` (read by ingest/source_config.py), expanded into `SourceFile`s with their access
groups. A source's `kind:` is `folder` (the default: everything below) or a remote kind (`s3`,
`web`, `imap`: ingest/remote/).

A scan also says which documents it could vouch for (`Scope`): only documents inside a scope that
were not found are deleted from the store, so an unreadable folder or a missing (unmounted)
root never wipes what was ingested from it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ingest.acl import SIDECAR_SUFFIX, AclMap, resolve_groups
from ingest.globs import any_match, has_magic
from retrieval.errors import LoreError
from retrieval.schema import FileFailure, SourceFile

SKIP_PREFIXES = (".", "~$")  # hidden files, Office lock files


@dataclass(frozen=True)
class Source:
    """A named root with include/exclude globs and its own ACL rules."""

    kind: ClassVar[str] = "folder"

    name: str
    root: Path
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    acl: AclMap = AclMap()
    groups: tuple[str, ...] | None = None  # default groups for this source
    prefix: str = ""  # prepended to each document's display name (the source name)

    @property
    def location(self) -> str:
        return str(self.root)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "location": self.location, "root": str(self.root), "include": list(self.include),
                "exclude": list(self.exclude), "groups": list(self.groups) if self.groups is not None else None}  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """A root this run listed completely: `path_prefix` (a folder) or exactly `files`."""

    root: str
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    blind: tuple[str, ...] = ()  # folders under root that could not be listed

    def covers(self, path: str) -> bool:
        root = self.root.rstrip("/") + "/"
        if not path.startswith(root):
            return False
        rel = path[len(root) :]
        if any(path.startswith(b.rstrip("/") + "/") for b in self.blind):
            return False
        return any_match(self.include, rel) and not any_match(self.exclude, rel)


@dataclass
class ScanResult:
    files: list[SourceFile] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # single files named on the command line that are gone
    notes: list[FileFailure] = field(default_factory=list)  # what the user should know that is no failure (a crawl limit reached)


def doc_id_for(path: str) -> str:
    """Stable id of a document: its absolute path (a renamed file is a new document)."""
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def sources_from_paths(paths: Sequence[str | Path], acl: AclMap) -> list[tuple[Source, Path | None]]:
    """Each command-line argument becomes a Source; a glob's root is its non-magic folder prefix."""
    out: list[tuple[Source, Path | None]] = []
    for raw in paths:
        text = str(raw)
        if has_magic(text):
            parts = Path(text).parts
            fixed = [p for p in _takewhile_plain(parts)]
            root = Path(*fixed) if fixed else Path(".")
            pattern = "/".join(parts[len(fixed) :])
            out.append((Source(name=text, root=root.absolute(), include=("/" + pattern,), acl=acl), None))
        else:
            path = Path(text).absolute()
            single = None if path.is_dir() else path
            root = path if single is None else path.parent
            out.append((Source(name=text, root=root, acl=acl), single))
    return out


def _takewhile_plain(parts: Sequence[str]) -> Iterator[str]:
    for part in parts:
        if has_magic(part):
            return
        yield part


def scan(sources: Sequence[tuple[Source, Path | None]], default_groups: Sequence[str]) -> ScanResult:
    result = ScanResult()
    seen: set[str] = set()
    for source, single in sources:
        if single is not None:
            _scan_single(source, single, default_groups, result, seen)
            continue
        if not source.root.is_dir():
            problem = "not found" if not source.root.exists() else "not a folder"
            result.failed.append(FileFailure(str(source.root), f"source root {problem}: check the path (nothing was deleted)"))
            continue
        blind: list[str] = []
        for path in _walk(source.root, result, blind):
            rel = path.relative_to(source.root).as_posix()
            if not any_match(source.include, rel) or any_match(source.exclude, rel):
                continue
            _add(source, path, rel, default_groups, result, seen)
        result.scopes.append(Scope(str(source.root), source.include, source.exclude, tuple(blind)))
    return result


def _scan_single(source: Source, path: Path, default_groups: Sequence[str], result: ScanResult, seen: set[str]) -> None:
    if not os.path.lexists(path):
        result.missing.add(str(path))
        return
    _add(source, path, path.name, default_groups, result, seen)


def _walk(root: Path, result: ScanResult, blind: list[str]) -> Iterator[Path]:
    """Every file under root, following symlinks but never into a folder already visited."""
    visited: set[tuple[int, int]] = set()
    st = root.stat()
    visited.add((st.st_dev, st.st_ino))
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            blind.append(str(folder))
            result.failed.append(FileFailure(str(folder), f"unreadable folder ({exc.strerror}): fix its permissions"))
            continue
        for entry in entries:
            if entry.name.startswith(SKIP_PREFIXES) or entry.name.endswith(SIDECAR_SUFFIX):
                continue
            path = Path(entry.path)
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == 40 else ("broken symlink" if entry.is_symlink() else "cannot stat")
                result.failed.append(FileFailure(str(path), f"{reason} ({exc.strerror}): fix or remove the link"))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    if entry.is_symlink():
                        result.failed.append(FileFailure(str(path), "symlink loop: the link points back into a folder already scanned; remove it"))
                    continue
                visited.add(key)
                stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                yield path


def _add(source: Source, path: Path, rel: str, default_groups: Sequence[str], result: ScanResult, seen: set[str]) -> None:
    key = str(path)
    if key in seen:
        return
    seen.add(key)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            result.failed.append(FileFailure(key, "not a regular file: skipped"))
            return
        groups = resolve_groups(path, rel, source.acl, source.groups if source.groups is not None else default_groups)
    except LoreError as exc:
        result.failed.append(FileFailure(key, str(exc)))
        return
    except OSError as exc:
        reason = "symlink loop" if exc.errno == 40 else "cannot stat"
        result.failed.append(FileFailure(key, f"{reason} ({exc.strerror}): fix or remove the file"))
        return
    display = f"{source.prefix}/{rel}" if source.prefix else rel
    result.files.append(SourceFile(path=key, source=display, root=str(source.root), size=st.st_size, mtime=st.st_mtime, groups=groups))
