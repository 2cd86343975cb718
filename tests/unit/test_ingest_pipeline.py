"""The ingest pipeline with fakes: an in-memory store, the hash embedder, in-process parsing of
plain text. Incremental cases with exact counts, crash recovery, the lock, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.blocks import Block, Limits, ParsedDocument, ParseFailure
from ingest.loaders import check_file
from ingest.lock import IngestLock
from ingest.manifest import Manifest
from ingest.pipeline import Ingestor
from retrieval.embedders import HashEmbedder
from retrieval.errors import LockedError
from retrieval.index import Index
from retrieval.lexical import LexicalIndex
from retrieval.names import DocumentNames
from retrieval.testing import MemoryStore

pytestmark = pytest.mark.unit


def readable(store: MemoryStore, group: str) -> int:
    """How many stored chunks `group` may read (the store's own group filter)."""
    return len(store.query([1.0] * 64, store.count() + 1, [group]))


def parse_text(path: str, limits: Limits) -> ParsedDocument:
    """Paragraphs of a .txt file; a line `# x` is a title; 'BROKEN' in the text fails."""
    check_file(Path(path), limits)
    text = Path(path).read_text()
    if "BROKEN" in text:
        raise ParseFailure("corrupt: test file marked broken")
    blocks = [Block("Title", p[2:], 1) if p.startswith("# ") else Block("NarrativeText", p, 1) for p in text.split("\n\n") if p.strip()]
    return ParsedDocument(tuple(blocks))


@pytest.fixture
def env(test_settings, tmp_path):
    settings = test_settings.model_copy(update={"ingest": test_settings.ingest.model_copy(update={"chunk_tokens": 64, "chunk_overlap": 0})})
    store, lexical = MemoryStore(), LexicalIndex(settings.lexical_db)
    docs = tmp_path / "docs"
    docs.mkdir()

    def ingest(*paths, **kwargs):
        ingestor = Ingestor(settings, Index(store, lexical), HashEmbedder(64), parse=parse_text, in_process=True)
        return ingestor.run(list(paths) or [docs], **kwargs)

    return settings, store, lexical, docs, ingest


def write(path: Path, paragraphs: int, word: str = "alpha") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Heading\n\n" + "\n\n".join(f"{word} paragraph {i} " + "filler " * 20 for i in range(paragraphs)))


def consistent(store, lexical, settings) -> int:
    rows = list(Manifest(settings.state_db).rows())
    manifest_ids = {i for r in rows for i in r.chunk_ids}
    assert all(r.state in ("ok", "failed") for r in rows)
    assert set(store.items) == manifest_ids
    assert lexical.count() == store.count()
    assert DocumentNames(lexical.path).doc_ids() == {r.doc_id for r in rows if r.state == "ok"}
    return store.count()


def test_incremental_add_unchanged_modify_rename_delete(env):
    settings, store, lexical, docs, ingest = env
    write(docs / "a.txt", 3)
    write(docs / "sub" / "b.txt", 2)
    first = ingest()
    assert (first.added, first.updated, first.unchanged, first.deleted, first.failed) == (2, 0, 0, 0, [])
    total = consistent(store, lexical, settings)
    assert first.chunks == total == first.total_chunks == 5  # one chunk per paragraph at 40 tokens
    a_doc = next(r.doc_id for r in Manifest(settings.state_db).rows() if r.path.endswith("a.txt"))
    assert DocumentNames(lexical.path).get(a_doc) == "a | Heading"  # file name, then the first-page title

    again = ingest()
    assert (again.added, again.updated, again.unchanged, again.chunks, again.total_chunks) == (0, 0, 2, 0, total)

    write(docs / "a.txt", 5, word="beta")
    modified = ingest()
    assert (modified.added, modified.updated, modified.unchanged) == (0, 1, 1)
    assert consistent(store, lexical, settings) == 7
    assert not any("alpha paragraph" in c.text for c, _ in store.items.values() if c.source == "a.txt")

    (docs / "sub" / "b.txt").rename(docs / "sub" / "c.txt")
    renamed = ingest()
    assert (renamed.added, renamed.deleted, renamed.unchanged) == (1, 1, 1)
    assert {c.source for c, _ in store.items.values()} == {"a.txt", "sub/c.txt"}
    assert consistent(store, lexical, settings) == 7

    (docs / "a.txt").unlink()
    kept = ingest(delete_missing=False)
    assert kept.deleted == 0 and consistent(store, lexical, settings) == 7
    deleted = ingest()
    assert deleted.deleted == 1 and consistent(store, lexical, settings) == 2


def test_acl_groups_are_on_every_chunk_and_change_triggers_rewrite(env):
    settings, store, lexical, docs, ingest = env
    write(docs / "finance" / "q1.txt", 2)
    write(docs / "open.txt", 1)
    ingest(acl_map={"finance/**": ["finance"], "**": ["all-staff"]})
    assert readable(store, "finance") == 2
    assert readable(store, "all-staff") == 1
    report = ingest(acl_map={"**": ["all-staff"]})
    assert (report.updated, report.unchanged) == (1, 1)
    assert readable(store, "all-staff") == 3 and consistent(store, lexical, settings) == 3


def test_a_bad_file_fails_alone_and_keeps_its_old_chunks(env):
    settings, store, lexical, docs, ingest = env
    write(docs / "a.txt", 2)
    write(docs / "b.txt", 2)
    ingest()
    (docs / "a.txt").write_text("BROKEN now")
    (docs / "empty.txt").write_text("")
    report = ingest()
    reasons = {Path(f.path).name: f.error for f in report.failed}
    assert reasons == {"a.txt": "corrupt: test file marked broken", "empty.txt": "empty file: nothing to ingest"}
    assert report.unchanged == 1 and consistent(store, lexical, settings) == 4  # a.txt's old chunks stay
    log = "".join(p.read_text() for p in settings.log_dir.glob("ingest-*.jsonl"))
    assert "corrupt" in log


def test_named_folder_sources_report_their_progress(env, tmp_path):
    """Every named folder source reports its listing (the admin page's bar per source), then parsing."""
    settings, store, lexical, docs, _ = env
    write(docs / "handbook" / "a.txt", 1)
    write(docs / "handbook" / "b.txt", 1)
    write(docs / "finance" / "q1.txt", 1)
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - name: handbook\n    root: {docs / 'handbook'}\n  - name: finance\n    root: {docs / 'finance'}\n"
                      f"  - name: empty\n    root: {tmp_path / 'nowhere'}\n")  # fmt: skip
    calls: list[tuple[str, int, int | None]] = []
    ingestor = Ingestor(settings, Index(store, lexical), HashEmbedder(64), parse=parse_text, in_process=True)
    report = ingestor.run_sources(config, on_progress=lambda name, done, total: calls.append((name, done, total)))
    assert report.added == 3
    listed = [c for c in calls if c[0] != "parse"]
    assert listed == [("handbook", 2, 2), ("finance", 1, 1), ("empty", 0, 0)]
    assert calls.index(listed[-1]) < calls.index(("parse", 1, 3)) and calls[-1] == ("parse", 3, 3)


