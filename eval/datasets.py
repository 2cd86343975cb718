"""Evaluation inputs as typed records: `lore score` lines and golden QA items, read leniently.

A bad line never stops a run: it becomes a record carrying its error, so the output keeps one line per
input line and the problem is reported next to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import InputError


@dataclass(frozen=True)
class ScoreItem:
    """One answer to score: what was asked, what it was built from, what was said."""

    id: str
    question: str
    contexts: tuple[str, ...]
    answer: str
    reference: str | None = None  # a reference answer, when known (enables reference-based metrics)
    reference_contexts: tuple[str, ...] = ()
    refused: bool | None = None  # None: unknown, detected from the text
    citations: tuple[dict[str, Any], ...] = ()  # [{"text": ...}] in marker order: citations[n-1] backs [n]
    error: str | None = None  # why the input line could not be read
    raw: dict[str, Any] = field(default_factory=dict, compare=False)  # the input line, echoed back


@dataclass(frozen=True)
class GoldenItem:
    """One golden question with what a good answer must say and cite."""

    id: str
    question: str
    reference_answer: str
    reference_sources: tuple[str, ...]
    answerable: bool
    groups: tuple[str, ...] = ()
    page: Any = None


def _contexts(value: Any) -> tuple[str, ...]:
    """Contexts may be strings or objects with a `text` field (as `lore ask --json` citations are)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError("`contexts` must be a list of strings")
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            out.append(item["text"])
        else:
            raise ValueError("each context must be a string or an object with a `text` string")
    return tuple(out)


def parse_score_line(line: str, number: int) -> ScoreItem:
    fallback_id = f"line-{number}"
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return ScoreItem(fallback_id, "", (), "", error=f"line {number} is not JSON ({exc.msg})")
    if not isinstance(doc, dict):
        return ScoreItem(fallback_id, "", (), "", error=f"line {number} is not a JSON object", raw={"value": doc})
    item_id = str(doc.get("id", fallback_id))
    try:
        answer = doc.get("answer", doc.get("response"))
        if not isinstance(answer, str):
            raise ValueError("`answer` (a string) is missing")
        question = doc.get("question", doc.get("user_input", ""))
        if not isinstance(question, str):
            raise ValueError("`question` must be a string")
        contexts = _contexts(doc.get("contexts", doc.get("retrieved_contexts")))
        reference = doc.get("reference", doc.get("reference_answer", doc.get("ground_truth")))
        citations = doc.get("citations") or []
        return ScoreItem(
            id=item_id,
            question=question,
            contexts=contexts,
            answer=answer,
            reference=reference if isinstance(reference, str) and reference.strip() else None,
            reference_contexts=_contexts(doc.get("reference_contexts")),
            refused=doc["refused"] if isinstance(doc.get("refused"), bool) else None,
            citations=tuple(c for c in citations if isinstance(c, dict)),
            raw=doc,
        )
    except ValueError as exc:
        return ScoreItem(item_id, "", (), "", error=f"line {number}: {exc}", raw=doc)


def read_score_items(path: Path) -> Iterator[ScoreItem]:
    """Stream `{"id","question","contexts","answer"}` lines; blank lines are skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror}): check the path") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield parse_score_line(line, number)


def _golden_item(doc: dict[str, Any], number: int) -> GoldenItem:
    question = doc.get("question") or doc.get("text")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("`question` is missing")
    reference = doc.get("reference_answer", doc.get("reference", doc.get("answer", doc.get("ground_truth", ""))))
    sources = doc.get("reference_sources", doc.get("sources", []))
    if isinstance(sources, str):
        sources = [sources]
    groups = doc.get("groups", [])
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(",") if g.strip()]
    answerable = doc.get("answerable")
    if answerable is None:  # no flag: a question with a reference answer is taken as answerable
        answerable = bool(reference)
    return GoldenItem(
        id=str(doc.get("id", f"q{number}")),
        question=question.strip(),
        reference_answer=str(reference or ""),
        reference_sources=tuple(str(s) for s in sources or []),
        answerable=bool(answerable),
        groups=tuple(str(g) for g in groups),
        page=doc.get("page"),
    )


def load_golden(path: Path, limit: int | None = None, ids: set[str] | None = None) -> list[GoldenItem]:
    """A golden set (JSONL). Unreadable lines are a user error naming the line: a gate must not
    silently evaluate fewer questions than the file holds."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read golden set {path} ({exc.strerror}): check the path") from exc
    items: list[GoldenItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            item = _golden_item(doc, number)
        except (json.JSONDecodeError, ValueError) as exc:
            raise InputError(f"{path} line {number} is not a golden item ({exc}): fix or remove the line") from exc
        if ids is None or item.id in ids:
            items.append(item)
    if not items:
        raise InputError(f"{path} holds no golden items: add lines with `question`, `reference_answer`, `answerable`")
    return items[:limit] if limit else items
