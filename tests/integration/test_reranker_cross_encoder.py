"""A real sentence-transformers CrossEncoder as the reranker (`retrieval.reranker = cross_encoder`).
No trained cross-encoder ships with the default install, so the test builds one from the packaged
MiniLM (sentence-transformers converts it, with an untrained scoring head): the scores mean nothing
here, the mechanics are what is checked — model loading from a local directory, scoring every
candidate, ordering by score, top_k, and the access filter before reranking."""

from __future__ import annotations

import pytest

from retrieval.assistant import build_assistant
from retrieval.models import packaged_embedder_path
from retrieval.rerankers import CrossEncoderReranker
from retrieval.schema import Chunk, ScoredChunk
from retrieval.testing import seed

pytestmark = pytest.mark.integration

TEXTS = ["Employees receive 25 days of paid vacation.", "Travel is requested 14 days ahead.", "Revenue grew 8 percent.", "Parking is in garage B."]


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    model = CrossEncoderReranker(str(packaged_embedder_path()), tmp_path_factory.mktemp("models"))
    model.warm_up()
    return model


def test_every_candidate_is_scored_and_ordered(reranker):
    candidates = [ScoredChunk(Chunk(id=f"c{i}", text=t, source="s.md", doc_id="s"), 1.0) for i, t in enumerate(TEXTS)]
    first = reranker.rerank("How many vacation days?", candidates, 3)
    assert len(first) == 3 and {s.chunk.id for s in first} < {c.chunk.id for c in candidates}
    assert [s.score for s in first] == sorted((s.score for s in first), reverse=True)
    assert all(s.score != 1.0 for s in first)  # the model's scores replace the fused ones
    again = reranker.rerank("How many vacation days?", list(reversed(candidates)), 4)
    assert [s.chunk.id for s in again][:3] == [s.chunk.id for s in first]  # the input order does not matter
    assert reranker.rerank("q", [], 3) == []


def test_the_assistant_reranks_only_readable_chunks(test_settings, reranker):
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"rerank_candidates": 5})})
    assistant = build_assistant(settings, reranker=reranker)
    seed(assistant)
    found = assistant.search("Project Falcon acquisition price", groups=["all-staff"], top_k=3)
    assert 0 < len(found) <= 3
    assert all("all-staff" in s.chunk.groups for s in found)
