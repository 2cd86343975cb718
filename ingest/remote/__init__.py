"""Sources beyond a folder: S3-compatible object storage (`s3`), a web site or intranet (`web`) and an
IMAP mailbox (`imap`), named in `sources.yaml` with `kind:`.

Each source lists its items, compares each item's change token (ETag and LastModified, HTTP
validators, UIDVALIDITY:UID) with the one the manifest committed for that document, and downloads
only what changed, into a staging folder in `LORE_HOME` under the item's own file name: the
pipeline then hashes, parses (worker processes, deadlines, every format guard), chunks and writes
these files exactly as it does files from a folder. A document's path is the item's URI
(`s3://bucket/key`, `https://host/page`, `imap://user@host:993/INBOX/<uidvalidity>/<uid>`).

A source that could not be listed completely vouches for nothing (no `RemoteScope`), so an
unreachable endpoint, refused credentials or a missing bucket never deletes what was ingested from
it; a complete listing deletes the documents it no longer shows.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ingest.manifest import Manifest
from ingest.remote.base import (  # the kinds' shared parts, also importable from the package
    COMMON_KEYS,
    KINDS,
    NOTHING_DELETED,
    Collection,
    DownloadError,
    Progress,
    RemoteScope,
    RemoteSource,
    SourceStats,
    SourceUnavailable,
    safe_file_name,
    too_large,
    write_capped,
)
from ingest.sources import ScanResult
from retrieval.errors import ConfigError, LoreError

__all__ = ["COMMON_KEYS", "KINDS", "NOTHING_DELETED", "Collection", "DownloadError", "Progress", "RemoteScope", "RemoteSource",
           "SourceStats", "SourceUnavailable", "collect", "parse_remote", "safe_file_name", "too_large", "write_capped"]


def collect(sources: Sequence[RemoteSource], manifest: Manifest, fingerprint: str, staging: Path, default_groups: Sequence[str],
            max_file_mb: float, *, bar: bool = False, on_progress: Progress | None = None) -> tuple[ScanResult, dict[str, SourceStats]]:  # fmt: skip
    """List (and download what changed of) every remote source; one source's failure never stops the others."""
    merged = ScanResult()
    stats: dict[str, SourceStats] = {}
    shutil.rmtree(staging, ignore_errors=True)  # a killed run's downloads
    for source in sources:
        done = [0]
        tqdm_bar = _bar(source.name, bar)

        def progress(n: int, name: str = source.name, counter: list[int] = done, shown: Any = tqdm_bar) -> None:
            counter[0] += n
            shown.update(n)
            if on_progress is not None:
                on_progress(name, counter[0], None)

        ctx = Collection(source, manifest, fingerprint, staging / _slug(source.name), default_groups, max_file_mb, progress)
        try:
            source.collect(ctx)
        except SourceUnavailable as exc:
            ctx.fail_source(f"{exc} {NOTHING_DELETED}")
        except LoreError as exc:  # a missing secret, a bad option only visible now
            ctx.fail_source(f"source {source.name!r}: {exc} {NOTHING_DELETED}")
        finally:
            tqdm_bar.close()
        if not ctx.stats.complete:
            ctx.result.scopes.clear()
        merged.files.extend(ctx.result.files)
        merged.failed.extend(ctx.result.failed)
        merged.scopes.extend(ctx.result.scopes)
        merged.missing |= ctx.result.missing
        stats[source.name] = ctx.stats
        if on_progress is not None:
            on_progress(source.name, done[0], done[0])
    return merged, stats


def _slug(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:12]


def _bar(name: str, enabled: bool) -> Any:
    import sys

    from tqdm import tqdm

    return tqdm(desc=name, unit="item", file=sys.stderr, disable=not enabled or None, leave=False)


def parse_remote(kind: str, spec: Mapping[str, Any], base: Path, where: str) -> RemoteSource:
    """The one factory: the kind's module is imported only when a source of that kind is configured."""
    match kind:
        case "s3":
            from ingest.remote.s3 import S3Source

            return S3Source.from_spec(spec, base, where)
        case "web":
            from ingest.remote.web import WebSource

            return WebSource.from_spec(spec, base, where)
        case "imap":
            from ingest.remote.imap import ImapSource

            return ImapSource.from_spec(spec, base, where)
    raise ConfigError(f"{where}: source {spec.get('name')!r} has unknown kind {kind!r}: use one of {', '.join(KINDS)}")
