"""Typed records passed between stages: ingest → store → retrieval → answer → evaluation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

Page = int | str | None  # PDF page number, PPTX slide number, or XLSX sheet name


@dataclass(frozen=True)
class SourceFile:
    """A file found under a source root, before parsing."""

    path: str  # absolute path
    source: str  # display name: path relative to the root it was found under
    root: str
    size: int
    mtime: float
    sha256: str = ""
    groups: tuple[str, ...] = ()
    # Remote sources (ingest/remote/): `path` is the item's URI, `local` the downloaded copy to parse
    # ("" when the change token shows the item unchanged and nothing was downloaded), `token` that token.
    local: str = ""
    token: str = ""


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document, with everything a citation needs."""

    id: str
    text: str
    source: str
    doc_id: str
    page: Page = None
    section: str = ""
    groups: tuple[str, ...] = ()
    file_hash: str = ""
    element_types: tuple[str, ...] = ()
    chunk_index: int = 0
    path: str = ""
    modified: float = 0.0
    run_id: str = ""
    # (offset in `text`, page, section) where the page or section changes inside the chunk
    spans: tuple[tuple[int, Page, str], ...] = ()
    ocr_confidence: float | None = None  # text read by OCR: the lowest mean word confidence (0-100) of its pages

    def metadata(self) -> dict[str, Any]:
        """Flat metadata for the vector store; groups become exact-match boolean keys."""
        meta: dict[str, Any] = {
            "source": self.source,
            "doc": self.doc_id,  # not "doc_id": llama-index writes its own
            "section": self.section,
            "groups": ",".join(self.groups),
            "file_hash": self.file_hash,
            "element_types": ",".join(self.element_types),
            "chunk_index": self.chunk_index,
            "path": self.path,
            "modified": self.modified,
            "run_id": self.run_id,
        }
        if self.page is not None:
            meta["page"] = self.page
        if self.spans:
            meta["spans"] = json.dumps([list(s) for s in self.spans], ensure_ascii=False)
        if self.ocr_confidence is not None:
            meta["ocr_confidence"] = self.ocr_confidence
        for group in self.groups:
            meta[group_key(group)] = True
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        return cls(
            id=chunk_id,
            text=text,
            source=str(meta.get("source", "")),
            doc_id=str(meta.get("doc", "")),
            page=meta.get("page"),
            section=str(meta.get("section", "")),
            groups=tuple(g for g in str(meta.get("groups", "")).split(",") if g),
            file_hash=str(meta.get("file_hash", "")),
            element_types=tuple(t for t in str(meta.get("element_types", "")).split(",") if t),
            chunk_index=int(meta.get("chunk_index", 0)),
            path=str(meta.get("path", "")),
            modified=float(meta.get("modified", 0.0)),
            run_id=str(meta.get("run_id", "")),
            spans=_spans(meta.get("spans")),
            ocr_confidence=float(meta["ocr_confidence"]) if meta.get("ocr_confidence") is not None else None,
        )

    def located(self, offset: int | None) -> tuple[Page, str]:
        """The page and section at a character offset of the text (the chunk's own when unknown)."""
        page, section = self.page, self.section
        if offset is None:
            return page, section
        for start, span_page, span_section in self.spans:
            if start > offset:
                break
            page, section = span_page, span_section or section
        return page, section


def _spans(raw: Any) -> tuple[tuple[int, Page, str], ...]:
    if not raw:
        return ()
    try:
        return tuple((int(s[0]), s[1], str(s[2])) for s in json.loads(raw))
    except (ValueError, TypeError, IndexError):
        return ()


GROUP_KEY_PREFIX = "acl:"


def group_key(group: str) -> str:
    """Metadata key marking that `group` may read a chunk (matched exactly by the store filter)."""
    return GROUP_KEY_PREFIX + group


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class Citation:
    source: str
    page: Page
    section: str
    text: str
    score: float
    chunk_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "page": self.page, "section": self.section, "text": self.text, "score": round(self.score, 4)}


@dataclass
class Timings:
    retrieve_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Answer:
    answer: str
    refused: bool
    citations: list[Citation]
    timings: Timings
    model: str
    usage: Usage
    question: str = ""
    query: str = ""  # the standalone query actually retrieved with
    contexts: list[ScoredChunk] = field(default_factory=list)
    dropped_markers: int = 0
    interaction_id: str = ""
    kind: str = ""  # the answer type of a typed answer: number, date, yes_no, name, list, text
    details: dict[str, Any] = field(default_factory=dict)  # typed answers: the plan, the checks, why refused

    def to_json(self, *, details: bool = False) -> dict[str, Any]:
        """The contract's keys; with `details`, also how the answer was made (`details_json`)."""
        doc = {
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "timings": {k: (round(v, 1) if v is not None else None) for k, v in asdict(self.timings).items()},
            "model": self.model,
            "usage": asdict(self.usage),
        }
        return {**doc, **self.details_json()} if details else doc

    def details_json(self) -> dict[str, Any]:
        """Beyond the contract: answer type, checked, why refused (typed answers); a loop that was stopped."""
        doc: dict[str, Any] = {}
        if self.details.get("stopped"):  # the model looped and was stopped: the answer keeps its first round
            doc["stopped"] = self.details["stopped"]
        if self.kind:  # typed answers
            doc["answer_type"] = self.kind
            doc["checked"] = True
            if self.refused and self.details.get("reason"):
                doc["refusal_reason"] = self.details["reason"]
        return doc


@dataclass(frozen=True)
class FileFailure:
    path: str
    error: str


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    files: int = 0
    chunks: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    run_id: str = ""
    # Ingested files with something to know (little text for their size, pages not read): the run's
    # text output, its log and `lore status` show them; the JSON report keeps the contract's keys.
    notes: list[FileFailure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "files": self.files,
            "chunks": self.chunks,
            "total_chunks": self.total_chunks,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str
