"""A store's chunks held in memory and searched exactly, for long-running readers of small stores.

Every Chroma call of an embedded store costs milliseconds of fixed overhead (a query 5-9 ms, a read of
a few chunks 2-4 ms, measured on the 512-chunk sample corpus) however few chunks it holds, while a
matrix product over 20,000 vectors takes about a millisecond. So the API and the app, which answer
many questions from one store, keep a copy of a store of at most `store.resident_max_chunks` chunks:
its vectors, texts and groups.

The copy is a cache of the Chroma collection, never the record. It is tied to a stamp of the store's
content (retrieval/store_stamp.py): once anything writes to the store, this process or another, the
copy no longer answers, queries go to Chroma again, and a fresh copy is read in the background.

Access control is the same rule as Chroma's `where`: a chunk is searched only if one of its groups is
one of the reader's, decided before scoring (a mask over the matrix), never by filtering results.

`ResidentIndex` is the copy; `ResidentStore` is the ChunkStore wrapper that holds one in front of a
Chroma store (retrieval/store.py builds it with `make_store`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from retrieval.chroma_connection import ChromaConnection
from retrieval.chroma_records import acl_groups, plain_metadata
from retrieval.chunk_store import ChunkStore, StoreWrapper
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import Settings
from retrieval.store_stamp import ingest_running

log = logging.getLogger("lore.store")


class ResidentIndex:
    def __init__(self, stamp: Any, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], groups: Sequence[frozenset[str]]):
        self.stamp = stamp
        self.chunks = list(chunks)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(self.chunks), -1) if self.chunks else np.zeros((0, 1), np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.vectors = matrix / np.where(norms > 0, norms, 1.0)  # cosine space, as the collection is
        self.rows = {c.id: n for n, c in enumerate(self.chunks)}
        self._by_group: dict[str, list[int]] = {}
        self._by_doc: dict[str, list[int]] = {}
        self._at: dict[tuple[str, int], list[str]] = {}
        for n, (chunk, chunk_groups) in enumerate(zip(self.chunks, groups, strict=True)):
            for g in chunk_groups:
                self._by_group.setdefault(g, []).append(n)
            self._by_doc.setdefault(chunk.doc_id, []).append(n)
            self._at.setdefault((chunk.doc_id, chunk.chunk_index), []).append(chunk.id)
        self._masks: dict[frozenset[str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.chunks)

    def _rows_mask(self, rows: Iterable[int]) -> np.ndarray:
        mask = np.zeros(len(self.chunks), dtype=bool)
        mask[np.fromiter(rows, dtype=np.int64)] = True
        return mask

    def _readable(self, groups: Sequence[str]) -> np.ndarray:
        key = frozenset(groups)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._rows_mask(n for g in key for n in self._by_group.get(g, ()))
            if len(self._masks) < 256:  # distinct group sets of the readers; bounded all the same
                self._masks[key] = mask
        return mask

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The `k` chunks nearest to `embedding` (cosine) readable by `groups` (None: all), of `docs`
        only when given."""
        if not self.chunks or k <= 0:
            return []
        mask = None if groups is None else self._readable(groups)
        if docs is not None:
            in_docs = self._rows_mask(n for d in dict.fromkeys(docs) for n in self._by_doc.get(d, ()))
            mask = in_docs if mask is None else mask & in_docs
        q = np.asarray(embedding, dtype=np.float32)
        q = q / (np.linalg.norm(q) or 1.0)
        if mask is None:
            rows = np.arange(len(self.chunks))
        else:
            rows = np.flatnonzero(mask)
            if not len(rows):
                return []
        scores = self.vectors @ q  # every row (about a millisecond at 20,000), then the readable ones
        if mask is not None:
            scores = scores[rows]
        if len(rows) > k:
            best = np.argpartition(-scores, k - 1)[:k]
        else:
            best = np.arange(len(rows))
        best = best[np.lexsort((rows[best], -scores[best]))]  # by score, ties by position: deterministic
        return [ScoredChunk(self.chunks[rows[i]], float(scores[i]), dense_score=float(scores[i])) for i in best]

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[self.rows[i]] for i in ids if i in self.rows]

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        return list(self._at.get((doc_id, chunk_index), ()))

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self.vectors[self.rows[i]] for i in ids if i in self.rows}


