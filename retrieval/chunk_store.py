"""What Lore uses of a vector store: the `ChunkStore` protocol, and `StoreWrapper`, the base of the
stores that add a faster path to another one (retrieval/partitions.py, retrieval/resident.py).

retrieval/store.py composes them (`make_store`); tests/unit/test_store_contract.py runs one suite
over the Chroma store, each wrapper and the tests' `MemoryStore` (retrieval/testing.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from retrieval.schema import Chunk, ScoredChunk

T = TypeVar("T")


@runtime_checkable
class ChunkStore(Protocol):
    """The index writes (`upsert`, `delete`), retrieval reads (`query`, `get`, `fetch`, `ids_at`),
    `count`, and `keep_resident` for long-running readers."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` that `groups` may read (None: all), best first; `docs`: only these documents."""
        ...

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks of `ids`, in that order (missing ids left out)."""
        ...

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        """Chunks with their stored vectors, by id (missing ids left out)."""
        ...

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        """The id of a document's chunk at `chunk_index` (its neighbours are at ±1); empty when there is none."""
        ...

    def count(self) -> int: ...

    def keep_resident(self) -> bool:
        """Hold the store in memory from now on where it can; True when it does."""
        ...


class StoreWrapper:
    """A ChunkStore around another one, `inner`: a wrapper defines every ChunkStore method itself,
    and `iter_chunks` (the whole store, for benches and checks) reads the inner store. What only one
    layer offers (the partitions' `sync_partitions`) is reached through `layer`."""

    def __init__(self, inner: ChunkStore):
        self.inner = inner

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        return self.inner.iter_chunks(batch)  # type: ignore[attr-defined]


def layer(store: ChunkStore, kind: type[T]) -> T | None:
    """The layer of a composed store (`make_store`) that is a `kind`: the store itself or one it
    wraps; None when there is none (partitions turned off)."""
    current: Any = store
    while current is not None:
        if isinstance(current, kind):
            return current
        current = getattr(current, "inner", None)
    return None
