"""One suite over every `ChunkStore` (retrieval/store.py): Chroma as the API and the app run it
(plain, with group partitions, with the in-memory copy) and the tests' `MemoryStore`. Whatever a
caller may rely on is checked here once, so a store, a wrapper or the fake cannot drift from the
others: what `query` returns and to whom, `get`/`fetch`/`ids_at` by id, writes, deletes, counts."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.schema import Chunk
from retrieval.store import ChromaStore, ChunkStore
from retrieval.testing import MemoryStore

pytestmark = pytest.mark.unit

GROUP_SETS = [("all-staff",), ("finance",), ("finance", "board"), ("hr",)]
READERS = [None, ["all-staff"], ["finance"], ["board"], ["hr", "finance"], ["nobody"], []]


def chunk(i: int) -> Chunk:
    return Chunk(id=f"c{i}", text=f"text {i}", source=f"doc{i % 5}.md", doc_id=f"d{i % 5}", chunk_index=i // 5,
                 groups=GROUP_SETS[i % len(GROUP_SETS)])  # fmt: skip


def vectors(n: int, seed: int = 1) -> list[list[float]]:
    v = np.random.default_rng(seed).normal(size=(n, 16))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def _chroma(test_settings, **store) -> ChromaStore:
    return ChromaStore(test_settings.model_copy(update={"store": test_settings.store.model_copy(update=store)}))


def _resident(test_settings) -> ChromaStore:
    s = _chroma(test_settings)
    s.keep_resident()
    return s


STORES = {
    "chroma": lambda settings: _chroma(settings, group_partitions=False),
    "chroma, group partitions": lambda settings: _chroma(settings, group_partitions=True),
    "chroma, in memory": _resident,
    "memory (the tests' fake)": lambda settings: MemoryStore(),
}


@pytest.fixture(params=sorted(STORES))
def store(request, test_settings) -> ChunkStore:
    s = STORES[request.param](test_settings)
    s.upsert([chunk(i) for i in range(40)], vectors(40))
    return s


def reference(readers, docs=None, k=8, query=0):
    """The expected answer, by brute force over what was written."""
    q = np.asarray(vectors(1, seed=7 + query)[0])
    allowed = [(float(q @ np.asarray(v)), c.id) for c, v in zip((chunk(i) for i in range(40)), vectors(40), strict=True)
               if (readers is None or set(c.groups) & set(readers)) and (docs is None or c.doc_id in docs)]  # fmt: skip
    return [cid for _, cid in sorted(allowed, reverse=True)[:k]]


def test_every_store_implements_the_protocol(store):
    assert isinstance(store, ChunkStore)


@pytest.mark.parametrize("readers", READERS, ids=str)
def test_query_returns_the_nearest_chunks_the_reader_may_read_best_first(store, readers):
    for query in range(3):
        found = store.query(vectors(1, seed=7 + query)[0], 8, readers)
        assert [s.chunk.id for s in found] == reference(readers, query=query)
        assert all(readers is None or set(s.chunk.groups) & set(readers) for s in found)
        assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
        assert all(abs(s.score - s.dense_score) < 1e-6 for s in found)


def test_query_can_be_narrowed_to_documents(store):
    found = store.query(vectors(1, seed=7)[0], 8, ["finance", "all-staff"], docs=["d1", "d2"])
    assert [s.chunk.id for s in found] == reference(["finance", "all-staff"], docs={"d1", "d2"})
    assert store.query(vectors(1, seed=7)[0], 8, None, docs=[]) == []


def test_get_fetch_and_ids_at_read_by_id(store):
    assert [c.id for c in store.get(["c3", "missing", "c1"])] == ["c3", "c1"]
    assert store.get(["c3"])[0].groups == chunk(3).groups and store.get(["c3"])[0].doc_id == "d3"
    fetched = store.fetch(["c2", "missing"])
    assert set(fetched) == {"c2"} and np.allclose(fetched["c2"][1], vectors(40)[2], atol=1e-5)
    assert store.fetch([]) == {} and store.get([]) == []
    assert store.ids_at("d2", 3) == ["c17"] and store.ids_at("d2", 99) == []


def test_writes_replace_and_deletes_remove(store):
    assert store.count() == 40
    moved = Chunk(id="c0", text="text 0, now for the board", source="doc0.md", doc_id="d0", chunk_index=0, groups=("board",))
    store.upsert([moved], [vectors(1, seed=9)[0]])
    assert store.count() == 40 and store.get(["c0"])[0].text == moved.text
    assert "c0" in [s.chunk.id for s in store.query(vectors(1, seed=9)[0], 3, ["board"])]
    assert "c0" not in [s.chunk.id for s in store.query(vectors(1, seed=9)[0], 40, ["all-staff"])]
    store.delete(["c0", "c1", "missing"])
    assert store.count() == 38 and store.get(["c0", "c1"]) == [] and store.ids_at("d1", 0) == []
    assert "c1" not in [s.chunk.id for s in store.query(vectors(1, seed=2)[0], 40, None)]
