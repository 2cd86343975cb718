"""The in-memory copy of a small store (retrieval/resident.py's `ResidentStore` around the Chroma
store): the same chunks as Chroma's filtered query for every reader, never a chunk outside the
reader's groups, and never an answer from a copy older than the store (its own writes and other
processes' writes alike)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from retrieval.chroma_connection import ChromaConnection
from retrieval.resident import ResidentStore
from retrieval.schema import Chunk
from retrieval.store import ChromaStore, make_store
from retrieval.store_stamp import StoreStamp

pytestmark = pytest.mark.unit

GROUP_SETS = [("all-staff",), ("finance",), ("finance", "board"), ("hr",), ()]
QUERIES = [None, ["all-staff"], ["finance"], ["board"], ["hr", "finance"], ["nobody"], []]


def chunk(i: int) -> Chunk:
    return Chunk(id=f"c{i}", text=f"text {i}", source=f"doc{i % 7}.md", doc_id=f"d{i % 7}", groups=GROUP_SETS[i % len(GROUP_SETS)])


def vectors(n: int, seed: int = 1) -> list[list[float]]:
    v = np.random.default_rng(seed).normal(size=(n, 16))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def settings_with(test_settings, **store):
    return test_settings.model_copy(update={"store": test_settings.store.model_copy(update=store)})


def resident_store(settings) -> ResidentStore:
    """The copy around the plain Chroma store, whose `query` is the filtered query to compare with."""
    connection = ChromaConnection(settings)
    return ResidentStore(ChromaStore(connection), connection, settings)


@pytest.fixture
def store(test_settings):
    s = resident_store(test_settings)
    s.upsert([chunk(i) for i in range(120)], vectors(120))
    assert s.keep_resident()
    return s


def wait_resident(store: ResidentStore, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while store.held() is None:
        assert time.monotonic() < deadline, "the copy was not read again"
        time.sleep(0.05)


@pytest.mark.parametrize("groups", QUERIES)
@pytest.mark.parametrize("docs", [None, ["d1", "d4"], []])
def test_the_copy_answers_as_the_filtered_query(store, groups, docs):
    readable = {f"c{i}" for i in range(120) if groups is None or set(GROUP_SETS[i % len(GROUP_SETS)]) & set(groups)}
    for vector in vectors(6, seed=2):
        found = store.query(vector, 10, groups, docs)
        exact = store.inner.query(vector, 10, groups, docs)
        assert [s.chunk.id for s in found] == [s.chunk.id for s in exact]
        assert {s.chunk.id for s in found} <= readable
        assert all(s.chunk.doc_id in docs for s in found) if docs is not None else True
        assert [round(s.score, 4) for s in found] == [round(s.score, 4) for s in exact]
    assert store.held() is not None  # answered from the copy, not from Chroma


def test_reads_come_from_the_copy_with_the_stored_vectors(store):
    wanted = ["c3", "c77", "missing"]
    assert [c.id for c in store.get(wanted)] == ["c3", "c77"]
    fetched = store.fetch(wanted)
    assert set(fetched) == {"c3", "c77"}
    assert np.allclose(fetched["c77"][1], vectors(120)[77], atol=1e-6)
    assert fetched["c3"][0].groups == chunk(3).groups


def test_neighbours_are_found_in_the_copy_without_asking_chroma(store, monkeypatch):
    expected = sorted(store.inner.ids_at("d2", 0))
    assert expected  # chunks that exist, so the copy must find them
    monkeypatch.setattr(store.inner, "ids_at", lambda *a: pytest.fail("asked Chroma while the copy was held"))
    assert sorted(store.ids_at("d2", 0)) == expected and store.ids_at("d2", 1) == []


def test_a_write_is_seen_at_once_and_the_copy_is_read_again(store):
    new = [1.0] + [0.0] * 15
    store.upsert([Chunk(id="fresh", text="fresh", source="n.md", doc_id="n", groups=("hr",))], [new])
    store.delete(["c0"])
    assert store.held() is None  # stale: Chroma answers until the new copy is in
    assert [s.chunk.id for s in store.query(new, 1, ["hr"])] == ["fresh"]
    assert "c0" not in [s.chunk.id for s in store.query(vectors(120)[0], 5, None)]
    time.sleep(store.REFRESH_S)  # the copy is read again at most every REFRESH_S
    store.query(new, 1, ["hr"])
    wait_resident(store)
    assert [s.chunk.id for s in store.query(new, 1, ["hr"])] == ["fresh"]
    assert "c0" not in [s.chunk.id for s in store.query(vectors(120)[0], 5, None)]
    assert [s.chunk.id for s in store.query(new, 5, ["board"])] and "fresh" not in [s.chunk.id for s in store.query(new, 120, ["board"])]


def test_no_copy_for_a_store_over_the_limit_or_when_off(test_settings):
    s = resident_store(settings_with(test_settings, resident_max_chunks=50))
    s.upsert([chunk(i) for i in range(120)], vectors(120))
    assert not s.keep_resident() and s.held() is None
    assert [x.chunk.id for x in s.query(vectors(1, 5)[0], 3, ["hr"])] == [x.chunk.id for x in s.inner.query(vectors(1, 5)[0], 3, ["hr"])]
    off = settings_with(test_settings, resident_max_chunks=0)
    assert not resident_store(off).keep_resident()
    assert not isinstance(make_store(off), ResidentStore) and not make_store(off).keep_resident()
    assert not make_store(settings_with(test_settings, kind="http")).keep_resident()  # a server's index is not ours to copy


def test_the_stamp_ignores_opening_and_follows_writes(test_settings):
    first = make_store(test_settings)
    first.upsert([chunk(1)], vectors(1))
    stamps = StoreStamp(test_settings.store_dir)
    before = stamps.read()
    make_store(test_settings).count()  # another reader opening the store writes to its file
    assert stamps.read() == before
    first.upsert([chunk(2)], vectors(1, seed=3))
    after_add = stamps.read()
    assert after_add != before
    first.delete(["c1"])
    assert stamps.read() != after_add
    stamps.close()


def test_an_empty_store_is_held_too_and_fills_up(test_settings):
    s = resident_store(test_settings)  # the API may start before the first ingest
    assert s.keep_resident()
    assert s.query(vectors(1)[0], 5, ["hr"]) == [] and s.get(["c1"]) == [] and s.fetch(["c1"]) == {}
    s.upsert([chunk(3)], vectors(1))
    assert [x.chunk.id for x in s.query(vectors(1)[0], 5, ["hr"])] == ["c3"]


def test_a_failed_read_leaves_chroma_answering(store, monkeypatch, caplog):
    store.upsert([chunk(500)], vectors(1, seed=9))  # the copy is stale now
    monkeypatch.setattr(ResidentStore, "_read", lambda self, batch: 1 / 0)
    store._load()  # logged, not raised
    assert "could not hold the store in memory (ZeroDivisionError: division by zero); queries go to Chroma" in caplog.text
    assert store.held() is None
    assert [x.chunk.id for x in store.query(vectors(1, seed=9)[0], 1, ["all-staff"])] == ["c500"]
