"""Group partitions of the Chroma store: one vector-only collection per distinct group set.

Chroma evaluates a `where` filter over every chunk it matches before searching (0.3-0.7 s at 100k
chunks), so by default the store also keeps *group partitions* (`<collection>--g-<hash>`, the
group set in the collection's metadata). A user's query searches, unfiltered, only the partitions
whose group set meets the user's groups — the same access rule, decided per partition instead of
per chunk — merges them by cosine and reads the texts from the main collection, re-checking each
hit's groups there. The main collection stays the record (backups, counts, reads); a reader that
finds the partitions out of step with it (a store written before partitions existed, a restored
server collection, a hit the re-check rejects) uses the filtered query and brings the partitions
back in step. `PartitionedStore` does this: a wrapper around the Chroma store (retrieval/store.py),
whose `query` is the filtered query, on the same connection.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from retrieval.chroma_connection import ChromaConnection, query_failed
from retrieval.chroma_records import acl_groups, plain_metadata, restrict_to_docs
from retrieval.chunk_store import ChunkStore, StoreWrapper
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import Settings
from retrieval.store_stamp import ingest_running

PARTITION_MARK = "--g-"
PARTITION_GROUPS_KEY = "lore:groups"


def partition_name(collection: str, groups: Iterable[str]) -> str:
    """The partition collection holding `collection`'s chunks readable by exactly `groups`."""
    digest = hashlib.sha256("\x00".join(sorted(set(groups))).encode("utf-8")).hexdigest()[:16]
    return f"{collection}{PARTITION_MARK}{digest}"


class Partition(NamedTuple):
    groups: frozenset[str]
    collection: Any


class PartitionedStore(StoreWrapper):
    """A ChunkStore that answers queries from the group partitions of `connection`'s collection,
    kept beside `inner` (the Chroma store on that connection, whose `query` is the filtered query,
    used whenever the partitions are out of step). Writes go to `inner` first, then to the
    partitions; `get`, `fetch`, `ids_at` and `count` are `inner`'s."""

    def __init__(self, inner: ChunkStore, connection: ChromaConnection, settings: Settings):
        super().__init__(inner)
        self.connection = connection
        self.config = settings.store
        self.ingest_lock = settings.home / "ingest.lock"
        self._partitions: dict[str, Partition] = {}
        self._client: Any = None  # the client whose collections `_partitions` holds
        self._checked_at = -math.inf
        self._resync = False  # a hit was rejected by the record: rebuild, even if the counts agree
        self._lock = threading.Lock()

    # ---- ChunkStore -----------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        if not chunks:
            return
        self.inner.upsert(chunks, embeddings)  # the record first: a hit the partitions still hold is re-checked there
        self._place([c.id for c in chunks], [frozenset(c.groups) for c in chunks], [c.doc_id for c in chunks], embeddings)
        self.connection.wrote()

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.inner.delete(ids)
            self._unplace(list(ids))
            self.connection.wrote()

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` readable by `groups` (`docs`: only these documents),
        from the partitions while they are in step with the collection, else from `inner`."""
        found = self.connection.fresh_read(lambda: self._query_partitions(embedding, k, groups, docs) if self._in_step() else None)
        return found if found is not None else self.inner.query(embedding, k, groups, docs)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        return self.inner.get(ids)

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        return self.inner.fetch(ids)

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        return self.inner.ids_at(doc_id, chunk_index)

    def count(self) -> int:
        return self.inner.count()

    def keep_resident(self) -> bool:
        return self.inner.keep_resident()

    # ---- the partitions ---------------------------------------------------------------------------

    def _held(self) -> dict[str, Partition]:
        """The partitions known on the connection's client. After a reopen (another process wrote)
        none are: the old client's collections are not used again, and the next query checks the
        partitions against the collection."""
        client = self.connection.client
        if client is not self._client:
            self._client, self._partitions, self._checked_at = client, {}, -math.inf
        return self._partitions

    def partitions(self) -> dict[str, Partition]:
        """The partitions of this collection, listed afresh (another process may have added one)."""
        known = self._held()
        prefix = self.config.collection + PARTITION_MARK
        found: dict[str, Partition] = {}
        for col in self._client.list_collections():
            if col.name.startswith(prefix) and PARTITION_GROUPS_KEY in (col.metadata or {}):
                found[col.name] = known.get(col.name) or Partition(frozenset(json.loads(col.metadata[PARTITION_GROUPS_KEY])), col)
        self._partitions = found
        return found

    def _partition(self, groups: frozenset[str]) -> Any:
        name = partition_name(self.config.collection, groups)
        held = self._held()
        if name not in held:
            meta = {"hnsw:space": "cosine", PARTITION_GROUPS_KEY: json.dumps(sorted(groups))}
            col = self._client.get_or_create_collection(name, embedding_function=None, metadata=meta)
            held[name] = Partition(groups, col)
        return held[name].collection

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
        for part in self.partitions().values():
            for start in range(0, len(ids), 5000):
                part.collection.delete(ids=ids[start : start + 5000])

    def _in_step(self) -> bool:
        """Every `partition_check_s`: do the partitions hold as many chunks as the collection? If not,
        bring them in step (exact, incremental). Between checks, the re-check of hits guards.
        While an ingest holds the lock the counts differ on purpose and only that ingest may write
        (embedded Chroma has one writer): False, and the caller runs the filtered query."""
        with self._lock:
            self._held()
            if time.monotonic() - self._checked_at < self.config.partition_check_s:
                return True
            if self._resync or self.inner.count() != sum(p.collection.count() for p in self.partitions().values()):
                if self.config.kind == "embedded" and ingest_running(self.ingest_lock):
                    return False
                self.sync_partitions()
            self._checked_at, self._resync = time.monotonic(), False
            return True

    def sync_partitions(self, batch: int = 2000) -> int:
        """Make the partitions hold exactly the collection's chunks, each in the partition of its
        group set; returns how many vectors were written or removed."""
        want: dict[str, str] = {}  # chunk id -> partition name
        groups_of: dict[str, frozenset[str]] = {}
        doc_of: dict[str, str] = {}
        for found in self.connection.pages(["metadatas"], batch):
            for i, m in zip(found["ids"], found["metadatas"], strict=True):
                groups = acl_groups(m or {})
                want[i] = name = partition_name(self.config.collection, groups)
                doc_of[i] = str(m.get("doc", "")) if m else ""
                groups_of.setdefault(name, groups)
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
            found = self.connection.open().get(ids=missing[start : start + batch], include=["embeddings"])
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
            found = self.connection.open().get(ids=ids, include=["documents", "metadatas"]) if ids else {"ids": []}
        except Exception as exc:
            raise query_failed(exc) from exc
        record = {i: (d, m or {}) for i, d, m in zip(found["ids"], found.get("documents") or [], found.get("metadatas") or [], strict=True)}
        scored = []
        for i in ids:
            meta = record.get(i, (None, {}))[1]
            if i not in record or (wanted is not None and not acl_groups(meta) & wanted) or (docs is not None and meta.get("doc") not in docs):
                self._checked_at, self._resync = -math.inf, True  # out of step: the next query re-syncs
                return None
            chunk = Chunk.from_metadata(i, record[i][0], plain_metadata(record[i][1]))
            cosine = 1.0 - distance[i]
            scored.append(ScoredChunk(chunk, cosine, dense_score=cosine))
        return scored
