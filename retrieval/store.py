"""The chunk store: Chroma, embedded (PersistentClient under LORE_HOME) or a Chroma server
(HttpClient), written and queried through llama-index's ChromaVectorStore.

Access control lives in the query itself: every chunk carries one boolean metadata key per group
(`acl:<group>`), and a query for a user ORs the keys of the user's groups into Chroma's `where`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from retrieval.errors import ConfigError, MissingDependencyError, StoreError
from retrieval.schema import Chunk, ScoredChunk, group_key
from retrieval.settings import Settings


def group_filter(groups: Sequence[str] | None) -> dict[str, Any] | None:
    """Chroma `where` clause admitting chunks readable by any of `groups` (None: no filter, for admins
    and maintenance jobs only; an empty list admits nothing)."""
    if groups is None:
        return None
    clauses = [{group_key(g): {"$eq": True}} for g in dict.fromkeys(groups)]
    if not clauses:
        return {group_key("\x00none"): {"$eq": True}}
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def restrict_to_docs(where: dict[str, Any] | None, docs: Sequence[str] | None) -> dict[str, Any] | None:
    """`where` narrowed to chunks of `docs` (None: no narrowing)."""
    if docs is None:
        return where
    only = {"doc": {"$in": list(dict.fromkeys(docs)) or ["\x00none"]}}
    return only if where is None else {"$and": [where, only]}


@runtime_checkable
class ChunkStore(Protocol):
    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def delete_where(self, where: dict[str, Any]) -> None: ...

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]: ...

    def get(self, ids: Sequence[str]) -> list[Chunk]: ...

    def ids_where(self, where: dict[str, Any]) -> list[str]: ...

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]: ...

    def count(self) -> int: ...


class ChromaStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.config = settings.store
        self._collection: Any = None
        self._vector_store: Any = None

    def _open(self) -> None:
        if self._collection is not None:
            return
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
            from llama_index.vector_stores.chroma import ChromaVectorStore
        except ImportError as exc:
            raise MissingDependencyError("the Chroma store", "llama-index-vector-stores-chroma") from exc
        chroma_settings = ChromaSettings(anonymized_telemetry=self.settings.telemetry, allow_reset=False)
        try:
            if self.config.kind == "embedded":
                self.settings.store_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(self.settings.store_dir), settings=chroma_settings)
            elif self.config.kind == "http":
                headers = {"X-Chroma-Token": self.config.api_key.get_secret_value()} if self.config.api_key else None
                client = chromadb.HttpClient(
                    host=self.config.host, port=self.config.port, ssl=self.config.ssl, headers=headers, settings=chroma_settings
                )
            else:  # pragma: no cover - the settings type rules this out
                raise ConfigError(f"unknown store kind {self.config.kind!r}: use embedded or http")
            # embedding_function=None: Chroma's default would download an ONNX model; we always pass vectors.
            self._collection = client.get_or_create_collection(
                self.config.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        except ConfigError:
            raise
        except Exception as exc:
            where = self.settings.store_dir if self.config.kind == "embedded" else f"{self.config.host}:{self.config.port}"
            raise StoreError(f"cannot open the Chroma store at {where} ({exc.__class__.__name__}: {exc}): check store.* settings") from exc
        self._vector_store = ChromaVectorStore(chroma_collection=self._collection)

    @property
    def collection(self) -> Any:
        self._open()
        return self._collection

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        if not chunks:
            return
        from llama_index.core.schema import TextNode

        self._open()
        size = self.config.batch_size
        for start in range(0, len(chunks), size):
            nodes = [
                TextNode(id_=c.id, text=c.text, metadata=c.metadata(), embedding=list(e))
                for c, e in zip(chunks[start : start + size], embeddings[start : start + size], strict=True)
            ]
            self._collection.delete(ids=[n.id_ for n in nodes])  # make add() an upsert
            self._vector_store.add(nodes)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))

    def delete_where(self, where: dict[str, Any]) -> None:
        self.collection.delete(where=where)

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` readable by `groups`; `docs`: only these documents."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        self._open()
        kwargs: dict[str, Any] = {}
        if (where := restrict_to_docs(group_filter(groups), docs)) is not None:
            kwargs["where"] = where
        try:
            result = self._vector_store.query(VectorStoreQuery(query_embedding=list(embedding), similarity_top_k=k), **kwargs)
        except Exception as exc:
            raise StoreError(f"the Chroma query failed ({exc.__class__.__name__}: {exc}): check that the store is reachable") from exc
        scored = []
        for node, similarity in zip(result.nodes or [], result.similarities or [], strict=True):
            chunk = Chunk.from_metadata(node.id_, node.get_content(), _plain_metadata(node.metadata))
            scored.append(ScoredChunk(chunk, cosine_from_llama_score(similarity), dense_score=cosine_from_llama_score(similarity)))
        return scored

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        found = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {i: Chunk.from_metadata(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        return list(self.collection.get(where=where, include=[])["ids"])

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        offset = 0
        while True:
            found = self.collection.get(limit=batch, offset=offset, include=["documents", "metadatas"])
            if not found["ids"]:
                return
            for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True):
                yield Chunk.from_metadata(i, d, m)
            offset += len(found["ids"])

    def count(self) -> int:
        return int(self.collection.count())


def cosine_from_llama_score(similarity: float) -> float:
    """llama-index's Chroma adapter reports exp(-distance); with cosine space, cos = 1 - distance."""
    if similarity <= 0:
        return -1.0
    return 1.0 + math.log(similarity)


_LLAMA_KEYS = ("_node_content", "_node_type", "document_id", "ref_doc_id", "doc_id")


def _plain_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _LLAMA_KEYS}


def make_store(settings: Settings) -> ChunkStore:
    match settings.store.kind:
        case "embedded" | "http":
            return ChromaStore(settings)
        case other:
            raise ConfigError(f"unknown store kind {other!r}: use embedded or http")
