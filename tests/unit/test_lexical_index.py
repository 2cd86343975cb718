"""The lexical index's query pruning: document frequencies as FTS5 counts them, so `max_df` drops
exactly the words that are common in the index."""

from __future__ import annotations

import pytest

from retrieval.lexical import LexicalIndex
from retrieval.schema import Chunk

pytestmark = pytest.mark.unit


@pytest.fixture
def index(tmp_path):
    lex = LexicalIndex(tmp_path / "lexical.sqlite")
    texts = [f"Apple's quarterly report number {i} mentions revenue" for i in range(30)] + ["Falcon acquisition price"]
    lex.upsert([Chunk(id=f"c{i}", text=t, source="a.md", doc_id="a", groups=("all-staff",)) for i, t in enumerate(texts)])
    return lex


def test_short_tokens_are_counted_unstemmed_like_fts5(index):
    # FTS5's porter tokenizer keeps "s" (from "Apple's") as is; a stemmer would make it "" (df 0).
    assert index.document_frequencies(["s", "apple", "falcon"]) == {"s": 30, "apple": 30, "falcon": 1}


def test_max_df_drops_common_words_but_keeps_the_rarest(index):
    kept = index._drop_common(["apple", "s", "falcon", "revenue"], max_df=10)
    assert len(kept) == 2 and "falcon" in kept  # the two rarest always stay
    assert index._drop_common(["falcon", "price", "s"], max_df=10) == ["falcon", "price"]
    assert [cid for cid, _ in index.search("Falcon price for Apple's report", 5, ["all-staff"], max_df=10)] == ["c30"]


def test_stems_are_the_ones_fts5_indexes(tmp_path):
    # Words whose stems differ between Porter's published algorithm and his own C version, which
    # FTS5 follows ("technologies" → "technolog"): a stem FTS5 never wrote reads as df 0, the rarest word.
    words = ["technologies", "technology", "methodology", "terminology", "assembly", "possibly", "flexibly", "played", "revenues"]
    lex = LexicalIndex(tmp_path / "lexical.sqlite")
    lex.upsert([Chunk(id=f"c{i}", text=w, source="a.md", doc_id="a", groups=("all-staff",)) for i, w in enumerate(words)])
    frequencies = lex.document_frequencies(words)
    assert frequencies == {**{w: 1 for w in words}, "technologies": 2, "technology": 2}
