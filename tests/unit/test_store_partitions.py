"""Group partitions of the Chroma store (retrieval/partitions.py's `PartitionedStore` around the
Chroma store): the same answers as Chroma's filtered query (exactly the chunks readable by the
user's groups, never fewer), kept in step through upserts, ACL changes and deletes, and rebuilt
when the main collection was written without them."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.chroma_connection import ChromaConnection
from retrieval.chroma_records import acl_groups, group_filter
from retrieval.partitions import PartitionedStore, partition_name
from retrieval.schema import Chunk
from retrieval.store import ChromaStore
from retrieval.testing import ids_where

pytestmark = pytest.mark.unit

GROUP_SETS = [("all-staff",), ("finance",), ("finance", "board"), ("hr",), ()]


def chunk(i: int, groups: tuple[str, ...]) -> Chunk:
    return Chunk(id=f"c{i}", text=f"text {i}", source=f"doc{i % 7}.md", doc_id=f"d{i % 7}", groups=groups)


@pytest.fixture
def corpus():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(120, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [chunk(i, GROUP_SETS[i % len(GROUP_SETS)]) for i in range(120)]
    return chunks, vectors.tolist()


@pytest.fixture
def store(test_settings, corpus):
    settings = test_settings.model_copy(update={"store": test_settings.store.model_copy(update={"partition_check_s": 0.0})})
    connection = ChromaConnection(settings)
    s = PartitionedStore(ChromaStore(connection), connection, settings)
    s.upsert(*corpus)
    return s


def exact(store: PartitionedStore, vector, k: int, groups) -> list[str]:
    """The filtered query: the Chroma store's own, beneath the partitions."""
    return [s.chunk.id for s in store.inner.query(vector, k, groups)]


QUERIES = [None, ["all-staff"], ["finance"], ["board"], ["hr", "finance"], ["nobody"], []]


@pytest.mark.parametrize("groups", QUERIES)
def test_partitioned_query_equals_the_filtered_query(store, corpus, groups):
    chunks, vectors = corpus
    readable = {c.id for c in chunks if groups is None or set(c.groups) & set(groups)}
    for vector in vectors[:5]:
        found = store.query(vector, 10, groups)
        assert {s.chunk.id for s in found} <= readable
        assert len(found) == min(10, len(readable))  # never silently fewer
        assert [s.chunk.id for s in found] == exact(store, vector, 10, groups)
        assert found == sorted(found, key=lambda s: -s.score)


@pytest.mark.parametrize("groups", [None, ["finance"], ["hr", "all-staff"]])
def test_queries_narrowed_to_documents_match_the_filtered_query(store, corpus, groups):
    chunks, vectors = corpus
    for docs in (["d1", "d4"], ["d2"], []):
        found = store.query(vectors[1], 8, groups, docs)
        assert all(s.chunk.doc_id in docs for s in found)
        assert [s.chunk.id for s in found] == [s.chunk.id for s in store.inner.query(vectors[1], 8, groups, docs)]


def test_one_partition_per_group_set_holding_every_chunk_once(store, corpus):
    parts = store.partitions()
    assert {p.groups for p in parts.values()} == {frozenset(g) for g in GROUP_SETS}
    assert sum(p.collection.count() for p in parts.values()) == store.count() == 120
    assert partition_name("lore", ["b", "a"]) == partition_name("lore", ["a", "b", "a"]) != partition_name("lore", ["a"])


def test_acl_change_moves_the_chunk_and_revokes_access(store, corpus):
    chunks, vectors = corpus
    moved = chunks[0]  # all-staff -> board only
    store.upsert([Chunk(id=moved.id, text=moved.text, source=moved.source, doc_id=moved.doc_id, groups=("board",))], [vectors[0]])
    assert moved.id not in {s.chunk.id for s in store.query(vectors[0], 50, ["all-staff"])}
    assert store.query(vectors[0], 1, ["board"])[0].chunk.id == moved.id
    holders = [n for n, p in store.partitions().items() if moved.id in p.collection.get(include=[])["ids"]]
    assert holders == [partition_name(store.config.collection, ["board"])]


