"""One suite over every `ChunkStore` (retrieval/chunk_store.py): the Chroma store, each wrapper
around it (group partitions, the in-memory copy), the store `make_store` composes for the API and
the app, and the tests' `MemoryStore`. Whatever a caller may rely on is checked here once, in
`StoreContract`, so a store, a wrapper or the fake cannot drift from the others: what `query`
returns and to whom, `get`/`fetch`/`ids_at` by id, writes, deletes, counts, `keep_resident`."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.chroma_connection import ChromaConnection
from retrieval.partitions import PartitionedStore
from retrieval.resident import ResidentStore
from retrieval.schema import Chunk
from retrieval.store import ChromaStore, ChunkStore, make_store
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


def reference(readers, docs=None, k=8, query=0):
    """The expected answer, by brute force over what was written."""
    q = np.asarray(vectors(1, seed=7 + query)[0])
    allowed = [(float(q @ np.asarray(v)), c.id) for c, v in zip((chunk(i) for i in range(40)), vectors(40), strict=True)
               if (readers is None or set(c.groups) & set(readers)) and (docs is None or c.doc_id in docs)]  # fmt: skip
    return [cid for _, cid in sorted(allowed, reverse=True)[:k]]


class StoreContract:
    """The checks every ChunkStore passes. A subclass says how to build its store (`build`) and
    whether `keep_resident` holds it in memory (`holds_in_memory`). The fixture writes 40 chunks
    and then asks the store to hold itself in memory, as the API and the app do, so a store that
    can answers the reads from its copy until the first write of a test."""

    holds_in_memory = False

    def build(self, settings) -> ChunkStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, test_settings) -> ChunkStore:
        s = self.build(test_settings)
        s.upsert([chunk(i) for i in range(40)], vectors(40))
        assert s.keep_resident() is self.holds_in_memory
        return s

    def test_the_store_implements_the_protocol(self, store):
        assert isinstance(store, ChunkStore)

    @pytest.mark.parametrize("readers", READERS, ids=str)
    def test_query_returns_the_nearest_chunks_the_reader_may_read_best_first(self, store, readers):
        for query in range(3):
            found = store.query(vectors(1, seed=7 + query)[0], 8, readers)
            assert [s.chunk.id for s in found] == reference(readers, query=query)
            assert all(readers is None or set(s.chunk.groups) & set(readers) for s in found)
            assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
            assert all(abs(s.score - s.dense_score) < 1e-6 for s in found)

    def test_query_can_be_narrowed_to_documents(self, store):
        found = store.query(vectors(1, seed=7)[0], 8, ["finance", "all-staff"], docs=["d1", "d2"])
        assert [s.chunk.id for s in found] == reference(["finance", "all-staff"], docs={"d1", "d2"})
        assert store.query(vectors(1, seed=7)[0], 8, None, docs=[]) == []

    def test_get_fetch_and_ids_at_read_by_id(self, store):
        assert [c.id for c in store.get(["c3", "missing", "c1"])] == ["c3", "c1"]
        assert store.get(["c3"])[0].groups == chunk(3).groups and store.get(["c3"])[0].doc_id == "d3"
        fetched = store.fetch(["c2", "missing"])
        assert set(fetched) == {"c2"} and np.allclose(fetched["c2"][1], vectors(40)[2], atol=1e-5)
        assert store.fetch([]) == {} and store.get([]) == []
        assert store.ids_at("d2", 3) == ["c17"] and store.ids_at("d2", 99) == []

    def test_writes_replace_and_deletes_remove(self, store):
        assert store.count() == 40
        moved = Chunk(id="c0", text="text 0, now for the board", source="doc0.md", doc_id="d0", chunk_index=0, groups=("board",))
        store.upsert([moved], [vectors(1, seed=9)[0]])
        assert store.count() == 40 and store.get(["c0"])[0].text == moved.text
        assert "c0" in [s.chunk.id for s in store.query(vectors(1, seed=9)[0], 3, ["board"])]
        assert "c0" not in [s.chunk.id for s in store.query(vectors(1, seed=9)[0], 40, ["all-staff"])]
        store.delete(["c0", "c1", "missing"])
        assert store.count() == 38 and store.get(["c0", "c1"]) == [] and store.ids_at("d1", 0) == []
        assert "c1" not in [s.chunk.id for s in store.query(vectors(1, seed=2)[0], 40, None)]


def _settings(settings, **store):
    return settings.model_copy(update={"store": settings.store.model_copy(update=store)})


class TestChromaStore(StoreContract):
    def build(self, settings):
        return ChromaStore(ChromaConnection(settings))


class TestPartitionedStore(StoreContract):
    def build(self, settings):
        connection = ChromaConnection(settings)
        return PartitionedStore(ChromaStore(connection), connection, settings)


class TestResidentStore(StoreContract):
    holds_in_memory = True

    def build(self, settings):
        connection = ChromaConnection(settings)
        return ResidentStore(ChromaStore(connection), connection, settings)


class TestTheStoreMakeStoreComposes(StoreContract):
    """The in-memory copy around the group partitions around Chroma: the API's and the app's store."""

    holds_in_memory = True

    def build(self, settings):
        store = make_store(_settings(settings, group_partitions=True))
        assert isinstance(store, ResidentStore) and isinstance(store.inner, PartitionedStore) and isinstance(store.inner.inner, ChromaStore)
        return store


class TestMemoryStore(StoreContract):
    holds_in_memory = True  # it is nothing but memory

    def build(self, settings):
        return MemoryStore()
