"""The chunk store: Chroma, embedded (PersistentClient under LORE_HOME) or a Chroma server
(HttpClient), written and queried through llama-index's ChromaVectorStore.

Access control lives in the query itself: every chunk carries one boolean metadata key per group
(`acl:<group>`), and a query for a user ORs the keys of the user's groups into Chroma's `where`
(retrieval/chroma_records.py). Two faster paths give the same answers: group partitions searched
unfiltered (retrieval/partitions.py) and, for the API and the app, an in-memory copy of a small
store (retrieval/resident.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from retrieval.chroma_records import acl_groups, cosine_from_llama_score, group_filter, plain_metadata, restrict_to_docs
from retrieval.errors import ConfigError, MissingDependencyError, StoreError
from retrieval.partitions import Partition, PartitionedStore
from retrieval.resident import ResidentIndex
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import Settings
from retrieval.store_stamp import Stamp, StoreStamp, ingest_running

__all__ = ["ChromaStore", "ChunkStore", "group_filter", "make_store"]

log = logging.getLogger("lore.store")


@runtime_checkable
class ChunkStore(Protocol):
    """What Lore uses of a vector store: the index writes (`upsert`, `delete`), retrieval reads
    (`query`, `get`, `fetch`, `ids_at`), `count`, and `keep_resident` for long-running readers.
    tests/unit/test_store_contract.py runs the same checks over every implementation."""

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


class ChromaStore(PartitionedStore):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.config = settings.store
        self._client: Any = None
        self._collection: Any = None
        self._vector_store: Any = None
        self._partitions: dict[str, Partition] = {}
        self._checked_at = -math.inf
        self._resync = False  # a hit was rejected by the record: rebuild, even if the counts agree
        self._lock = threading.Lock()
        self._seen: Stamp = None  # the embedded store's content as this store's client last knew it
        self._refreshed_at = -math.inf
        self._stamps = StoreStamp(settings.store_dir, every_s=self.LOOK_S)
        self._opening = threading.Lock()
        self._resident: ResidentIndex | None = None  # an in-memory copy, for long-running readers (keep_resident)
        self._resident_wanted = False
        self._resident_loading = threading.Lock()
        self._resident_tried_at = -math.inf

    def _open(self) -> None:
        if self._collection is not None:
            return
        with self._opening:
            if self._collection is None:
                seen = self._stamp()  # before opening: a write after it is seen on the next look
                self._client, self._collection = self._connect()
                self._seen = seen if seen is not None else self._stamp()  # a new store: created just now

    def _connect(self) -> tuple[Any, Any]:
        """A new Chroma client and its collection."""
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
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
            collection = client.get_or_create_collection(self.config.collection, embedding_function=None, metadata={"hnsw:space": "cosine"})
        except ConfigError:
            raise
        except Exception as exc:
            where = self.settings.store_dir if self.config.kind == "embedded" else f"{self.config.host}:{self.config.port}"
            raise StoreError(f"cannot open the Chroma store at {where} ({exc.__class__.__name__}: {exc}): check store.* settings") from exc
        return client, collection

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the collection, built on first use (importing llama-index takes
        about 1.7 s, which an unchanged re-ingest or a count never needs)."""
        self._open()
        if self._vector_store is None:
            try:
                from llama_index.vector_stores.chroma import ChromaVectorStore
            except ImportError as exc:
                raise MissingDependencyError("the Chroma store", "llama-index-vector-stores-chroma") from exc
            self._vector_store = ChromaVectorStore(chroma_collection=self._collection)
        return self._vector_store

    # Embedded Chroma keeps each collection's vector index in memory. When another process (the
    # nightly ingest beside a running app or API) writes to the same directory, that copy misses the
    # new chunks (Chroma fails with "Error finding id") and still holds deleted ones. A reader that
    # sees the content changed behind its back (retrieval/store_stamp.py) opens the store again — at
    # most every REFRESH_S while the writer is busy, at once when Chroma reports a missing id.
    REFRESH_S = 5.0
    LOOK_S = 0.5  # how often a reader looks for other processes' writes

    def _stamp(self) -> Stamp:
        return self._stamps.read() if self.config.kind == "embedded" else None

    def _look(self) -> Stamp:
        return self._stamps.look() if self.config.kind == "embedded" else None

    def _refresh(self, force: bool = False) -> None:
        if self._collection is None or self.config.kind != "embedded":
            return
        if not force and (self._look() == self._seen or time.monotonic() - self._refreshed_at < self.REFRESH_S):
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._opening:  # one reopen at a time; queries running meanwhile finish on the old client
            if not force and self._look() == self._seen:
                return  # another thread has just reopened it
            seen = self._stamp()
            # Only this directory's shared system is forgotten, and not stopped: another store object
            # of this process, or a query still running, may hold it; the new client reads the files.
            identifier = getattr(self._client, "_identifier", None)
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            client, collection = self._connect()
            self._client, self._collection, self._vector_store = client, collection, None
            self._partitions = {}
            self._checked_at = -math.inf
            self._seen, self._refreshed_at = seen, time.monotonic()

    def _wrote(self) -> None:
        """This store's own write: its in-memory index already has it."""
        self._seen = self._stamp()

    def _fresh_read(self, read: Any) -> Any:
        """Run `read()`; when Chroma misses an id another process wrote, reopen and run it once more."""
        self._refresh()
        try:
            return read()
        except Exception as exc:
            if self.config.kind != "embedded" or "finding id" not in str(exc):
                raise
        self._refresh(force=True)
        return read()

    @property
    def collection(self) -> Any:
        self._open()
        self._refresh()
        return self._collection

    # ---- the in-memory copy (retrieval/resident.py) -------------------------------------------------

    def keep_resident(self) -> bool:
        """Hold this store in memory from now on, when it is embedded and has at most
        `store.resident_max_chunks` chunks: for the API and the app, which answer many questions from
        one store (a one-shot command would pay the read for nothing). True when the copy is ready."""
        if self.config.kind != "embedded" or not self.config.resident_max_chunks:
            return False
        self._resident_wanted = True
        self._load_resident()
        return self._resident is not None

    def _resident_index(self) -> ResidentIndex | None:
        """The in-memory copy while it matches the store's files, else None (the caller asks Chroma)
        and a fresh copy is read in the background, at most one read per REFRESH_S."""
        if not self._resident_wanted:
            return None
        current = self._resident
        if current is not None and current.stamp == self._look():
            return current
        if time.monotonic() - self._resident_tried_at >= self.REFRESH_S and not self._resident_loading.locked():
            self._resident_tried_at = time.monotonic()
            if ingest_running(self.settings.home / "ingest.lock"):
                return None  # reading the store again after every batch would cost more than Chroma's answers
            threading.Thread(target=self._load_resident, name="lore-resident", daemon=True).start()
        return None

    def _load_resident(self, batch: int = 2000) -> None:
        if not self._resident_loading.acquire(blocking=False):
            return
        try:
            self._read_resident(batch)
        except Exception as exc:  # the copy is only a cache: Chroma keeps answering
            self._resident = None
            log.warning("could not hold the store in memory (%s: %s); queries go to Chroma", type(exc).__name__, exc)
        finally:
            self._resident_loading.release()

    def _read_resident(self, batch: int) -> None:
        self._resident_tried_at = time.monotonic()
        self._open()
        before = self._stamp()
        if before != self._seen:
            self._refresh(force=True)  # Chroma's in-memory vectors miss what another process wrote
        if self.count() > self.config.resident_max_chunks:
            self._resident = None
            return
        chunks, vectors, groups = [], [], []
        for found in self._pages(["documents", "metadatas", "embeddings"], batch):
            for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True):
                chunks.append(Chunk.from_metadata(i, d, plain_metadata(m or {})))
                groups.append(acl_groups(m or {}))
                vectors.append(e)
        if self._stamp() == before:  # else written meanwhile: the next query asks for a fresh copy
            self._resident = ResidentIndex(before, chunks, vectors, groups)

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        """Chunks with their stored vectors, by id (missing ids are left out)."""
        if not ids:
            return {}
        resident = self._resident_index()
        if resident is not None:
            vectors = resident.vectors_of(ids)
            return {c.id: (c, vectors[c.id]) for c in resident.get(ids)}
        self._open()
        found = self._fresh_read(lambda: self._collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"]))
        return {
            i: (Chunk.from_metadata(i, d, plain_metadata(m or {})), e)
            for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True)
        }

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
            self.vector_store.add(nodes)
        if self.config.group_partitions:  # after the record: a hit the partitions still hold is re-checked there
            self._place([c.id for c in chunks], [frozenset(c.groups) for c in chunks], [c.doc_id for c in chunks], embeddings)
        self._wrote()

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))
            self._unplace(list(ids))
            self._wrote()

    def delete_where(self, where: dict[str, Any]) -> None:
        ids = self.ids_where(where) if self.config.group_partitions else []
        self.collection.delete(where=where)
        self._unplace(ids)
        self._wrote()

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` readable by `groups`; `docs`: only these documents."""
        resident = self._resident_index()
        if resident is not None:
            return resident.query(embedding, k, groups, docs)
        self._open()
        return self._fresh_read(lambda: self._query(embedding, k, groups, docs))

    def _query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None) -> list[ScoredChunk]:
        if self.config.group_partitions and self._partitions_in_step():
            found = self._query_partitions(embedding, k, groups, docs)
            if found is not None:
                return found
        return self._query_filtered(embedding, k, groups, docs)

    def _query_filtered(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        self._open()
        kwargs: dict[str, Any] = {}
        if (where := restrict_to_docs(group_filter(groups), docs)) is not None:
            kwargs["where"] = where
        try:
            result = self.vector_store.query(VectorStoreQuery(query_embedding=list(embedding), similarity_top_k=k), **kwargs)
        except Exception as exc:
            raise StoreError(f"the Chroma query failed ({exc.__class__.__name__}: {exc}): check that the store is reachable") from exc
        scored = []
        for node, similarity in zip(result.nodes or [], result.similarities or [], strict=True):
            chunk = Chunk.from_metadata(node.id_, node.get_content(), plain_metadata(node.metadata))
            scored.append(ScoredChunk(chunk, cosine_from_llama_score(similarity), dense_score=cosine_from_llama_score(similarity)))
        return scored

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        resident = self._resident_index()
        if resident is not None:
            return resident.get(ids)
        self._open()
        found = self._fresh_read(lambda: self._collection.get(ids=list(ids), include=["documents", "metadatas"]))
        by_id = {i: Chunk.from_metadata(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids matching a Chroma `where` filter (maintenance and tests; callers use `ids_at`)."""
        return list(self.collection.get(where=where, include=[])["ids"])

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        return self.ids_where({"$and": [{"doc": doc_id}, {"chunk_index": chunk_index}]})

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        self._refresh()  # an open client first sees what other processes wrote
        for found in self._pages(["documents", "metadatas"], batch):
            for i, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True):
                yield Chunk.from_metadata(i, d, m)

    def _pages(self, include: list[str], batch: int) -> Iterator[dict[str, Any]]:
        """The whole collection, `batch` records at a time (ids plus `include`)."""
        self._open()
        offset = 0
        while True:
            found = self._collection.get(limit=batch, offset=offset, include=include)
            if not len(found["ids"]):
                return
            yield found
            offset += len(found["ids"])

    def count(self) -> int:
        return int(self.collection.count())

def make_store(settings: Settings) -> ChunkStore:
    match settings.store.kind:
        case "embedded" | "http":
            return ChromaStore(settings)
        case other:
            raise ConfigError(f"unknown store kind {other!r}: use embedded or http")
