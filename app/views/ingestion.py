"""Admin: what is ingested (documents, chunks, the last run with its failures), re-run a source, and
upload documents into a source with the groups that may read them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st

from app.auth import UsersFile
from app.views import common, uploads
from retrieval.errors import InputError, LoreError
from retrieval.schema import IngestReport
from retrieval.settings import Settings

NEW_SOURCE = "New source…"


def run_ingest(settings: Settings, paths: list[Path]) -> IngestReport:
    """Ingest with the app's own store, embedder and lexical index (models stay loaded once)."""
    from ingest.pipeline import Ingestor

    assistant = common.assistant(settings)
    ingestor = Ingestor(settings, assistant.index, assistant.embedder, in_process=True)
    return ingestor.run(paths, delete_missing=False)


def show_report(report: IngestReport) -> None:
    doc = report.to_json()
    cols = st.columns(5)
    for col, key in zip(cols, ("added", "updated", "unchanged", "deleted", "chunks")):
        col.metric(key.capitalize(), doc.get(key, 0))
    if doc["failed"]:
        st.error(f"{len(doc['failed'])} file(s) failed:")
        st.dataframe(doc["failed"], hide_index=True, width="stretch")
    if report.notes:
        st.warning(f"{len(report.notes)} file(s) ingested with a note:")
        st.dataframe([{"path": n.path, "note": n.error} for n in report.notes], hide_index=True, width="stretch")


def recent_runs(manifest, limit: int = 10) -> list[dict]:
    """The last runs with their counts (the manifest's run table, read only)."""
    rows = manifest.db.execute("SELECT * FROM runs ORDER BY started DESC LIMIT ?", (limit,)).fetchall()
    table = []
    for row in rows:
        report = json.loads(row["report"] or "{}")
        table.append(
            {
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started"])),
                "status": row["status"],
                **{k: report.get(k) for k in ("added", "updated", "unchanged", "deleted")},
                "failed": len(report.get("failed") or []),
                "chunks": report.get("chunks"),
                "seconds": report.get("seconds"),
            }
        )
    return table


def overview(settings: Settings) -> None:
    from ingest.manifest import Manifest

    manifest = Manifest(settings.state_db)
    summary = manifest.summary()
    try:
        chunks: int | str = common.assistant(settings).store.count()
    except LoreError:
        chunks = "?"
    cols = st.columns(3)
    cols[0].metric("Documents", summary.get("documents", 0))
    cols[1].metric("Chunks", chunks)
    cols[2].metric("Failed documents", summary.get("failed_documents", 0))
    st.subheader("Recent runs")
    last = summary.get("last_ingest")
    if not last:
        st.info("Nothing ingested yet: run `lore ingest PATH` or upload documents below.")
        return
    st.dataframe(recent_runs(manifest), hide_index=True, width="stretch")
    failed = (last.get("report") or {}).get("failed") or []
    if failed:
        with st.expander(f"Last run: {len(failed)} failure(s)", icon=":material/error:", expanded=True):
            st.dataframe(failed, hide_index=True, width="stretch")
    document_notes(settings, manifest)


def document_notes(settings: Settings, manifest) -> None:
    """Documents without text (failed with the reason), ingested ones with a note, and OCR'd pages
    whose confidence is low: what a user would otherwise believe is searchable."""
    from ingest.notes import notes_summary

    failures = [{"path": r.path, "reason": r.error} for r in manifest.rows() if r.state == "failed"]
    noted = notes_summary(settings.state_db)
    ocr = noted["ocr"]
    if failures:
        with st.expander(f"Documents not searchable: {len(failures)}", icon=":material/block:"):
            st.dataframe(failures, hide_index=True, width="stretch")
    if noted["notes"]:
        with st.expander(f"Documents with notes: {len(noted['notes'])}", icon=":material/warning:"):
            st.dataframe(noted["notes"], hide_index=True, width="stretch")
    if ocr["pages"]:
        st.caption(f"OCR: {ocr['pages']} page(s) in {ocr['documents']} document(s); below {settings.ingest.ocr_low_confidence:g} % confidence: "
                   f"{len(ocr['low_confidence'])} document(s).")  # fmt: skip
    if ocr["low_confidence"]:
        with st.expander(f"Low OCR confidence: {len(ocr['low_confidence'])} document(s)", icon=":material/visibility_off:", expanded=True):
            st.dataframe([{"path": d["path"], "pages": ", ".join(map(str, d["pages"])), "confidence": d["confidence"]} for d in ocr["low_confidence"]],
                         hide_index=True, width="stretch")  # fmt: skip


