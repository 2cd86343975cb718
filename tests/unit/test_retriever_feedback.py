"""Pseudo-relevance feedback options: how feedback words are chosen (recurring count or Robertson's
offer weight), how much the query's own words count, and feedback chunks from distinct documents."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.assistant import build_assistant
from retrieval.generators import FakeChatModel
from retrieval.lexical import expansion_terms, match_expression
from retrieval.retriever import _Lookup
from retrieval.schema import Chunk
from retrieval.testing import MemoryStore, seed

pytestmark = pytest.mark.unit

# "flow" is in every feedback text and common in the index; "slipstream" in two of them and rare.
TEXTS = ["flow over a wing in a slipstream", "slipstream flow behind a propeller", "flow in a duct"]
DF = {"flow": 900, "slipstream": 2, "wing": 300, "propeller": 40, "duct": 60, "behind": 500, "over": 0}


def test_recurring_words_rank_by_how_many_texts_hold_them():
    assert expansion_terms(TEXTS, [], 2) == ["flow", "slipstream"]


def test_offer_weight_prefers_a_word_concentrated_in_the_feedback():
    terms = expansion_terms(TEXTS, [], 2, frequencies=lambda words: {w: DF.get(w, 0) for w in words}, total=1000)
    assert terms == ["slipstream", "flow"]


def test_offer_weight_survives_a_stale_chunk_count():
    # The index count is refreshed once a minute: a word may seem to be in more chunks than exist.
    terms = expansion_terms(TEXTS, ["wing"], 5, frequencies=lambda words: {w: 5000 for w in words}, total=3)
    assert set(terms) == {"flow", "slipstream"}  # only words in two of the three texts qualify


def test_query_words_are_repeated_query_weight_times():
    assert match_expression(["wing"], ["flow"], query_weight=3) == '"wing" OR "wing" OR "wing" OR "flow"'


class _Embedder:
    def embed_documents(self, texts):
        return [[1.0, 0.0] for _ in texts]


class _Retriever:
    def __init__(self, chunks):
        self.store = MemoryStore()
        self.store.upsert(chunks, [[1.0, 0.0] for _ in chunks])
        self.embedder = _Embedder()


def test_feedback_chunks_per_document_skip_a_documents_second_chunk():
    chunks = [
        Chunk(id="a#0", text="a, first", source="a", doc_id="a", groups=("g",)),
        Chunk(id="a#1", text="a, second", source="a", doc_id="a", groups=("g",)),
        Chunk(id="b#0", text="b", source="b", doc_id="b", groups=("g",)),
        Chunk(id="c#0", text="c", source="c", doc_id="c", groups=("h",)),  # not readable
        Chunk(id="d#0", text="d", source="d", doc_id="d", groups=("g",)),
    ]
    ranked = [(c.id, 1.0 / (n + 1), None) for n, c in enumerate(chunks)]
    lookup = _Lookup(_Retriever(chunks), [1.0, 0.0], ["g"])
    assert [s.chunk.id for s in lookup.materialise(ranked, 3)] == ["a#0", "a#1", "b#0"]
    assert [s.chunk.id for s in lookup.materialise(ranked, 3, per_doc=True)] == ["a#0", "b#0", "d#0"]


@pytest.mark.parametrize("options", [{}, {"feedback_expansion": "offer", "feedback_per_doc": True, "feedback_query_weight": 3}])
def test_feedback_options_reach_the_second_lexical_query(test_settings, options):
    config = test_settings.retrieval.model_copy(update={"feedback_docs": 2, "scope_docs": 0, **options})
    assistant = build_assistant(test_settings.model_copy(update={"retrieval": config}), chat_model=FakeChatModel())
    seed(assistant)
    calls = []
    search = assistant.lexical.search

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return search(*args, **kwargs)

    assistant.retriever.lexical.search = spy
    found = assistant.search("How many days of paid vacation per year?", groups=["all-staff"], top_k=3)
    assert found and all("all-staff" in s.chunk.groups for s in found)
    second = [c for c in calls if "expansion" in c]
    assert len(second) == 1 and second[0]["query_weight"] == options.get("feedback_query_weight", 2)
    assert np.isfinite([s.score for s in found]).all()
