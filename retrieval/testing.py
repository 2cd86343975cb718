"""Test helpers for anything built on the Assistant: a tiny corpus with access groups, written
straight into the store and the lexical index (no parsing), and a test-profile assistant.

Used by the unit tests of retrieval, the app, the API and evaluation; nothing here loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.schema import Chunk

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


def seed(assistant, chunks: Sequence[Chunk] = CORPUS) -> list[Chunk]:
    """Write `chunks` into the assistant's store, lexical index and document names, as ingestion would."""
    from retrieval.names import document_name

    chunks = list(chunks)
    assistant.store.upsert(chunks, assistant.embedder.embed_documents([c.text for c in chunks]))
    assistant.lexical.upsert(chunks)
    if assistant.names is not None:
        for chunk in {c.doc_id: c for c in chunks}.values():
            assistant.names.put(chunk.doc_id, document_name(chunk.source, "", []), chunk.groups)
    return chunks
