"""Embedded Chroma shared by processes: the app or API keeps a store open while the nightly ingest,
another process, writes to the same directory. The reader must see what was added and must not
return what was deleted — no errors, no stale hits, no restart needed."""

from __future__ import annotations

import multiprocessing

import pytest

from retrieval.schema import Chunk

pytestmark = pytest.mark.integration

DIM = 8


def _vector(i: int) -> list[float]:
    v = [0.0] * DIM
    v[i % DIM] = 1.0
    return v


def _chunk(i: int) -> Chunk:
    return Chunk(id=f"c{i}", text=f"chunk {i}", source=f"doc{i}.md", doc_id=f"doc{i}", groups=("all-staff",))


def _writer(home: str, add: list[int], remove: list[str]) -> None:
    from retrieval.settings import load_settings
    from retrieval.store import make_store

    store = make_store(load_settings(overrides={"profile": "test", "home": home}))
    store.upsert([_chunk(i) for i in add], [_vector(i) for i in add])
    store.delete(remove)


def _in_another_process(home: str, add: list[int], remove: list[str]) -> None:
    process = multiprocessing.get_context("spawn").Process(target=_writer, args=(home, add, remove))
    process.start()
    process.join(120)
    assert process.exitcode == 0


def test_a_reader_sees_what_another_process_added_and_deleted(test_settings):
    from retrieval.store import make_store

    reader = make_store(test_settings)
    reader.upsert([_chunk(0), _chunk(1)], [_vector(0), _vector(1)])
    assert [s.chunk.id for s in reader.query(_vector(1), 1, ["all-staff"])] == ["c1"]

    _in_another_process(str(test_settings.home), add=[2, 3], remove=["c1"])

    assert [s.chunk.id for s in reader.query(_vector(2), 1, ["all-staff"])] == ["c2"]
    assert [s.chunk.id for s in reader.query(_vector(3), 1, ["all-staff"])] == ["c3"]
    assert "c1" not in [s.chunk.id for s in reader.query(_vector(1), 4, ["all-staff"])]
    assert reader.count() == 3
    assert {c.id for c in reader.get(["c0", "c1", "c2"])} == {"c0", "c2"}

    # A second write right after the reader refreshed (inside its refresh interval): a deleted chunk
    # is still never returned — Chroma reports the missing id and the reader reopens at once.
    _in_another_process(str(test_settings.home), add=[], remove=["c3"])
    assert "c3" not in [s.chunk.id for s in reader.query(_vector(3), 4, ["all-staff"])]
    assert reader.get(["c3"]) == []


def test_a_reader_holding_the_store_in_memory_sees_other_processes_writes(test_settings):
    from retrieval.store import make_store

    reader = make_store(test_settings)
    reader.upsert([_chunk(0), _chunk(1)], [_vector(0), _vector(1)])
    assert reader.keep_resident()  # the API and the app keep a small store in memory
    assert [s.chunk.id for s in reader.query(_vector(1), 1, ["all-staff"])] == ["c1"]

    _in_another_process(str(test_settings.home), add=[2, 3], remove=["c1"])

    # The other process spent more than LOOK_S starting: the reader looks again, finds the content
    # changed, and answers from Chroma (reopened) until a fresh copy is read.
    assert [s.chunk.id for s in reader.query(_vector(2), 1, ["all-staff"])] == ["c2"]
    assert "c1" not in [s.chunk.id for s in reader.query(_vector(1), 4, ["all-staff"])]
    assert {c.id for c in reader.get(["c0", "c1", "c3"])} == {"c0", "c3"}
