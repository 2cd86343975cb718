"""The index: everything a chunk is stored in — the vector store (Chroma, retrieval/store.py), the
lexical index (SQLite FTS5, retrieval/lexical.py) and the documents' display names kept in the same
file (retrieval/names.py). Ingestion, the API's ingest route, the test helpers and the benches write
through `upsert` and `delete`, so a chunk is in all of them or, after a delete, in none; the
retriever and the composer read the three parts (`store`, `lexical`, `names`).

A fourth part (a page store, a reranker's cache) is added here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retrieval.lexical import LexicalIndex
from retrieval.names import DocumentNames, document_name
from retrieval.schema import Chunk
from retrieval.settings import Settings
from retrieval.store import ChunkStore, make_store

DELETE_BATCH = 5000  # ids per delete call (Chroma and SQLite both cap the size of one statement)


class Index:
    def __init__(self, store: ChunkStore, lexical: LexicalIndex, names: DocumentNames | None = None):
        self.store = store
        self.lexical = lexical
        self.names = names if names is not None else DocumentNames(lexical.path)  # beside the lexical index

    @classmethod
    def open(cls, settings: Settings, *, store: ChunkStore | None = None, lexical: LexicalIndex | None = None) -> Index:
        """The index the settings name (`store.*`, the lexical database in `LORE_HOME`); a part that is
        passed is used instead (tests pass an in-memory store)."""
        return cls(store if store is not None else make_store(settings),
                   lexical if lexical is not None else LexicalIndex(settings.lexical_db))  # fmt: skip

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], names: Mapping[str, str] | None = None) -> None:
        """Write `chunks` (with their embeddings) and the display name of each document they belong
        to: `names[doc_id]` where given, else the one made from the chunk's file name."""
        chunks = list(chunks)
        if not chunks:
            return
        self.store.upsert(chunks, vectors)
        self.lexical.upsert(chunks)
        for chunk in {c.doc_id: c for c in chunks}.values():
            name = (names or {}).get(chunk.doc_id) or document_name(chunk.source, "", [])
            self.names.put(chunk.doc_id, name, chunk.groups)

    def delete(self, chunk_ids: Sequence[str], documents: Sequence[str] = ()) -> None:
        """Remove chunks by id; `documents`: the ids of documents removed whole (their names go too)."""
        ids = list(chunk_ids)
        for start in range(0, len(ids), DELETE_BATCH):
            part = ids[start : start + DELETE_BATCH]
            self.store.delete(part)
            self.lexical.delete(part)
        if documents:
            self.names.delete(list(documents))

    def count(self) -> int:
        return self.store.count()
