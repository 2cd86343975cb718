"""Test helpers for anything built on the Assistant: a tiny corpus with access groups, written
straight into the index (no parsing), an in-memory vector store, and a look into a Chroma store's
collection by metadata.

Used by the unit tests of retrieval, the app, the API and evaluation; nothing here loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrieval.schema import Chunk, ScoredChunk

RESTRICTED_SECRET = "Project Falcon acquisition price is 48 million euros"

CORPUS: tuple[Chunk, ...] = (
    Chunk(
        id="leave-1",
        text="Employees receive 25 days of paid vacation per year. Unused vacation days expire on 31 March of the following year.",
        source="hr/leave-policy.md",
        doc_id="hr/leave-policy.md",
        section="Vacation",
        groups=("all-staff",),
    ),
    Chunk(
        id="travel-1",
        text="International travel must be requested 14 days in advance through the travel portal. Domestic travel needs 3 days.",
        source="policies/travel.pdf",
        doc_id="policies/travel.pdf",
        page=2,
        section="Requests",
        groups=("all-staff",),
    ),
    Chunk(
        id="revenue-2022",
        text="Northwind revenue in 2022 was 12.4 million euros, up 8 percent on 2021.",
        source="reports/annual.xlsx",
        doc_id="reports/annual.xlsx",
        page="2022",
        section="Revenue",
        groups=("all-staff",),
    ),
    Chunk(
        id="revenue-2023",
        text="Northwind revenue in 2023 was 14.1 million euros, driven by the analytics product line.",
        source="reports/annual.xlsx",
        doc_id="reports/annual.xlsx",
        page="2023",
        section="Revenue",
        groups=("all-staff",),
    ),
    Chunk(
        id="falcon-1",
        text=f"{RESTRICTED_SECRET}. The board approved Project Falcon acquisition in a closed session.",
        source="board/falcon.docx",
        doc_id="board/falcon.docx",
        section="Acquisition",
        groups=("board",),
    ),
    Chunk(
        id="salary-1",
        text="Salary bands for engineers range from 55,000 to 95,000 euros; finance reviews the bands every January.",
        source="finance/salary-bands.xlsx",
        doc_id="finance/salary-bands.xlsx",
        page="Bands",
        groups=("finance", "hr"),
    ),
)


def ids_where(store, where: dict[str, Any]) -> list[str]:
    """The ids in a Chroma store's collection that match a Chroma `where` filter (`store`: one that
    `make_store` built, or any layer of it)."""
    return list(store.connection.collection.get(where=where, include=[])["ids"])


def seed(assistant, chunks: Sequence[Chunk] = CORPUS) -> list[Chunk]:
    """Write `chunks` into the assistant's index (store, lexical index, document names), as ingestion would."""
    chunks = list(chunks)
    assistant.index.upsert(chunks, assistant.embedder.embed_documents([c.text for c in chunks]))
    return chunks


class MemoryStore:
    """A ChunkStore in a dict, for tests: the same answers as Chroma (tests/unit/test_store_contract.py
    runs both through one suite) from plain Python, with no filter language of its own. After
    `fail_after` upserted chunks it raises SystemExit, like a process killed mid-write."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[Chunk, list[float]]] = {}
        self.fail_after: int | None = None

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        for chunk, vector in zip(chunks, embeddings, strict=True):
            if self.fail_after is not None:
                if self.fail_after == 0:
                    raise SystemExit("killed")
                self.fail_after -= 1
            self.items[chunk.id] = (chunk, list(vector))

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.items.pop(i, None)

    def query(self, embedding: Sequence[float], k: int, groups: Sequence[str] | None, docs: Sequence[str] | None = None) -> list[ScoredChunk]:
        import numpy as np

        query = np.asarray(embedding, dtype=float)
        scored = []
        for chunk, vector in self.items.values():
            if (groups is not None and not set(chunk.groups) & set(groups)) or (docs is not None and chunk.doc_id not in docs):
                continue
            v = np.asarray(vector, dtype=float)
            cosine = float(query @ v / ((np.linalg.norm(query) * np.linalg.norm(v)) or 1.0))
            scored.append(ScoredChunk(chunk, cosine, dense_score=cosine))
        return sorted(scored, key=lambda s: -s.score)[:k]

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.items[i][0] for i in ids if i in self.items]

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, Sequence[float]]]:
        return {i: self.items[i] for i in ids if i in self.items}

    def ids_at(self, doc_id: str, chunk_index: int) -> list[str]:
        return [i for i, (c, _) in self.items.items() if c.doc_id == doc_id and c.chunk_index == chunk_index]

    def count(self) -> int:
        return len(self.items)

    def keep_resident(self) -> bool:
        return True  # it is nothing but memory
