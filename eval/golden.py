"""Golden-set evaluation: run the assistant over golden questions, score every answer, summarize.

Each row of `results.jsonl` is one question with the answer, its contexts and citations, every score
and the judge's claims, so a report (or a person) can see why a score is low.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from eval import metrics as m
from eval.datasets import GoldenItem, ScoreItem
from eval.registry import names
from eval.scorer import Scorer, ScoredItem, summarize


def answer_item(assistant: Any, item: GoldenItem, default_groups: Sequence[str]) -> dict[str, Any]:
    """Ask one golden question; the row keeps what scoring and the report need."""
    groups = list(item.groups or default_groups)
    answer = assistant.ask(item.question, user="lore-eval", groups=groups, channel="eval")
    contexts = [
        {"source": s.chunk.source, "page": s.chunk.page, "section": s.chunk.section, "text": s.chunk.text, "score": round(s.score, 4)}
        for s in answer.contexts
    ]
    return {
        "id": item.id,
        "question": item.question,
        "answerable": item.answerable,
        "reference_answer": item.reference_answer,
        "reference_sources": list(item.reference_sources),
        "groups": groups,
        "answer": answer.answer,
        "refused": answer.refused,
        "citations": [c.to_json() for c in answer.citations],
        "contexts": contexts,
        "model": answer.model,
        "timings": asdict(answer.timings),
        "usage": asdict(answer.usage),
        "interaction_id": answer.interaction_id,
    }


def score_row(row: dict[str, Any], scored: ScoredItem) -> dict[str, Any]:
    """Add the judge's scores and the golden-only metrics (refusal, retrieval vs reference sources, cost)."""
    scores = dict(scored.scores)
    retrieved = [c["source"] for c in row["contexts"]]
    scores["refusal_correct"] = m.refusal_correct(row["refused"], row["answerable"])
    if row["answerable"]:
        for name, value in (
            ("context_recall_ids", m.context_recall_ids(retrieved, row["reference_sources"])),
            ("context_precision_ids", m.context_precision_ids(retrieved, row["reference_sources"])),
        ):
            if value is not None:
                scores[name] = round(value, 4)
    else:  # an unanswerable question has no reference answer to overlap with
        for name in names(reference="answer"):
            scores.pop(name, None)
    scores["latency_ms"] = round(row["timings"]["total_ms"], 1)
    if row["timings"].get("first_token_ms") is not None:
        scores["first_token_ms"] = round(row["timings"]["first_token_ms"], 1)
    scores["prompt_tokens"] = row["usage"]["prompt_tokens"]
    scores["completion_tokens"] = row["usage"]["completion_tokens"]
    return {**row, "scores": scores, "detail": scored.detail, "errors": scored.errors}


def to_score_item(row: dict[str, Any]) -> ScoreItem:
    return ScoreItem(
        id=row["id"],
        question=row["question"],
        contexts=tuple(c["text"] for c in row["contexts"]),
        answer=row["answer"],
        reference=row["reference_answer"] if row["answerable"] and row["reference_answer"] else None,
        refused=row["refused"],
        citations=tuple(row["citations"]),
    )


def run_golden(
    assistant: Any,
    items: Sequence[GoldenItem],
    scorer: Scorer,
    *,
    default_groups: Sequence[str] = ("all-staff",),
    on_answer: Callable[[dict[str, Any]], None] | None = None,
    on_scored: Callable[[ScoredItem], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer every question first (the generator stays hot), then score them all (the judge does)."""
    started = time.perf_counter()
    rows = []
    for item in items:
        rows.append(answer_item(assistant, item, default_groups))
        if on_answer:
            on_answer(rows[-1])
    answered_s = time.perf_counter() - started
    scored = scorer.score_many([to_score_item(r) for r in rows], on_done=on_scored)
    results = [score_row(r, s) for r, s in zip(rows, scored)]
    summary = summarize_golden(results)
    summary["seconds"] = {"answering": round(answered_s, 2), "scoring": round(time.perf_counter() - started - answered_s, 2)}
    stats = scorer.judge.stats.to_json() if scorer.judge is not None else {}
    summary["judge"] = {"name": scorer.name, "faithfulness": scorer.mode, "engine": "ragas" if scorer.ragas else "lore", **stats}
    return results, summary


def summarize_golden(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    base = summarize(ScoredItem(r["id"], r["scores"], errors=r.get("errors", {})) for r in results)
    answerable = [r for r in results if r["answerable"]]
    unanswerable = [r for r in results if not r["answerable"]]
    answered_faith = [r["scores"]["faithfulness"] for r in results if not r["refused"] and r["scores"].get("faithfulness") is not None]
    refusal = {
        "refusal_accuracy": round(statistics.fmean(r["scores"]["refusal_correct"] for r in results), 4) if results else None,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_refused": sum(r["refused"] for r in answerable),
        "unanswerable_answered": sum(not r["refused"] for r in unanswerable),
    }
    return {
        "run_id": uuid.uuid4().hex[:12],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **base,
        "refusal": refusal,
        "faithfulness_answered": round(statistics.fmean(answered_faith), 4) if answered_faith else None,
        "model": results[0]["model"] if results else "",
    }


def headline(summary: dict[str, Any]) -> dict[str, float | None]:
    """The numbers a gate and the history track: metric means plus refusal accuracy and NaN rate."""
    values: dict[str, float | None] = {name: doc["mean"] for name, doc in summary["metrics"].items()}
    values["refusal_accuracy"] = summary.get("refusal", {}).get("refusal_accuracy")
    values["faithfulness_answered"] = summary.get("faithfulness_answered")
    values["judge_nan_rate"] = summary.get("judge_nan_rate")
    return values
