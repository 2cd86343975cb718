"""The lexical index follows the vector store through real ingest runs: added, changed and
deleted files show up (or vanish) in BM25 search, hybrid search and answers alike."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _ids(assistant, query):
    return {s.chunk.source for s in assistant.search(query, groups=["all-staff"], top_k=10)}


def test_bm25_index_stays_in_sync_after_update_and_delete(test_settings, tmp_path):
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant

    root = tmp_path / "docs"
    root.mkdir()
    (root / "canteen.md").write_text("# Canteen\n\nThe canteen serves zucchini lasagne on Mondays.\n")
    (root / "parking.md").write_text("# Parking\n\nVisitor parking is behind building C, marked with blue lines.\n")
    assistant = build_assistant(test_settings)
    ingest = Ingestor(test_settings, assistant.index, assistant.embedder)

    ingest.run([root])
    assert [cid for cid, _ in assistant.lexical.search("zucchini lasagne", 5, ["all-staff"])]
    assert assistant.lexical.count() == assistant.store.count()

    (root / "canteen.md").write_text("# Canteen\n\nThe canteen serves mushroom risotto on Mondays.\n")
    ingest.run([root])
    assert assistant.lexical.search("zucchini", 5, ["all-staff"]) == []
    assert assistant.lexical.search("mushroom risotto", 5, ["all-staff"])
    assert assistant.lexical.count() == assistant.store.count()
    answer = assistant.ask("What does the canteen serve on Mondays?", groups=["all-staff"])
    assert "mushroom" in answer.answer and "zucchini" not in answer.answer

    (root / "parking.md").unlink()
    ingest.run([root])
    assert assistant.lexical.search("visitor parking blue lines", 5, ["all-staff"]) == []
    assert all(not s.endswith("parking.md") for s in _ids(assistant, "visitor parking blue lines"))
    assert assistant.lexical.count() == assistant.store.count()
