"""`lore backup DEST` and `lore restore SRC [--force]` (see app/backup.py and docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path

from app.cli import Context


def register(sub, common) -> None:
    backup = sub.add_parser("backup", parents=[common], help="write a consistent snapshot of LORE_HOME (safe while services run)")
    backup.add_argument("dest", metavar="DEST", help="a new or empty directory outside LORE_HOME")
    backup.add_argument("--lock-wait", type=float, default=600.0, metavar="S", help="seconds to wait for a running ingest to finish (default 600)")
    backup.set_defaults(func=run_backup)
    restore = sub.add_parser("restore", parents=[common], help="restore a backup into LORE_HOME (stop the services first)")
    restore.add_argument("src", metavar="SRC", help="a directory written by `lore backup`")
    restore.add_argument("--force", action="store_true", help="replace a LORE_HOME that is not empty")
    restore.set_defaults(func=run_restore)


def run_backup(ctx: Context) -> int:
    from app.backup import create_backup

    manifest = create_backup(ctx.settings, Path(ctx.args.dest), lock_wait_s=ctx.args.lock_wait)
    counts = manifest["counts"]
    doc = {"path": str(Path(ctx.args.dest).expanduser().resolve()), "files": len(manifest["files"]),
           "bytes": sum(f["bytes"] for f in manifest["files"].values()), "chunks": manifest["store"]["chunks"],
           "counts": counts, "seconds": manifest["seconds"]}
    ctx.emit(doc, f"backup written to {doc['path']}: {doc['files']} files, {doc['bytes'] / 2**20:.1f} MiB, "
                  f"{doc['chunks']} chunks, {counts['documents'] or 0} documents, {counts['interactions'] or 0} interactions")
    return 0


def run_restore(ctx: Context) -> int:
    from app.backup import restore_backup

    report = restore_backup(ctx.settings, Path(ctx.args.src), force=ctx.args.force)
    counts = report["counts"]
    ctx.emit(report, f"restored {ctx.args.src} into {report['restored']}: {counts['chunks']} chunks, "
                     f"{counts['documents'] or 0} documents, {counts['interactions'] or 0} interactions (verified)")
    return 0
