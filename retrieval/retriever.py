"""Hybrid retrieval: dense (Chroma) + lexical (FTS5 BM25) over the same chunks, fused, optionally
reranked. The user's groups are a filter inside both queries, never applied afterwards.

Every returned chunk carries its dense cosine similarity (`dense_score`), also for chunks that only
the lexical side found: the refusal threshold compares like with like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from retrieval.embedders import Embedder
from retrieval.lexical import LexicalIndex, expansion_terms, query_terms
from retrieval.schema import Chunk, ScoredChunk
from retrieval.settings import RetrievalSettings
from retrieval.store import ChunkStore


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
    ):
        self.config = config
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.reranker = reranker

    def retrieve(self, query: str, groups: Sequence[str] | None, top_k: int | None = None) -> Retrieval:
        """The best `top_k` chunks readable by `groups` (None: unfiltered, for maintenance only)."""
        top_k = top_k or self.config.top_k
        groups = list(dict.fromkeys(groups)) if groups is not None else None
        if groups is not None and not groups:
            return Retrieval([], -1.0)
        mode = self.config.mode if self.lexical is not None else "dense"
        pool = max(self.config.candidates, top_k)
        vector = self.embedder.embed_query(query)
        dense = self.store.query(vector, pool, groups) if mode != "lexical" else []
        lexical = self.lexical.search(query, pool, groups) if mode != "dense" else []
        fused = self._fuse([dense], [lexical], vector, groups)
        # The refusal signal: the best cosine to the query itself among everything readable (the dense
        # side's first hit), before feedback moves the query vector.
        best = max((c.dense_score for c in fused if c.dense_score is not None), default=-1.0)
        if self.config.feedback_docs and fused:
            fused = self._feedback(query, vector, fused, dense, lexical, mode, pool, groups)
        if self.reranker is not None and fused:
            fused = self.reranker.rerank(query, fused[: self.config.rerank_candidates], top_k)
        return Retrieval(fused[:top_k], best)

    def _feedback(
        self,
        query: str,
        vector: list[float],
        first: list[ScoredChunk],
        first_dense: list[ScoredChunk],
        first_lexical: list[tuple[str, float]],
        mode: str,
        pool: int,
        groups: Sequence[str] | None,
    ) -> list[ScoredChunk]:
        """Pseudo-relevance feedback: the top fused chunks refine both queries (Rocchio on the query
        vector, recurring content words for BM25), then both sides are searched and fused again."""
        c = self.config
        top = first[: c.feedback_docs]
        dense, lexical = [], []
        if mode != "lexical":
            vectors = self._vectors([s.chunk for s in top])
            centroid = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
            moved = _normalise([q + c.feedback_weight * m for q, m in zip(vector, centroid, strict=True)])
            dense = self.store.query(moved, pool, groups)
            # Report similarity to the query that was asked, not to the moved one.
            cosines = dict(zip((s.chunk.id for s in dense), (_dot(vector, v) for v in self._vectors([s.chunk for s in dense])), strict=True))
            dense = [replace(s, score=cosines[s.chunk.id], dense_score=cosines[s.chunk.id]) for s in dense]
        if mode != "dense" and self.lexical is not None:
            terms = expansion_terms([s.chunk.text for s in top], query_terms(query), c.feedback_terms)
            lexical = self.lexical.search(query, pool, groups, expansion=terms, query_weight=2)
        if c.feedback_mode == "add":
            return self._fuse([first_dense, dense], [first_lexical, lexical], vector, groups)
        return self._fuse([dense], [lexical], vector, groups)

    def _vectors(self, chunks: Sequence[Chunk]) -> list[list[float]]:
        """Stored vectors of these chunks (Chroma), or fresh embeddings for other stores."""
        collection = getattr(self.store, "collection", None)
        if collection is not None and chunks:
            found: Any = collection.get(ids=[c.id for c in chunks], include=["embeddings"])
            by_id = {i: list(e) for i, e in zip(found["ids"], found["embeddings"], strict=True)}
            if all(c.id in by_id for c in chunks):
                return [by_id[c.id] for c in chunks]
        return self.embedder.embed_documents([c.text for c in chunks])

    # ---- fusion -----------------------------------------------------------------------------------

    def _fuse(
        self,
        dense_lists: Sequence[list[ScoredChunk]],
        lexical_lists: Sequence[list[tuple[str, float]]],
        vector: Sequence[float],
        groups: Sequence[str] | None,
    ) -> list[ScoredChunk]:
        """One ranking from any number of dense and lexical rankings (feedback adds a second of each)."""
        by_id: dict[str, ScoredChunk] = {}
        for ranking in dense_lists:
            for s in ranking:
                by_id.setdefault(s.chunk.id, s)
        lexical_scores: dict[str, float] = {}
        for ranking in lexical_lists:
            for cid, score in ranking:
                lexical_scores.setdefault(cid, score)
        missing = [cid for cid in lexical_scores if cid not in by_id]
        for chunk, cosine in self._load(missing, vector):
            if groups is not None and not set(chunk.groups) & set(groups):
                continue  # both indexes filter by group; this guards against an out-of-sync lexical index
            by_id[chunk.id] = ScoredChunk(chunk, cosine, dense_score=cosine)
        dense_ranks = [{s.chunk.id: r for r, s in enumerate(ranking, start=1)} for ranking in dense_lists]
        lexical_ranks = [{cid: r for r, (cid, _) in enumerate(ranking, start=1) if cid in by_id} for ranking in lexical_lists]
        scores = self._fusion_scores(by_id, dense_ranks, lexical_ranks, lexical_scores)
        ranked = sorted(scores, key=lambda cid: (-scores[cid], cid))
        return [replace(by_id[cid], score=scores[cid], lexical_score=lexical_scores.get(cid)) for cid in ranked]

    def _fusion_scores(
        self,
        by_id: dict[str, ScoredChunk],
        dense_ranks: list[dict[str, int]],
        lexical_ranks: list[dict[str, int]],
        lexical_scores: dict[str, float],
    ) -> dict[str, float]:
        c = self.config
        if c.fusion == "rrf":
            # Weighted reciprocal-rank fusion: only ranks matter, so the two score scales never meet.
            # Each side's weight is shared by its rankings, so feedback does not tilt the balance.
            return {
                cid: c.dense_weight * _mean(_rrf(r.get(cid), c.rrf_k) for r in dense_ranks)
                + c.lexical_weight * _mean(_rrf(r.get(cid), c.rrf_k) for r in lexical_ranks)
                for cid in by_id
            }
        # "convex": scores normalised per query, then a weighted sum. Chunks one side did not return
        # get that side's floor (0), which is what a missing vote means.
        seen_dense = set().union(*dense_ranks) if dense_ranks else set()
        dense_norm = _minmax({cid: by_id[cid].dense_score for cid in seen_dense if by_id[cid].dense_score is not None})
        seen_lexical = set().union(*lexical_ranks) if lexical_ranks else set()
        lexical_norm = _minmax({cid: lexical_scores[cid] for cid in seen_lexical})
        total = (c.dense_weight + c.lexical_weight) or 1.0
        return {
            cid: (c.dense_weight * dense_norm.get(cid, 0.0) + c.lexical_weight * lexical_norm.get(cid, 0.0)) / total
            for cid in by_id
        }

    def _load(self, ids: list[str], vector: Sequence[float]) -> list[tuple[Chunk, float]]:
        """Chunks found only lexically, with their dense similarity to the query."""
        if not ids:
            return []
        collection = getattr(self.store, "collection", None)
        if collection is not None:  # Chroma: read stored vectors instead of embedding again
            found: Any = collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
            rows = {
                i: (Chunk.from_metadata(i, d, m), _dot(vector, e))
                for i, d, m, e in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True)
            }
            return [rows[i] for i in ids if i in rows]
        chunks = self.store.get(ids)
        vectors = self.embedder.embed_documents([c.text for c in chunks])
        return [(c, _dot(vector, v)) for c, v in zip(chunks, vectors, strict=True)]


def _rrf(rank: int | None, k: int) -> float:
    return 0.0 if rank is None else 1.0 / (k + rank)


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {cid: (s - low) / span if span > 1e-12 else 1.0 for cid, s in scores.items()}


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    value = float(sum(x * y for x, y in zip(a, b, strict=False)))
    return value if math.isfinite(value) else -1.0
