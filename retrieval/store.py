"""The chunk store: Chroma, written and queried through llama-index's ChromaVectorStore, and
`make_store`, which builds the store the settings name.

Access control lives in the query itself: every chunk carries one boolean metadata key per group
(`acl:<group>`), and a query for a user ORs the keys of the user's groups into Chroma's `where`
(retrieval/chroma_records.py). Two faster paths give the same answers, each a wrapper around the
store beneath it (retrieval/chunk_store.py's `StoreWrapper`): group partitions searched unfiltered
(retrieval/partitions.py) and, for the API and the app, an in-memory copy of a small store
(retrieval/resident.py). All of them share one `ChromaConnection` (retrieval/chroma_connection.py),
which opens the client and opens it again when another process wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from retrieval.chroma_connection import ChromaConnection, query_failed
from retrieval.chroma_records import cosine_from_llama_score, group_filter, plain_metadata, restrict_to_docs
from retrieval.chunk_store import ChunkStore
from retrieval.errors import ConfigError
from retrieval.partitions import PartitionedStore
from retrieval.resident import ResidentStore
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import Settings

__all__ = ["ChromaStore", "ChunkStore", "group_filter", "make_store"]


class ChromaStore:
    """The chunks of one Chroma collection (`connection`): the ChunkStore reads and writes, each read
    run again on a reopened client when another process wrote (ChromaConnection.fresh_read). Its
    `query` is Chroma's filtered query, the one the wrappers fall back to."""

    def __init__(self, connection: ChromaConnection):
        self.connection = connection
        self.config = connection.config

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        if not chunks:
            return
        from llama_index.core.schema import TextNode

        size = self.config.batch_size
        for start in range(0, len(chunks), size):
            nodes = [
                TextNode(id_=c.id, text=c.text, metadata=c.metadata(), embedding=list(e))
                for c, e in zip(chunks[start : start + size], embeddings[start : start + size], strict=True)
            ]
            self.connection.open().delete(ids=[n.id_ for n in nodes])  # make add() an upsert
            self.connection.vector_store.add(nodes)
        self.connection.wrote()

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.connection.collection.delete(ids=list(ids))
            self.connection.wrote()

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` readable by `groups`; `docs`: only these documents."""
        return self.connection.fresh_read(lambda: self._query(embedding, k, groups, docs))

    def _query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None) -> list[ScoredChunk]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        kwargs: dict[str, Any] = {}
        if (where := restrict_to_docs(group_filter(groups), docs)) is not None:
            kwargs["where"] = where
        try:
            result = self.connection.vector_store.query(VectorStoreQuery(query_embedding=list(embedding), similarity_top_k=k), **kwargs)
        except Exception as exc:
            raise query_failed(exc) from exc
        scored = []
        for node, similarity in zip(result.nodes or [], result.similarities or [], strict=True):
            chunk = Chunk.from_metadata(node.id_, node.get_content(), plain_metadata(node.metadata))
            scored.append(ScoredChunk(chunk, cosine_from_llama_score(similarity), dense_score=cosine_from_llama_score(similarity)))
        return scored

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        found = self.connection.fresh_read(lambda: self.connection.open().get(ids=list(ids), include=["documents", "metadatas"]))
        by_id = {i: Chunk.from_metadata(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        """Chunks with their stored vectors, by id (missing ids are left out)."""
        if not ids:
            return {}
        found = self.connection.fresh_read(lambda: self.connection.open().get(ids=list(ids), include=["documents", "metadatas", "embeddings"]))
        return {
            i: (Chunk.from_metadata(i, d, plain_metadata(m or {})), e)
            for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True)
        }

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        return list(self.connection.collection.get(where={"$and": [{"doc": doc_id}, {"chunk_index": chunk_index}]}, include=[])["ids"])

    def count(self) -> int:
        return int(self.connection.collection.count())

    def keep_resident(self) -> bool:
        """Chroma alone holds nothing in memory for its readers: the copy is ResidentStore's."""
        return False

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        """Every chunk of the collection (maintenance and benches: no group filter)."""
        self.connection.refresh()  # an open client first sees what other processes wrote
        for found in self.connection.pages(["documents", "metadatas"], batch):
            for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True):
                yield Chunk.from_metadata(i, d, m)


def make_store(settings: Settings) -> ChunkStore:
    """The Chroma store the settings name, inside the group partitions (`store.group_partitions`)
    and, for an embedded store, the in-memory copy (`store.resident_max_chunks` > 0; it holds the
    store only once a long-running reader calls `keep_resident`)."""
    match settings.store.kind:
        case "embedded" | "http":
            connection = ChromaConnection(settings)
            store: ChunkStore = ChromaStore(connection)
            if settings.store.group_partitions:
                store = PartitionedStore(store, connection, settings)
            if settings.store.kind == "embedded" and settings.store.resident_max_chunks:
                store = ResidentStore(store, connection, settings)
            return store
        case other:
            raise ConfigError(f"unknown store kind {other!r}: use embedded or http")
