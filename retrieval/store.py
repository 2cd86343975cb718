"""The chunk store: Chroma, embedded (PersistentClient under LORE_HOME) or a Chroma server
(HttpClient), written and queried through llama-index's ChromaVectorStore.

Access control lives in the query itself: every chunk carries one boolean metadata key per group
(`acl:<group>`), and a query for a user ORs the keys of the user's groups into Chroma's `where`.

Chroma evaluates such a filter over every chunk it matches before searching (0.3-0.7 s at 100k
chunks), so by default the store also keeps *group partitions*: one vector-only collection per
distinct group set (`<collection>--g-<hash>`, its groups in the collection metadata). A user's query
searches, unfiltered, only the partitions whose group set meets the user's groups — the same access
rule, decided per partition instead of per chunk — merges them by cosine and reads the texts from the
main collection, re-checking each hit's groups there. The main collection stays the record (backups,
counts, reads); a reader that finds the partitions out of step with it (a store written before
partitions existed, a restored server collection, a hit the re-check rejects) uses the filtered query
and brings the partitions back in step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from retrieval.errors import ConfigError, MissingDependencyError, StoreError
from retrieval.resident import ResidentIndex
from retrieval.store_stamp import Stamp, StoreStamp
from retrieval.schema import GROUP_KEY_PREFIX, Chunk, ScoredChunk, group_key
from retrieval.settings import Settings


log = logging.getLogger("lore.store")


def group_filter(groups: Sequence[str] | None) -> dict[str, Any] | None:
    """Chroma `where` clause admitting chunks readable by any of `groups` (None: no filter, for admins
    and maintenance jobs only; an empty list admits nothing)."""
    if groups is None:
        return None
    clauses = [{group_key(g): {"$eq": True}} for g in dict.fromkeys(groups)]
    if not clauses:
        return {group_key("\x00none"): {"$eq": True}}
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def ingest_running(lock: Path) -> bool:
    """Does a process hold the ingest lock (a kernel flock, see ingest/lock.py)? Read from
    /proc/locks, so asking never takes the lock and never makes a starting ingest fail."""
    try:
        inode = os.stat(lock).st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def restrict_to_docs(where: dict[str, Any] | None, docs: Sequence[str] | None) -> dict[str, Any] | None:
    """`where` narrowed to chunks of `docs` (None: no narrowing)."""
    if docs is None:
        return where
    only = {"doc": {"$in": list(dict.fromkeys(docs)) or ["\x00none"]}}
    return only if where is None else {"$and": [where, only]}


PARTITION_MARK = "--g-"
PARTITION_GROUPS_KEY = "lore:groups"


def partition_name(collection: str, groups: Iterable[str]) -> str:
    """The partition collection holding `collection`'s chunks readable by exactly `groups`."""
    digest = hashlib.sha256("\x00".join(sorted(set(groups))).encode("utf-8")).hexdigest()[:16]
    return f"{collection}{PARTITION_MARK}{digest}"


def acl_groups(meta: Mapping[str, Any]) -> frozenset[str]:
    """The groups a stored chunk's metadata admits: exactly the keys `group_filter` matches."""
    return frozenset(k[len(GROUP_KEY_PREFIX) :] for k, v in meta.items() if k.startswith(GROUP_KEY_PREFIX) and v is True)