def configured_sources(settings: Settings) -> None:
    """Named sources from `LORE_HOME/sources.yaml` (the same file `lore ingest --source-config` reads):
    folders, S3 buckets, web sites and mailboxes, each with its last run; a run shows progress per source."""
    from ingest.source_config import load_source_config

    path = sources_file(settings)
    if not path.is_file():
        return
    st.subheader("Configured sources")
    try:
        sources, _default = load_source_config(path)
    except LoreError as exc:
        common.show_error(exc)
        return
    st.dataframe(source_table(settings, sources), hide_index=True, width="stretch")
    for run in last_source_runs(settings):
        if run["failures"]:
            with st.expander(f"{run['name']}: {len(run['failures'])} failure(s) in the last run", icon=":material/error:"):
                st.dataframe(run["failures"], hide_index=True, width="stretch")
    if st.button("Run all configured sources now", icon=":material/sync:", key="run_sources"):
        from ingest.pipeline import Ingestor

        assistant = common.assistant(settings)
        ingestor = Ingestor(settings, assistant.index, assistant.embedder)
        bars = {s.name: st.progress(0.0, text=f"{s.name}: waiting") for s in sources}
        bars["parse"] = st.progress(0.0, text="parsing and embedding: waiting")

        def on_progress(name: str, done: int, total: int | None) -> None:
            bar = bars.get(name)
            if bar is None:
                return
            label = "parsing and embedding" if name == "parse" else name
            if total:
                bar.progress(min(1.0, done / total), text=f"{label}: {done} of {total}")
            else:  # a listing: how many items so far
                bar.progress(0.5, text=f"{label}: {done} item(s) listed")

        with st.spinner("Ingesting the configured sources…"):
            report = ingestor.run_sources(path, delete_missing=True, on_progress=on_progress)
        for name, bar in bars.items():
            bar.progress(1.0, text=f"{'parsing and embedding' if name == 'parse' else name}: done")
        show_report(report)


def last_source_runs(settings: Settings) -> list[dict]:
    from ingest.manifest import Manifest

    if not settings.state_db.exists():
        return []
    manifest = Manifest(settings.state_db)
    try:
        return manifest.source_runs()
    finally:
        manifest.close()


def source_table(settings: Settings, sources: list) -> list[dict]:
    """One row per configured source: what and where it is, its groups, and its last run."""
    runs = {r["name"]: r for r in last_source_runs(settings)}
    rows = []
    for source in sources:
        run = runs.get(source.name, {})
        rows.append({"source": source.name, "kind": source.kind, "location": source.location, "groups": ", ".join(source.groups or ()),
                     "last run": run.get("finished", "never"), "status": run.get("status", ""), "items": run.get("files"),
                     "failed": run.get("failed")})  # fmt: skip
    return rows


def sources_file(settings: Settings) -> Path:
    return settings.home / "sources.yaml"


def known_groups(settings: Settings) -> list[str]:
    groups = list(settings.ingest.default_groups)
    try:
        for record in UsersFile(settings.users_path).load().values():
            groups.extend(record.groups)
    except LoreError:
        pass
    return sorted(dict.fromkeys(groups))


def sources_section(settings: Settings) -> None:
    st.subheader("Upload sources")
    names = uploads.upload_sources(settings)
    if not names:
        st.caption("No uploaded documents yet.")
        return
    rows = []
    for name in names:
        folder = uploads.uploads_root(settings) / name
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and not p.name.endswith(uploads.SIDECAR_SUFFIX)]
        rows.append({"source": name, "files": len(files), "folder": str(folder)})
    st.dataframe(rows, hide_index=True, width="stretch")
    with st.form("rerun"):
        source = st.selectbox("Source", names)
        if st.form_submit_button("Run ingestion now", icon=":material/sync:"):
            with st.spinner(f"Ingesting {source}…"):
                report = run_ingest(settings, [uploads.uploads_root(settings) / source])
            st.success(f"Ingested {source}.")
            show_report(report)


def upload_section(settings: Settings) -> None:
    st.subheader("Upload documents")
    st.caption(
        f"Accepted: {', '.join(settings.app.upload_types)} · at most {settings.app.upload_max_mb:g} MB per file. "
        "Files are saved under a safe name and ingested at once."
    )
    existing = uploads.upload_sources(settings)
    with st.form("upload", clear_on_submit=True):
        choice = st.selectbox("Source", [*existing, NEW_SOURCE], key="upload_source")
        new_name = st.text_input("New source name", key="upload_new_source", help="Only used with “New source…”")
        groups = st.multiselect(
            "Groups that may read these documents",
            known_groups(settings),
            default=list(settings.ingest.default_groups),
            accept_new_options=True,
            key="upload_groups",
        )
        # No `type=` filter here: Streamlit would refuse a bad type with an exception; the app's own
        # check below names each rejected file and the reason.
        files = st.file_uploader(
            "Documents",
            accept_multiple_files=True,
            key="upload_files",
        )
        submitted = st.form_submit_button("Upload and ingest", type="primary", icon=":material/upload:")
    if submitted:
        handle_upload(settings, new_name if choice == NEW_SOURCE else choice, groups, files or [])


def handle_upload(settings: Settings, source: str, groups: list[str], files: list) -> None:
    from app.auth import parse_groups

    try:
        source = uploads.check_source_name(source)
        chosen = parse_groups(groups)
    except InputError as exc:
        common.show_error(exc)
        return
    if not chosen:
        st.error("Choose at least one group: documents without a group can be read by nobody.")
        return
    if not files:
        st.warning("Choose one or more files to upload.")
        return
    saved: list[Path] = []
    for file in files:
        name = uploads.safe_file_name(file.name)
        data = file.getvalue()
        reason = uploads.check_upload(name, data, settings)
        if reason:
            st.error(f"{file.name}: rejected: {reason}")
            continue
        saved.append(uploads.save_upload(settings, source, name, data, chosen))
    if not saved:
        return
    st.success(f"Saved {len(saved)} file(s) into {source}: {', '.join(p.name for p in saved)}")
    with st.spinner("Ingesting the uploaded files…"):
        report = run_ingest(settings, saved)
    show_report(report)


def main() -> None:
    common.require_admin()
    settings = common.settings()
    st.title("Ingestion")
    overview(settings)
    st.divider()
    upload_section(settings)
    st.divider()
    sources_section(settings)
    configured_sources(settings)


main()
