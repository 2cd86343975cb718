"""`lore ingest PATH...` (or `--source-config sources.yaml`) and `lore status`."""

from __future__ import annotations

from app.cli import Context
from retrieval.errors import InputError


def register(sub, common) -> None:
    ingest = sub.add_parser("ingest", parents=[common], help="parse, chunk, embed and store documents (incremental)")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="files, folders or globs (quote globs)")
    ingest.add_argument("--collection", metavar="C", help="Chroma collection (overrides store.collection)")
    ingest.add_argument("--acl-map", metavar="FILE", help="YAML: ordered glob → list of groups, first match wins")
    ingest.add_argument("--source-config", metavar="FILE", help="sources.yaml: named roots with include/exclude globs and ACLs")
    ingest.add_argument("--no-delete", action="store_true", help="keep documents that disappeared from a root")
    ingest.add_argument("--workers", type=int, metavar="N", help="parser processes (overrides ingest.workers)")
    ingest.set_defaults(func=run_ingest, overrides=lambda a: {"store.collection": a.collection, "ingest.workers": a.workers})

    status = sub.add_parser("status", parents=[common], help="documents, chunks, last ingest and models")
    status.add_argument("--collection", metavar="C", help="Chroma collection (overrides store.collection)")
    status.set_defaults(func=show_status, overrides=lambda a: {"store.collection": a.collection})


def run_ingest(ctx: Context) -> int:
    from ingest.pipeline import Ingestor

    args = ctx.args
    if args.source_config and args.paths:
        raise InputError("give either PATH... or --source-config FILE, not both")
    if not args.source_config and not args.paths:
        raise InputError("nothing to ingest: give files, folders or globs, or --source-config FILE")
    if args.source_config and args.acl_map:
        raise InputError("--acl-map applies to PATH arguments; put ACL rules in the source config instead")
    _quiet_model_loading()
    ingestor = Ingestor(ctx.settings)
    if args.source_config:
        report = ingestor.run_sources(args.source_config, delete_missing=not args.no_delete, progress=True)
    else:
        report = ingestor.run(args.paths, acl_map=args.acl_map, delete_missing=not args.no_delete, progress=True)
    doc = report.to_json()
    lines = [
        f"{report.files} files: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.deleted} deleted, {len(report.failed)} failed; {report.chunks} chunks written, "
        f"{report.total_chunks} in the store ({report.seconds:.1f} s)"
    ]
    lines += [f"  failed: {f.path}: {f.error}" for f in report.failed]
    lines += [f"  note: {n.path}: {n.error}" for n in report.notes]
    ctx.emit(doc, "\n".join(lines))
    return 0


def show_status(ctx: Context) -> int:
    from ingest.manifest import Manifest
    from ingest.notes import notes_summary
    from retrieval.models import list_models
    from retrieval.store import make_store

    settings = ctx.settings
    summary = {"documents": 0, "failed_documents": 0, "last_ingest": None}
    failures: list[dict] = []
    sources: list[dict] = []
    if settings.state_db.exists():
        manifest = Manifest(settings.state_db)
        try:
            summary = manifest.summary()
            failures = [{"path": r.path, "error": r.error} for r in manifest.rows() if r.state == "failed"]
            sources = manifest.source_runs()
        finally:
            manifest.close()
    noted = notes_summary(settings.state_db)
    chunks = make_store(settings).count() if settings.store.kind == "http" or settings.store_dir.exists() else 0
    doc = {"documents": summary["documents"], "chunks": chunks, "last_ingest": summary["last_ingest"], "models": list_models(settings),
           "collection": settings.store.collection, "failed_documents": summary["failed_documents"],
           "failures": failures, "notes": noted["notes"], "ocr": noted["ocr"], "sources": sources}  # fmt: skip
    last = summary["last_ingest"]
    ocr = noted["ocr"]
    text = [
        f"collection {settings.store.collection}: {doc['documents']} documents, {chunks} chunks",
        f"last ingest: {last['finished']} ({last['status']})" if last else "last ingest: never",
        f"generator: {doc['models']['generator']['kind']} {doc['models']['generator']['model']}",
        f"embedder:  {doc['models']['embedder']['kind']} {doc['models']['embedder']['model']}",
    ]
    if ocr["pages"]:
        text.append(f"OCR: {ocr['pages']} pages in {ocr['documents']} documents, {len(ocr['low_confidence'])} with low-confidence pages")
    text += [f"  low OCR confidence: {d['path']}: pages {', '.join(map(str, d['pages']))} (confidence {d['confidence']:.0f})" for d in ocr["low_confidence"]]
    for source in sources:  # the named sources of sources.yaml, each with its last run
        text.append(f"source {source['name']} ({source['kind']} {source['location']}): last run {source['finished']}, {source['status']}, "
                    f"{source['files']} items, {source['failed']} failed")  # fmt: skip
        text += [f"    {f['path']}: {f['error']}" for f in source["failures"][:10]]
    text += [f"  failed: {f['path']}: {f['error']}" for f in failures]
    text += [f"  note: {n['path']}: {n['note']}" for n in noted["notes"]]
    ctx.emit(doc, "\n".join(text))
    return 0


def _quiet_model_loading() -> None:
    """The ingest progress bar is the only one on stderr (no weight-loading bars, no tokenizer
    length warnings: chunk sizes are measured on purpose, untruncated)."""
    import logging

    # Progress bars and verbosity are also set through the environment (retrieval/offline.py), so
    # transformers is not imported here: an unchanged re-ingest never loads it.
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
