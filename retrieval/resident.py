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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from retrieval.schema import Chunk, ScoredChunk


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
        for n, (chunk, chunk_groups) in enumerate(zip(self.chunks, groups, strict=True)):
            for g in chunk_groups:
                self._by_group.setdefault(g, []).append(n)
            self._by_doc.setdefault(chunk.doc_id, []).append(n)
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

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self.vectors[self.rows[i]] for i in ids if i in self.rows}
