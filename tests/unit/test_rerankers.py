"""Optional reranking after fusion: the retriever hands the first `rerank_candidates` readable
chunks to the reranker and returns its order; the LLM grader orders by grade, ties in fused order;
the factory builds what the setting names and fails in one line when a model is missing."""

from __future__ import annotations

import re

import pytest

from retrieval.assistant import build_assistant
from retrieval.errors import ConfigError, ModelNotFoundError
from retrieval.generators import FakeChatModel
from retrieval.rerankers import CrossEncoderReranker, LLMReranker, make_reranker
from retrieval.schema import Chunk, ScoredChunk
from retrieval.testing import seed

pytestmark = pytest.mark.unit


class Reverse:
    name = "reverse"

    def __init__(self):
        self.seen: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def rerank(self, query, candidates, top_k):
        self.seen.append([c.chunk.id for c in candidates])
        return list(reversed(candidates))[:top_k]


def scored(ids: list[str]) -> list[ScoredChunk]:
    return [ScoredChunk(Chunk(id=i, text=f"passage {i}", source="s.md", doc_id="s"), 1.0 / (n + 1)) for n, i in enumerate(ids)]


def test_the_retriever_returns_the_rerankers_order_of_readable_candidates(test_settings):
    reranker = Reverse()
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"rerank_candidates": 4})})
    assistant = build_assistant(settings, reranker=reranker)
    seed(assistant)
    found = assistant.search("Project Falcon acquisition price vacation travel", groups=["all-staff"], top_k=2)
    assert len(reranker.seen) == 1 and len(reranker.seen[0]) == 4  # rerank_candidates, not top_k
    assert [s.chunk.id for s in found] == list(reversed(reranker.seen[0]))[:2]
    assert all("all-staff" in s.chunk.groups for s in found)  # the reranker never sees unreadable chunks
    assert not any("falcon" in cid for seen in reranker.seen for cid in seen)


def test_the_llm_grader_orders_by_grade_and_keeps_the_fused_order_on_ties():
    grades = {"a": 1, "b": 3, "c": 1, "d": 0}

    def reply(messages):
        passage = re.search(r"passage (\w)", messages[-1].content).group(1)
        return f'{{"relevance": {grades[passage]}}}'

    reranker = LLMReranker(FakeChatModel(reply=reply))
    assert [s.chunk.id for s in reranker.rerank("q", scored(["a", "b", "c", "d"]), 3)] == ["b", "a", "c"]
    assert LLMReranker(FakeChatModel(reply=lambda m: "I would say 2 out of 3")).grade("q", "t") == 2
    assert LLMReranker(FakeChatModel(reply=lambda m: "no idea")).grade("q", "t") == 0


def test_the_factory_follows_the_setting(test_settings):
    def with_reranker(**update):
        return test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update=update)})

    model = FakeChatModel()
    assert make_reranker(test_settings, model) is None
    assert isinstance(make_reranker(with_reranker(reranker="llm"), model), LLMReranker)
    with pytest.raises(ConfigError, match="retrieval.reranker_model"):
        make_reranker(with_reranker(reranker="cross_encoder"), model)
    missing = make_reranker(with_reranker(reranker="cross_encoder", reranker_model="no-such-reranker"), model)
    assert isinstance(missing, CrossEncoderReranker)
    with pytest.raises(ModelNotFoundError, match="check retrieval.reranker_model"):
        missing.warm_up()
