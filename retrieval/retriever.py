"""Hybrid retrieval: dense (Chroma) + lexical (FTS5 BM25) over the same chunks, fused, optionally
reranked. The user's groups are a filter inside both queries, never applied afterwards.

Fusion works on ids and ranks; only the chunks that are returned (or feed back into the query) are
read from the store. Every returned chunk carries its cosine similarity to the query (`dense_score`),
also when only the lexical side found it: the refusal threshold compares like with like.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.embedders import Embedder
from retrieval.lexical import LexicalIndex, expansion_terms, query_terms
from retrieval.names import DocumentNames
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import RetrievalSettings
from retrieval.store import ChunkStore

PARALLEL_MIN_CHUNKS = 20_000


@runtime_checkable
class Reranker(Protocol):
    """Reorders candidates by relevance to the query; returns at most `top_k`, best first."""

    name: str

    def rerank(self, query: str, candidates: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...

    def warm_up(self) -> None: ...


@dataclass(frozen=True)
class Retrieval:
    """What one query found: the fused ranking (best first) and the best dense similarity among it."""

    chunks: list[ScoredChunk]
    best_dense: float

    @property
    def empty(self) -> bool:
        return not self.chunks


class Retriever:
    def __init__(
        self,
        config: RetrievalSettings,
        store: ChunkStore,
        embedder: Embedder,
        lexical: LexicalIndex | None,
        reranker: Reranker | None = None,
        names: DocumentNames | None = None,
    ):
        self.config = config
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.reranker = reranker
        self.names = names
        self._pool: ThreadPoolExecutor | None = None
        self._size: tuple[float, int] = (-math.inf, 0)  # (when counted, chunks) of a store without lexical index
        self._gate: threading.BoundedSemaphore | None = None

    def limit_concurrency(self, limit: int) -> None:
        """From now on at most `limit` retrievals run at once (the API: against the embedded store a
        retrieval is Python work, and a second one beside it only adds switching)."""
        self._gate = threading.BoundedSemaphore(max(1, limit))

    def _background(self, fn, *args, **kwargs) -> Future:
        """Start `fn` beside the caller's own work (SQLite and torch release the GIL). On an index of
        fewer than PARALLEL_MIN_CHUNKS chunks, where a BM25 query takes about a millisecond, it runs
        at once instead: handing it to a thread and back costs more than it saves under load."""
        if self._chunks() < PARALLEL_MIN_CHUNKS:
            done: Future = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # re-raised by .result(), as a thread's would be
                done.set_exception(exc)
            return done
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lore-retrieve")
        return self._pool.submit(fn, *args, **kwargs)

    def _feedback_pays(self) -> bool:
        """Feedback doubles the cost of a query; above `feedback_max_chunks` chunks it is skipped."""
        limit = self.config.feedback_max_chunks
        if not limit:
            return True
        return self._chunks() <= limit

    def _chunks(self) -> int:
        """Chunks in the index, counted at most once a minute (the lexical index keeps its own count)."""
        if self.lexical is not None:
            return self.lexical.count_cached()
        counted_at, chunks = self._size
        if time.monotonic() - counted_at > 60.0:
            chunks = self.store.count()
            self._size = (time.monotonic(), chunks)
        return chunks

    def retrieve(self, query: str, groups: Sequence[str] | None, top_k: int | None = None, docs: Sequence[str] | None = None) -> Retrieval:
        """The best `top_k` chunks readable by `groups` (None: unfiltered, for maintenance only);
        `docs`: only chunks of these documents (a question that names them, retrieval/questions.py)."""
        with self._gate if self._gate is not None else nullcontext():
            return self._retrieve(query, groups, top_k, docs)

    def _retrieve(self, query: str, groups: Sequence[str] | None, top_k: int | None, docs: Sequence[str] | None) -> Retrieval:
        top_k = top_k or self.config.top_k
        groups = list(dict.fromkeys(groups)) if groups is not None else None
        if groups is not None and not groups:
            return Retrieval([], -1.0)
        mode = self.config.mode if self.lexical is not None else "dense"
        pool = max(self.config.candidates, top_k)
        # BM25 runs beside embedding + the dense query: SQLite and torch release the GIL.
        docs = list(dict.fromkeys(docs)) if docs is not None else None
        pending = self._background(self.lexical.search, query, pool, groups, max_df=self.config.lexical_max_df, docs=docs) if mode != "dense" else None
        lookup = _Lookup(self, self.embedder.embed_query(query), groups)
        dense = self.store.query(lookup.vector, pool, groups, docs=docs) if mode != "lexical" else []
        lookup.know(dense, true_cosine=True)
        lexical = pending.result() if pending is not None else []
        rankings = [_dense_ranking(dense)], [lexical]
        scoped = self._scoped(query, lookup, mode, pool, groups) if docs is None else []
        ranked = self._fuse(*rankings, scoped)
        if self.config.feedback_docs and ranked and self._feedback_pays():
            ranked = self._feedback(query, lookup, ranked, rankings, mode, pool, groups, scoped, docs)
        wanted = self.config.rerank_candidates if self.reranker is not None else top_k
        chunks = lookup.materialise(ranked, wanted)
        if self.reranker is not None and chunks:
            chunks = self.reranker.rerank(query, chunks, top_k)
        chunks = chunks[:top_k]
        # The refusal signal: the best cosine to the query among everything readable — the first dense
        # hit, taken before feedback moves the query vector.
        best = dense[0].dense_score if dense and dense[0].dense_score is not None else -1.0
        best = max([best, *(c.dense_score for c in chunks if c.dense_score is not None)])
        return Retrieval(chunks, best)

    def _scoped(self, query: str, lookup: _Lookup, mode: str, pool: int, groups) -> list[list[tuple[str, float]]]:
        """Rankings inside the documents the query names (retrieval/names.py): empty when it names none."""
        c = self.config
        if self.names is None or not c.scope_docs or not c.scope_weight:
            return []
        counts = self.lexical.count_matching if self.lexical is not None else None
        docs = self.names.named(query, groups, limit=c.scope_docs, ratio=c.scope_ratio, chunk_counts=counts)
        if not docs:
            return []
        found = []
        if mode != "lexical":
            dense = self.store.query(lookup.vector, pool, groups, docs=docs)
            lookup.know(dense, true_cosine=True)
            found.append(_dense_ranking(dense))
        if mode != "dense" and self.lexical is not None:
            found.append(self.lexical.search(query, pool, groups, max_df=c.lexical_max_df, docs=docs))
        return [r for r in found if r]

    def _feedback(self, query, lookup: _Lookup, ranked, first, mode: str, pool: int, groups, scoped, docs=None) -> list[tuple[str, float, float | None]]:
        """Pseudo-relevance feedback: the top fused chunks refine both queries (Rocchio on the query
        vector, recurring content words for BM25), then both sides are searched and fused again.
        With `feedback_per_doc` the chunks come from distinct documents: two overlapping chunks of
        one document (same header, shared sentences) are one piece of evidence, not two."""
        c = self.config
        top = lookup.materialise(ranked, c.feedback_docs, per_doc=c.feedback_per_doc)
        dense, lexical, pending = [], [], None
        if mode != "dense" and self.lexical is not None:
            texts, own = [s.chunk.text for s in top], query_terms(query)
            offer = {"frequencies": self.lexical.document_frequencies, "total": self._chunks()} if c.feedback_expansion == "offer" else {}
            terms = expansion_terms(texts, own, c.feedback_terms, **offer)
            pending = self._background(self.lexical.search, query, pool, groups, expansion=terms, query_weight=c.feedback_query_weight, max_df=c.lexical_max_df, docs=docs)
        if mode != "lexical" and top:
            centroid = np.mean(lookup.vectors([s.chunk for s in top]), axis=0)
            moved = np.asarray(lookup.vector) + c.feedback_weight * centroid
            moved /= np.linalg.norm(moved) or 1.0
            dense = self.store.query(moved.tolist(), pool, groups, docs=docs)
            lookup.know(dense, true_cosine=False)  # similarities to the moved vector, not the query
        if pending is not None:
            lexical = pending.result()
        if c.feedback_mode == "add":
            return self._fuse([*first[0], _dense_ranking(dense)], [*first[1], lexical], scoped)
        return self._fuse([_dense_ranking(dense)], [lexical], scoped)

    # ---- fusion -----------------------------------------------------------------------------------

    def _fuse(
        self,
        dense_rankings: Sequence[list[tuple[str, float]]],
        lexical_rankings: Sequence[list[tuple[str, float]]],
        scoped: Sequence[list[tuple[str, float]]] = (),
    ) -> list[tuple[str, float, float | None]]:
        """(id, fused score, BM25 score) best first, from any number of dense and lexical rankings,
        plus the rankings inside named documents (`scoped`, each weighted `scope_weight`)."""
        c = self.config
        dense_rankings = [r for r in dense_rankings if r] or [[]]
        lexical_rankings = [r for r in lexical_rankings if r] or [[]]
        lexical_scores: dict[str, float] = {}
        for ranking in lexical_rankings:
            for cid, score in ranking:
                lexical_scores.setdefault(cid, score)
        scores: dict[str, float] = {}
        if c.fusion == "rrf":
            # Weighted reciprocal-rank fusion: only ranks matter, so cosine and BM25 scales never meet.
            # A side's weight is shared by its rankings, so feedback does not tilt the balance.
            for weight, rankings in ((c.dense_weight, dense_rankings), (c.lexical_weight, lexical_rankings)):
                for ranking in rankings:
                    for rank, (cid, _) in enumerate(ranking, start=1):
                        scores[cid] = scores.get(cid, 0.0) + weight / (len(rankings) * (c.rrf_k + rank))
            for ranking in scoped:
                for rank, (cid, _) in enumerate(ranking, start=1):
                    scores[cid] = scores.get(cid, 0.0) + c.scope_weight / (c.rrf_k + rank)
        else:
            # "convex": each ranking's scores min-max normalised, then a weighted mean; a chunk a
            # ranking did not return gets that ranking's floor (0).
            total = (c.dense_weight + c.lexical_weight) or 1.0
            for weight, rankings in ((c.dense_weight, dense_rankings), (c.lexical_weight, lexical_rankings)):
                for ranking in rankings:
                    for cid, norm in _minmax(dict(ranking)).items():
                        scores[cid] = scores.get(cid, 0.0) + weight * norm / (len(rankings) * total)
            for ranking in scoped:
                for cid, norm in _minmax(dict(ranking)).items():
                    scores[cid] = scores.get(cid, 0.0) + c.scope_weight * norm / total
        ranked = sorted(scores, key=lambda cid: (-scores[cid], cid))
        return [(cid, scores[cid], lexical_scores.get(cid)) for cid in ranked]


class _Lookup:
    """Per-query cache of chunks and their cosine to the query; reads the store only for chunks that
    are actually returned or fed back, in small batches."""

    def __init__(self, retriever: Retriever, vector: list[float], groups: Sequence[str] | None):
        self.retriever = retriever
        self.vector = vector
        self.groups = set(groups) if groups is not None else None
        self.chunks: dict[str, Chunk] = {}
        self.cosines: dict[str, float] = {}

    def know(self, found: Sequence[ScoredChunk], true_cosine: bool) -> None:
        for s in found:
            self.chunks.setdefault(s.chunk.id, s.chunk)
            if true_cosine and s.dense_score is not None:
                self.cosines[s.chunk.id] = s.dense_score

    def materialise(self, ranked: Sequence[tuple[str, float, float | None]], n: int, per_doc: bool = False) -> list[ScoredChunk]:
        """The first `n` readable chunks of a fused ranking, with true cosines (`per_doc`: only the
        best chunk of each document). A passage of a file the same as one ranked above it (the file
        copied into a second folder, or ingested again from another path) is left out: it would take
        a second place in the prompt and a second citation for the same words. (Boilerplate that two
        different files share stays: each file's own passage says whose it is.)"""
        out: list[ScoredChunk] = []
        docs: set[str] = set()
        said: set[tuple[str, str]] = set()
        start = 0
        while len(out) < n and start < len(ranked):
            batch = ranked[start : start + max(n - len(out), 1) + 2]
            start += len(batch)
            self._load([cid for cid, _, _ in batch if cid not in self.chunks or cid not in self.cosines])
            for cid, score, lexical_score in batch:
                chunk = self.chunks.get(cid)
                if chunk is None or (self.groups is not None and not self.groups & set(chunk.groups)):
                    continue  # gone, or a lexical row out of sync with the store: never widen access
                if per_doc and chunk.doc_id in docs:
                    continue
                if (same := (chunk.file_hash or chunk.doc_id, _body(chunk.text))) in said:
                    continue
                said.add(same)
                docs.add(chunk.doc_id)
                out.append(ScoredChunk(chunk, score, dense_score=self.cosines.get(cid), lexical_score=lexical_score))
                if len(out) == n:
                    break
        return out

    def vectors(self, chunks: Sequence[Chunk]) -> np.ndarray:
        return np.asarray(self._vectors([c.id for c in chunks], [c.text for c in chunks]))

    def _load(self, ids: list[str]) -> None:
        if not ids:
            return
        for i, (chunk, vector) in self.retriever.store.fetch(ids).items():  # stored vectors: nothing embedded again
            self.chunks.setdefault(i, chunk)
            self.cosines[i] = float(np.dot(self.vector, vector))

    def _vectors(self, ids: list[str], texts: list[str]) -> list[list[float]]:
        found = self.retriever.store.fetch(ids)
        if ids and all(i in found for i in ids):
            return [list(found[i][1]) for i in ids]
        return self.retriever.embedder.embed_documents(texts)  # chunks not (or no longer) in the store


def _body(text: str) -> str:
    """A passage's words without its `[document › section]` label (the label names the file)."""
    return " ".join((text.partition("\n")[2] if text.startswith("[") else text).split())


def _dense_ranking(found: Sequence[ScoredChunk]) -> list[tuple[str, float]]:
    return [(s.chunk.id, s.score) for s in found]


def _minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {cid: (s - low) / span if span > 1e-12 else 1.0 for cid, s in scores.items()}