class Partition(NamedTuple):
    groups: frozenset[str]
    collection: Any


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
        offset = 0
        while True:
            found = self._collection.get(limit=batch, offset=offset, include=["documents", "metadatas", "embeddings"])
            if not len(found["ids"]):
                break
            for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True):
                chunks.append(Chunk.from_metadata(i, d, _plain_metadata(m or {})))
                groups.append(acl_groups(m or {}))
                vectors.append(e)
            offset += len(found["ids"])
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
            i: (Chunk.from_metadata(i, d, _plain_metadata(m or {})), e)
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
            chunk = Chunk.from_metadata(node.id_, node.get_content(), _plain_metadata(node.metadata))
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

    # ---- group partitions -------------------------------------------------------------------------

    def partitions(self) -> dict[str, Partition]:
        """The partitions of this collection, listed afresh (another process may have added one)."""
        self._open()
        prefix = self.config.collection + PARTITION_MARK
        found: dict[str, Partition] = {}
        for col in self._client.list_collections():
            if col.name.startswith(prefix) and PARTITION_GROUPS_KEY in (col.metadata or {}):
                known = self._partitions.get(col.name)
                found[col.name] = known or Partition(frozenset(json.loads(col.metadata[PARTITION_GROUPS_KEY])), col)
        self._partitions = found
        return found

    def _partition(self, groups: frozenset[str]) -> Any:
        name = partition_name(self.config.collection, groups)
        if name not in self._partitions:
            meta = {"hnsw:space": "cosine", PARTITION_GROUPS_KEY: json.dumps(sorted(groups))}
            col = self._client.get_or_create_collection(name, embedding_function=None, metadata=meta)
            self._partitions[name] = Partition(groups, col)
        return self._partitions[name].collection

    def _place(self, ids: Sequence[str], groups: Sequence[frozenset[str]], docs: Sequence[str], embeddings: Sequence[Sequence[float]]) -> None:
        """Put each chunk's vector into its group set's partition, and take it out of every other."""
        target = [partition_name(self.config.collection, g) for g in groups]
        for name, part in self.partitions().items():
            elsewhere = [i for i, t in zip(ids, target, strict=True) if t != name]
            for start in range(0, len(elsewhere), 5000):
                part.collection.delete(ids=elsewhere[start : start + 5000])
        rows: dict[str, list[int]] = {}
        for n, t in enumerate(target):
            rows.setdefault(t, []).append(n)
        size = self.config.batch_size
        for idx in rows.values():
            col = self._partition(groups[idx[0]])
            for start in range(0, len(idx), size):
                part_idx = idx[start : start + size]
                col.upsert(
                    ids=[ids[n] for n in part_idx],
                    embeddings=[list(map(float, embeddings[n])) for n in part_idx],
                    metadatas=[{"doc": docs[n]} for n in part_idx],  # for queries narrowed to named documents
                )

    def _unplace(self, ids: list[str]) -> None:
        if not ids or not self.config.group_partitions:
            return
        for part in self.partitions().values():
            for start in range(0, len(ids), 5000):
                part.collection.delete(ids=ids[start : start + 5000])

    def _partitions_in_step(self) -> bool:
        """Every `partition_check_s`: do the partitions hold as many chunks as the collection? If not,
        bring them in step (exact, incremental). Between checks, the re-check of hits guards.
        While an ingest holds the lock the counts differ on purpose and only that ingest may write
        (embedded Chroma has one writer): False, and the caller runs the filtered query."""
        with self._lock:
            if time.monotonic() - self._checked_at < self.config.partition_check_s:
                return True
            self._open()
            if self._resync or self.count() != sum(p.collection.count() for p in self.partitions().values()):
                if self.config.kind == "embedded" and ingest_running(self.settings.home / "ingest.lock"):
                    return False
                self.sync_partitions()
            self._checked_at, self._resync = time.monotonic(), False
            return True

    def sync_partitions(self, batch: int = 2000) -> int:
        """Make the partitions hold exactly the collection's chunks, each in the partition of its
        group set; returns how many vectors were written or removed."""
        self._open()
        want: dict[str, str] = {}  # chunk id -> partition name
        groups_of: dict[str, frozenset[str]] = {}
        doc_of: dict[str, str] = {}
        offset = 0
        while True:
            found = self._collection.get(limit=batch, offset=offset, include=["metadatas"])
            if not found["ids"]:
                break
            for i, m in zip(found["ids"], found["metadatas"], strict=True):
                groups = acl_groups(m or {})
                want[i] = name = partition_name(self.config.collection, groups)
                doc_of[i] = str(m.get("doc", "")) if m else ""
                groups_of.setdefault(name, groups)
            offset += len(found["ids"])
        changed = 0
        held: set[tuple[str, str]] = set()
        for name, part in self.partitions().items():
            have = part.collection.get(include=[])["ids"]
            stale = [i for i in have if want.get(i) != name]
            for start in range(0, len(stale), 5000):
                part.collection.delete(ids=stale[start : start + 5000])
            changed += len(stale)
            held.update((i, name) for i in have if want.get(i) == name)
        missing = [i for i, name in want.items() if (i, name) not in held]
        for start in range(0, len(missing), batch):
            found = self._collection.get(ids=missing[start : start + batch], include=["embeddings"])
            ids = list(found["ids"])
            self._place(ids, [groups_of[want[i]] for i in ids], [doc_of[i] for i in ids], found["embeddings"])
            changed += len(ids)
        return changed

    def _query_partitions(
        self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None
    ) -> list[ScoredChunk] | None:
        """The k nearest chunks readable by `groups` from the partitions; None when a hit's groups in
        the main collection disagree with its partition (the caller then runs the filtered query)."""
        wanted = None if groups is None else frozenset(groups)
        hits: list[tuple[float, str]] = []
        try:
            for part in self.partitions().values():
                if wanted is None or part.groups & wanted:
                    r = part.collection.query(
                        query_embeddings=[list(map(float, embedding))], n_results=k, include=["distances"], where=restrict_to_docs(None, docs)
                    )
                    hits.extend(zip(r["distances"][0], r["ids"][0], strict=True))
            hits = sorted(hits)
            ids = list(dict.fromkeys(i for _, i in hits))[:k]  # a chunk caught mid-move may sit in two
            distance = {i: d for d, i in reversed(hits)}
            found = self._collection.get(ids=ids, include=["documents", "metadatas"]) if ids else {"ids": []}
        except Exception as exc:
            raise StoreError(f"the Chroma query failed ({exc.__class__.__name__}: {exc}): check that the store is reachable") from exc
        record = {i: (d, m or {}) for i, d, m in zip(found["ids"], found.get("documents") or [], found.get("metadatas") or [], strict=True)}
        scored = []
        for i in ids:
            meta = record.get(i, (None, {}))[1]
            if i not in record or (wanted is not None and not acl_groups(meta) & wanted) or (docs is not None and meta.get("doc") not in docs):
                self._checked_at, self._resync = -math.inf, True  # out of step: the next query re-syncs
                return None
            chunk = Chunk.from_metadata(i, record[i][0], _plain_metadata(record[i][1]))
            cosine = 1.0 - distance[i]
            scored.append(ScoredChunk(chunk, cosine, dense_score=cosine))
        return scored


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
