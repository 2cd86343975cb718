"""Group partitions of the Chroma store: one vector-only collection per distinct group set.

Chroma evaluates a `where` filter over every chunk it matches before searching (0.3-0.7 s at 100k
chunks), so by default the store also keeps *group partitions* (`<collection>--g-<hash>`, the
group set in the collection's metadata). A user's query searches, unfiltered, only the partitions
whose group set meets the user's groups — the same access rule, decided per partition instead of
per chunk — merges them by cosine and reads the texts from the main collection, re-checking each
hit's groups there. The main collection stays the record (backups, counts, reads); a reader that
finds the partitions out of step with it (a store written before partitions existed, a restored
server collection, a hit the re-check rejects) uses the filtered query and brings the partitions
back in step. `PartitionedStore` is the part of `ChromaStore` (retrieval/store.py) that does this.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from retrieval.chroma_records import acl_groups, plain_metadata, restrict_to_docs
from retrieval.errors import StoreError
from retrieval.schema import Chunk, ScoredChunk
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


class PartitionedStore:
    """The group-partition methods of ChromaStore (which provides `_open`, `_pages`, `_client`,
    `_collection`, `count`, `config`, `settings`, `_lock`, `_partitions`, `_checked_at` and `_resync`)."""

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
        want: dict[str, str] = {}  # chunk id -> partition name
        groups_of: dict[str, frozenset[str]] = {}
        doc_of: dict[str, str] = {}
        for found in self._pages(["metadatas"], batch):
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
            chunk = Chunk.from_metadata(i, record[i][0], plain_metadata(record[i][1]))
            cosine = 1.0 - distance[i]
            scored.append(ScoredChunk(chunk, cosine, dense_score=cosine))
        return scored