class ResidentStore(StoreWrapper):
    """A ChunkStore that answers `query`, `get`, `fetch` and `ids_at` from an in-memory copy of
    `connection`'s collection while the copy matches the store's files, and from `inner` (a store on
    that connection) otherwise; writes and `count` are `inner`'s. Off until `keep_resident`."""

    REFRESH_S = ChromaConnection.REFRESH_S  # at most one read of a fresh copy this often

    def __init__(self, inner: ChunkStore, connection: ChromaConnection, settings: Settings):
        super().__init__(inner)
        self.connection = connection
        self.config = settings.store
        self.ingest_lock = settings.home / "ingest.lock"
        self._resident: ResidentIndex | None = None
        self._wanted = False
        self._loading = threading.Lock()
        self._tried_at = -math.inf

    def keep_resident(self) -> bool:
        """Hold this store in memory from now on, when it is embedded and has at most
        `store.resident_max_chunks` chunks: for the API and the app, which answer many questions from
        one store (a one-shot command would pay the read for nothing). True when the copy is ready."""
        if self.config.kind != "embedded" or not self.config.resident_max_chunks:
            return False
        self._wanted = True
        self._load()
        return self._resident is not None

    def held(self) -> ResidentIndex | None:
        """The in-memory copy while it matches the store's files, else None (the caller asks `inner`)
        and a fresh copy is read in the background, at most one read per REFRESH_S."""
        if not self._wanted:
            return None
        current = self._resident
        if current is not None and current.stamp == self.connection.look():
            return current
        if time.monotonic() - self._tried_at >= self.REFRESH_S and not self._loading.locked():
            self._tried_at = time.monotonic()
            if ingest_running(self.ingest_lock):
                return None  # reading the store again after every batch would cost more than Chroma's answers
            threading.Thread(target=self._load, name="lore-resident", daemon=True).start()
        return None

    def _load(self, batch: int = 2000) -> None:
        if not self._loading.acquire(blocking=False):
            return
        try:
            self._read(batch)
        except Exception as exc:  # the copy is only a cache: Chroma keeps answering
            self._resident = None
            log.warning("could not hold the store in memory (%s: %s); queries go to Chroma", type(exc).__name__, exc)
        finally:
            self._loading.release()

    def _read(self, batch: int) -> None:
        self._tried_at = time.monotonic()
        self.connection.open()
        before = self.connection.stamp()
        if before != self.connection.seen:
            self.connection.refresh(force=True)  # Chroma's in-memory vectors miss what another process wrote
        if self.inner.count() > self.config.resident_max_chunks:
            self._resident = None
            return
        chunks, vectors, groups = [], [], []
        for found in self.connection.pages(["documents", "metadatas", "embeddings"], batch):
            for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True):
                chunks.append(Chunk.from_metadata(i, d, plain_metadata(m or {})))
                groups.append(acl_groups(m or {}))
                vectors.append(e)
        if self.connection.stamp() == before:  # else written meanwhile: the next query asks for a fresh copy
            self._resident = ResidentIndex(before, chunks, vectors, groups)

    # ---- ChunkStore -----------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        self.inner.upsert(chunks, embeddings)  # the copy's stamp no longer matches: it stops answering

    def delete(self, ids: Sequence[str]) -> None:
        self.inner.delete(ids)

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        resident = self.held()
        if resident is not None:
            return resident.query(embedding, k, groups, docs)
        return self.inner.query(embedding, k, groups, docs)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        resident = self.held()
        return resident.get(ids) if resident is not None else self.inner.get(ids)

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        if not ids:
            return {}
        resident = self.held()
        if resident is None:
            return self.inner.fetch(ids)
        vectors = resident.vectors_of(ids)
        return {c.id: (c, vectors[c.id]) for c in resident.get(ids)}

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        resident = self.held()
        return resident.ids_at(doc_id, chunk_index) if resident is not None else self.inner.ids_at(doc_id, chunk_index)

    def count(self) -> int:
        return self.inner.count()
