"""The ingest run: scan → hash → (parse in workers → chunk → embed in batches) → replace chunks
crash-safely → delete what disappeared → report.

    report = Ingestor(settings).run(["docs/"], acl_map="acl.yaml")

Unchanged files (same content hash, groups and chunking settings) are never parsed again. Every
store change goes through the manifest's state machine (see ingest/manifest.py), so a run killed
at any point is repaired by the next one before it does anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.acl import AclMap
from ingest.chunking import Chunker
from ingest.embedding import apply_embed_dtype
from ingest.blocks import Limits, ParsedDocument
from ingest.loaders import parse_file
from ingest.lock import IngestLock
from ingest.manifest import DocumentRecord, DocumentRow, Manifest
from ingest.notes import DocumentNote, DocumentNotes
from ingest.source_config import load_source_config
from ingest.sources import Source, doc_id_for, scan, sources_from_paths
from ingest.source_status import owns, record_source_runs
from ingest.workers import ParseFn, ParserPool, ParseResult
from retrieval.errors import IngestError, LoreError
from retrieval.index import Index
from retrieval.names import document_name
from retrieval.schema import Chunk, FileFailure, IngestReport, SourceFile
from retrieval.settings import Settings

# Bump when parsing changes the blocks a file turns into (6: OCR, LibreOffice, no empty documents; 7: a split
# table repeats its unit row; 8: a chunk is named after the section its text starts in; 9-12: table column
# headings after a lead-in sentence and per change-column group, row labels named with their sub-heading,
# wrapped labels joined — ingest/layout.py). Chunking has its
# own version (`Chunker.VERSION`); both, the chunking settings and the embedder make the fingerprint.
PARSER_VERSION = "13"
TRANSIENT = ("timeout:", "parser crashed", "permission denied")  # not remembered as the file's verdict
# Failures that installing a tool or changing a setting cures: not remembered either, so the next run reads the file.
SETUP_DEPENDENT = ("needs LibreOffice", "OCR is off", "OCR needs Tesseract", "is not installed", "Tesseract does not run")


@dataclass
class _Pending:
    """A parsed file whose chunks wait for the next embedding batch."""

    file: SourceFile
    doc: DocumentRecord
    chunks: list[Chunk]
    old: DocumentRow | None
    name: str
    note: DocumentNote | None = None


class Ingestor:
    def __init__(self, settings: Settings, index: Index | None = None, embedder: Any = None, *, parse: ParseFn | None = None,
                 in_process: bool = False):  # fmt: skip
        from retrieval.embedders import make_embedder

        self.settings = settings
        self.config = settings.ingest
        self.index = index if index is not None else Index.open(settings)
        self.embedder = embedder if embedder is not None else make_embedder(settings)
        self.parse = parse or parse_file
        self.in_process = in_process
        self.limits = Limits.from_settings(self.config)
        self.chunker = Chunker(self.embedder.count_tokens, self.config.chunk_tokens, self.config.chunk_overlap)
        self._warming: threading.Thread | None = None
        self._warm_error: BaseException | None = None
        self._on_progress: Callable[[str, int, int | None], None] | None = None
        self._staging = settings.home / "staging"  # remote sources' downloads, removed after each run

    # -- entry points ------------------------------------------------------------------------------
    def run(self, paths: Sequence[str | Path], *, acl_map: Path | str | Mapping[str, Any] | None = None,
            delete_missing: bool = True, progress: bool = False) -> IngestReport:  # fmt: skip
        if not paths:
            raise IngestError("nothing to ingest: give files, folders or globs (or --source-config FILE)")
        if isinstance(acl_map, Mapping):
            acl = AclMap.from_mapping(acl_map)
        else:
            acl = AclMap.load(Path(acl_map)) if acl_map else AclMap()
        return self._run(sources_from_paths(paths, acl), tuple(self.config.default_groups), delete_missing, progress)

    def run_sources(self, config_file: Path | str, *, delete_missing: bool = True, progress: bool = False,
                    on_progress: Callable[[str, int, int | None], None] | None = None) -> IngestReport:  # fmt: skip
        """The named sources of a sources.yaml: folders, S3 buckets, web sites, IMAP mailboxes.
        `on_progress(source name, items done, total or None)`; the parsing stage reports as "parse"."""
        sources, default = load_source_config(Path(config_file))
        self._on_progress = on_progress
        return self._run([(s, None) for s in sources], default or tuple(self.config.default_groups), delete_missing, progress, named=True)

    # -- the run -----------------------------------------------------------------------------------
    def _run(self, sources: list[tuple[Any, Path | None]], default_groups: tuple[str, ...], delete_missing: bool, progress: bool,
             named: bool = False) -> IngestReport:  # fmt: skip
        started = time.perf_counter()
        run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        report = IngestReport(run_id=run_id)
        with IngestLock(self.settings.home / "ingest.lock"):
            manifest = Manifest(self.settings.state_db)
            self.notes = DocumentNotes(self.settings.state_db)
            self._log_path = self.settings.log_dir / f"ingest-{run_id}.jsonl"
            manifest.start_run(run_id)
            try:
                self._recover(manifest)
                found = scan([(s, p) for s, p in sources if isinstance(s, Source)], default_groups)
                if named:
                    self._folders_listed([s for s, _ in sources if isinstance(s, Source)], found)
                remote = [s for s, _ in sources if not isinstance(s, Source)]
                stats = self._collect_remote(manifest, remote, default_groups, found, progress) if remote else {}
                report.files = len(found.files)
                for failure in found.failed:
                    self._fail(report, failure.path, failure.error)
                for note in found.notes:
                    self._note(report, note.path, note.error)
                todo = self._classify(manifest, found.files, report)
                self._ingest(manifest, todo, report, run_id, progress)
                if delete_missing:
                    self._delete_missing(manifest, found, report)
                else:
                    for path in sorted(found.missing):
                        self._fail(report, path, "not found: check the path")
                if named:
                    record_source_runs(manifest, [s for s, _ in sources], found, stats, report, run_id)
                report.total_chunks = self.index.count()
                report.seconds = time.perf_counter() - started
                manifest.end_run(run_id, "ok", report.to_json())
                self._log({"event": "report", **report.to_json()})
            except BaseException as exc:
                manifest.end_run(run_id, "failed", {"error": f"{exc.__class__.__name__}: {exc}"})
                if isinstance(exc, LoreError) or not isinstance(exc, Exception):  # incl. KeyboardInterrupt, SystemExit
                    raise
                raise IngestError(f"ingest run failed ({exc.__class__.__name__}: {exc}): run it again; completed files are kept") from exc
            finally:
                shutil.rmtree(self._staging, ignore_errors=True)
                manifest.close()
                self.notes.close()
        return report

    def _folders_listed(self, folders: list[Source], found: Any) -> None:
        """Each named folder's listing, as progress: its files found (remote sources report while they list)."""
        if self._on_progress is None:
            return
        for folder in folders:
            listed = sum(1 for f in found.files if owns(folder, f.path))
            self._on_progress(folder.name, listed, listed)

    def _collect_remote(self, manifest: Manifest, sources: list[Any], default_groups: tuple[str, ...], found: Any, progress: bool) -> dict[str, Any]:
        """List S3 buckets, web sites and mailboxes; what changed is downloaded into the staging folder."""
        from ingest.remote import collect

        listed, stats = collect(sources, manifest, self.fingerprint(), self._staging, default_groups, self.config.max_file_mb,
                                bar=progress, on_progress=self._on_progress)  # fmt: skip
        found.files.extend(listed.files)
        found.failed.extend(listed.failed)
        found.scopes.extend(listed.scopes)
        found.missing |= listed.missing
        found.notes.extend(listed.notes)
        return stats

    def _recover(self, manifest: Manifest) -> None:
        """Finish or undo the store changes of a run that was killed."""
        for row in manifest.unfinished():
            if row.state == "writing":
                old = set(row.chunk_ids)
                new_only = [i for i in row.pending_ids if i not in old]
                self.index.delete(new_only)
                manifest.roll_back_write(row.doc_id, force_reparse=any(i in old for i in row.pending_ids))
            elif row.state == "cleanup":
                self.index.delete(row.pending_ids)
                manifest.finish(row.doc_id)
            elif row.state == "deleting":
                self.index.delete(row.chunk_ids, documents=[row.doc_id])
                self.notes.delete([row.doc_id])
                manifest.remove(row.doc_id)

    def fingerprint(self) -> str:
        """How a stored file's chunks were made: a file whose fingerprint differs is parsed and chunked again."""
        return f"parser {PARSER_VERSION}|{self.chunker.fingerprint}|{self.embedder.name}"

    def _classify(self, manifest: Manifest, files: list[SourceFile], report: IngestReport) -> list[tuple[SourceFile, DocumentRecord, DocumentRow | None]]:
        fingerprint = self.fingerprint()
        todo = []
        for file in files:
            if file.token and not file.local:  # a remote item its change token showed unchanged: nothing was downloaded
                row = manifest.get(doc_id_for(file.path))
                if row is not None and row.state == "failed":
                    self._fail(report, file.path, row.error)
                elif row is not None:
                    report.unchanged += 1
                    if row.source != file.source:
                        manifest.touch(row.doc_id, file.path, file.source, file.root, row.mtime)
                continue
            if file.size > self.config.max_file_mb * 2**20:
                self._fail(report, file.path, f"too large: {file.size / 2**20:.1f} MB > ingest.max_file_mb={self.config.max_file_mb:g}; raise the limit to ingest it")
                continue
            try:
                sha = file_sha256(file.local or file.path)
            except OSError as exc:
                self._fail(report, file.path, f"unreadable ({exc.strerror}): make the file readable by the ingest user")
                continue
            doc_id = doc_id_for(file.path)
            doc = DocumentRecord(doc_id, file.path, file.source, file.root, sha, file.size, file.mtime, tuple(file.groups), fingerprint,
                                 file.token)
            row = manifest.get(doc_id)
            if row is not None and row.sha256 == sha and row.fingerprint == fingerprint:
                if row.state == "failed":
                    self._fail(report, file.path, row.error)
                    if file.token and row.token != file.token:  # same bad content under a new change token
                        manifest.touch(doc_id, file.path, file.source, file.root, file.mtime, file.token)
                    continue
                if row.groups == file.groups:
                    report.unchanged += 1
                    if (row.source, row.mtime, row.token) != (file.source, file.mtime, file.token):
                        manifest.touch(doc_id, file.path, file.source, file.root, file.mtime, file.token)
                    continue
            todo.append((file, doc, row if row is not None and row.state != "failed" else None))
        todo.sort(key=lambda t: -t[0].size)  # biggest first: the workers finish together
        return todo

    def _ingest(self, manifest: Manifest, todo: list, report: IngestReport, run_id: str, progress: bool) -> None:
        if not todo:
            return
        # The embedder loads while the parser workers start (both take seconds); the first chunking
        # waits for its tokenizer, the first embedding for the whole model.
        warming = threading.Thread(target=self._warm_embedder, name="lore-embedder-warm-up", daemon=True)
        warming.start()
        self._warming = warming
        by_path = {(file.local or file.path): (file, doc, old) for file, doc, old in todo}  # remote items parse their download
        bar = _progress_bar(len(todo), progress)
        parsed = 0
        pending: list[_Pending] = []
        batch = self.config.embed_batch_size * 4
        try:
            for result in self._parse_all([f.local or f.path for f, _, _ in todo]):
                file, doc, old = by_path[result.path]
                bar.update(1)
                parsed += 1
                if self._on_progress is not None:
                    self._on_progress("parse", parsed, len(todo))
                if result.document is None:
                    self._fail(report, file.path, result.error)
                    if not result.error.startswith(TRANSIENT) and not any(s in result.error for s in SETUP_DEPENDENT):
                        manifest.record_failure(doc, result.error, run_id)
                        self.notes.delete([doc.doc_id])
                    continue
                chunks = self._chunks(file, doc, result.document, run_id)
                note = DocumentNote.of(file.path, file.source, result.document, self.config.ocr_low_confidence)
                for text in note.notes if note else ():
                    self._note(report, file.path, text)
                pending.append(_Pending(file, doc, chunks, old, _name(file, result.document), note))
                if sum(len(p.chunks) for p in pending) >= batch:
                    self._write(manifest, pending, report, run_id)
                    pending = []
            self._write(manifest, pending, report, run_id)
        finally:
            bar.close()

    def _warm_embedder(self) -> None:
        try:
            self.embedder.warm_up()
            apply_embed_dtype(self.embedder, self.config.embed_dtype)
        except BaseException as exc:  # raised again where the embedder is first needed
            self._warm_error = exc

    def _parse_all(self, paths: list[str]):
        if self.in_process:
            for path in paths:
                try:
                    yield ParseResult(path, self.parse(path, self.limits))
                except LoreError:
                    raise
                except Exception as exc:  # ParseFailure and parser crashes alike
                    yield ParseResult(path, None, str(exc))
            return
        workers = self.config.workers or os.cpu_count() or 1
        yield from ParserPool(workers, self.config.file_timeout_s, self.limits, self.parse).run(paths)

    def _chunks(self, file: SourceFile, doc: DocumentRecord, parsed: ParsedDocument, run_id: str) -> list[Chunk]:
        label = Path(file.source).stem
        drafts = self.chunker.chunk(parsed.blocks, label)
        confidence = {p.page: p.confidence for p in parsed.ocr_pages if p.confidence is not None}
        chunks = []
        for index, draft in enumerate(drafts):
            read = [confidence[p] for p in {draft.page, *(s[1] for s in draft.spans)} if p in confidence] if confidence else []
            chunk_id = hashlib.sha1(f"{doc.doc_id}\0{doc.sha256}\0{index}\0{draft.text}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
            chunks.append(Chunk(
                id=chunk_id, text=draft.text, source=file.source, doc_id=doc.doc_id, page=draft.page, section=draft.section,
                groups=file.groups, file_hash=doc.sha256, element_types=draft.element_types, chunk_index=index,
                path=file.path, modified=file.mtime, run_id=run_id, spans=draft.spans, ocr_confidence=min(read) if read else None,
            ))  # fmt: skip
        return chunks

    def _write(self, manifest: Manifest, pending: list[_Pending], report: IngestReport, run_id: str) -> None:
        """Embed a batch of files' chunks at once, then swap each file's chunks in the store."""
        if not pending:
            return
        if self._warming is not None:
            self._warming.join()
            self._warming = None
            if self._warm_error is not None:
                raise self._warm_error
        texts = [c.text for p in pending for c in p.chunks]
        vectors = self.embedder.embed_documents(texts) if texts else []
        offset = 0
        for item in pending:
            embeddings = vectors[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
            new_ids = [c.id for c in item.chunks]
            old_ids = list(item.old.chunk_ids) if item.old else []
            self.notes.put(item.doc.doc_id, item.note, run_id)  # before the write: a killed write re-parses and replaces it
            manifest.begin_write(item.doc, new_ids, run_id)
            self.index.upsert(item.chunks, embeddings, names={item.doc.doc_id: item.name})
            keep = set(new_ids)
            stale = [i for i in old_ids if i not in keep]
            manifest.commit_write(item.doc, new_ids, stale, run_id)
            if stale:
                self.index.delete(stale)
                manifest.finish(item.doc.doc_id)
            report.chunks += len(item.chunks)
            if item.old is None:
                report.added += 1
            else:
                report.updated += 1

    def _delete_missing(self, manifest: Manifest, found: Any, report: IngestReport) -> None:
        """Remove documents that a complete listing no longer shows (a file that merely failed to
        stat or parse is still there, and keeps its chunks)."""
        present = {f.path for f in found.files} | {f.path for f in found.failed}
        known = set()
        for row in list(manifest.rows()):
            known.add(row.path)
            if row.path in present:
                continue
            if not (row.path in found.missing or any(s.covers(row.path) for s in found.scopes)):
                continue
            manifest.begin_delete(row.doc_id)
            self.index.delete(row.chunk_ids, documents=[row.doc_id])
            self.notes.delete([row.doc_id])
            manifest.remove(row.doc_id)
            if row.state != "failed":
                report.deleted += 1
        for path in sorted(found.missing - known):
            self._fail(report, path, "not found: check the path")

    def _fail(self, report: IngestReport, path: str, error: str) -> None:
        error = " ".join(error.split())
        report.failed.append(FileFailure(path, error))
        self._log({"event": "failed", "path": path, "error": error})

    def _note(self, report: IngestReport, path: str, note: str) -> None:
        """A document that was ingested but that the user should know about (little text, pages not read)."""
        report.notes.append(FileFailure(path, note))
        self._log({"event": "note", "path": path, "note": note})

    def _log(self, record: dict[str, Any]) -> None:
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}, ensure_ascii=False) + "\n")


def _name(file: SourceFile, parsed: ParsedDocument) -> str:
    """The document's name for retrieval/names.py: file name, title and the short lines (at most
    ten words) among the first blocks of its first page, where cover pages say what a document is."""
    first_page = next((b.page for b in parsed.blocks if b.page is not None), None)
    lines = [
        b.text for b in parsed.blocks[:40]
        if b.page == first_page and b.kind in ("Title", "Text") and 0 < len(b.text.split()) <= 10
    ]  # fmt: skip
    return document_name(file.source, parsed.title, lines)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="ingest", unit="file", file=sys.stderr, disable=not enabled or None, leave=False)