def test_crash_mid_write_is_repaired_by_the_next_run(env):
    settings, store, lexical, docs, ingest = env
    for name in "abcd":
        write(docs / f"{name}.txt", 3)
    ingest()
    baseline = {c.text for c, _ in store.items.values()}
    for name in "abcd":
        write(docs / f"{name}.txt", 4, word="gamma")
    store.fail_after = 6  # dies while writing the third file
    with pytest.raises(SystemExit):
        ingest()
    rows = {r.state for r in Manifest(settings.state_db).rows()}
    assert "writing" in rows  # the interrupted file is marked
    store.fail_after = None
    report = ingest()
    assert report.failed == []
    assert consistent(store, lexical, settings) == 16
    texts = {c.text for c, _ in store.items.values()}
    assert not texts & baseline  # no stale chunk survived


def test_lock_refuses_a_second_run(test_settings):
    path = test_settings.home / "ingest.lock"
    with IngestLock(path):
        with pytest.raises(LockedError, match="another ingest is running"):
            IngestLock(path).acquire()
    IngestLock(path).acquire().release()  # free again afterwards


def test_workers_do_not_rerun_the_parent_main_script(tmp_path, monkeypatch):
    """Ingestion started from a Streamlit page: `__main__` is the app script, which must not run
    again in the parser workers (it would crash them before they parse anything)."""
    import sys
    import types

    from ingest.blocks import Limits
    from ingest.workers import ParserPool

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('the parent script ran inside a worker')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    doc = tmp_path / "note.txt"
    doc.write_text("Parser workers start cleanly.\n")
    limits = Limits()
    results = list(ParserPool(1, 60, limits).run([str(doc)]))
    assert [r.error for r in results] == [""]
    assert results[0].document is not None
    assert sys.modules["__main__"] is fake_main
