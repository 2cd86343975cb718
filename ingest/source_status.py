"""The last run of each named source (sources.yaml), as `lore status` and the admin page show it:
when it ran, whether it could be listed, how many items it had, which failed and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ingest.manifest import Manifest
from retrieval.schema import IngestReport


def source_kind(source: Any) -> str:
    return getattr(source, "kind", "") or "folder"


def source_location(source: Any) -> str:
    location = getattr(source, "location", None)
    return str(location) if location is not None else str(source.root)


def owns(source: Any, path: str) -> bool:
    """Does a path (a file, an item's URI or a source-level failure) belong to this source?"""
    if path == source_location(source):
        return True
    match source_kind(source):
        case "folder":
            root = str(source.root).rstrip("/")
            return path == root or path.startswith(root + "/")
        case "s3":
            return path.startswith(f"s3://{source.bucket}/{source.prefix}")
        case "web":
            return path.startswith(("http://", "https://")) and urlsplit(path).netloc in source.sites
        case "imap":
            try:
                parts = urlsplit(path)
                return parts.scheme == "imap" and parts.hostname == source.host.lower() and parts.port == source.port
            except ValueError:
                return False
    return False


def record_source_runs(manifest: Manifest, sources: Sequence[Any], found: Any, stats: dict[str, Any], report: IngestReport, run_id: str) -> None:
    """One row per named source: `ok`; `partial` (items or parts failed); `failed` (it could not be
    listed at all, so nothing of it was deleted). Sources no longer in the file are forgotten."""
    manifest.forget_sources([s.name for s in sources])
    for source in sources:
        failures = [{"path": f.path, "error": f.error} for f in report.failed if owns(source, f.path)]
        counts: dict[str, int] = {"files": sum(1 for f in found.files if owns(source, f.path)), "failed": len(failures)}
        stat = stats.get(source.name)
        if stat is not None:
            counts.update(downloaded=stat.downloaded, unchanged_by_token=stat.unchanged, skipped=stat.skipped)
            listed = stat.complete or not stat.error
        else:  # a folder: its root was missing or not a folder
            listed = not any(f["path"] == str(source.root) and f["error"].startswith("source root") for f in failures)
        status = "failed" if not listed else ("partial" if failures else "ok")
        manifest.record_source_run(source.name, source_kind(source), source_location(source), run_id, status, counts, failures)