def test_deletes_reach_the_partitions(store, corpus):
    chunks, vectors = corpus
    store.delete(["c0", "c1"])
    store.delete(ids_where(store, {"doc": "d3"}))
    gone = {"c0", "c1"} | {c.id for c in chunks if c.doc_id == "d3"}
    left = sum(p.collection.count() for p in store.partitions().values())
    assert left == store.count() == 120 - len(gone)
    assert not gone & {s.chunk.id for s in store.query(vectors[0], 120, None)}


def test_a_collection_written_without_partitions_is_brought_in_step(store, corpus):
    chunks, vectors = corpus
    for name in list(store.partitions()):
        store.connection.client.delete_collection(name)
    store._partitions = {}
    assert store.query(vectors[3], 5, ["finance"]) and sum(p.collection.count() for p in store.partitions().values()) == 120
    assert [s.chunk.id for s in store.query(vectors[3], 5, ["finance"])] == exact(store, vectors[3], 5, ["finance"])


def test_a_stale_partition_never_widens_access(store, corpus):
    """The record changed behind the partitions' back (a direct write): the hit is re-checked against
    the record, so the user gets the filtered answer, not the stale partition's."""
    chunks, vectors = corpus
    store.config = store.config.model_copy(update={"partition_check_s": 1e9})
    record = store.connection.collection
    record.update(ids=["c0"], metadatas=[{**record.get(ids=["c0"])["metadatas"][0], "acl:all-staff": False}])
    found = store.query(vectors[0], 10, ["all-staff"])
    assert "c0" not in {s.chunk.id for s in found} and len(found) == 10
    assert [s.chunk.id for s in found] == exact(store, vectors[0], 10, ["all-staff"])
    store.query(vectors[0], 10, ["all-staff"])  # the counts agree, yet the rejected hit forces a rebuild
    assert "c0" not in store._partitions[partition_name(store.config.collection, ["all-staff"])].collection.get(include=[])["ids"]


def test_acl_groups_reads_the_filter_keys():
    assert acl_groups({"acl:a": True, "acl:b": False, "groups": "a,b", "x": 1}) == {"a"}
    assert group_filter(["a"]) == {"acl:a": {"$eq": True}}


def test_a_reader_leaves_the_partitions_to_a_running_ingest(store, corpus, test_settings):
    """Embedded Chroma has one writer: while an ingest holds the lock, a reader that finds the
    partitions out of step answers with the filtered query and writes nothing."""
    from ingest.lock import IngestLock
    from retrieval.store_stamp import ingest_running

    chunks, vectors = corpus
    for name in list(store.partitions()):
        store.connection.client.delete_collection(name)
    store._partitions = {}
    lock = test_settings.home / "ingest.lock"
    with IngestLock(lock):
        assert ingest_running(lock)
        assert [s.chunk.id for s in store.query(vectors[3], 5, ["finance"])] == exact(store, vectors[3], 5, ["finance"])
        assert store.partitions() == {}  # nothing written while the ingest runs
    assert not ingest_running(lock)
    store.query(vectors[3], 5, ["finance"])
    assert sum(p.collection.count() for p in store.partitions().values()) == 120  # brought in step afterwards


def test_a_reopened_store_looks_up_its_partitions_again(store, corpus):
    """Another process wrote, and the connection opened a new client: the partitions are used through
    that client, not the old one's collections, and checked against the collection again."""
    chunks, vectors = corpus
    old = store.partitions()
    store.connection.refresh(force=True)
    assert [s.chunk.id for s in store.query(vectors[2], 5, ["finance"])] == exact(store, vectors[2], 5, ["finance"])
    assert store._client is store.connection.client
    assert set(store._partitions) == set(old) and all(store._partitions[n].collection is not p.collection for n, p in old.items())
