"""Score answers: the judge's metrics (faithfulness, answer relevancy, citation validity) and the
metrics that need no judge, with judge failures turned into counted nulls (or raised, on request).

Items are judged grouped by their contexts, so the local model's KV cache for a document is reused
across every claim about it, and the original order is restored for output.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eval import metrics as m
from eval.datasets import ScoreItem
from eval.judge import Judge, JudgeResult, faithfulness, verify
from eval.likelihood import likelihood
from eval.registry import BY_NAME, names
from retrieval.errors import ConfigError, ModelNotFoundError

FAITHFULNESS_MODES = ("checker", "judge", "combined")

# Metrics a judge computes per answer: a null here is a judge failure and counts towards the NaN rate.
JUDGE_METRICS = tuple(name for name in names(judged=True) if BY_NAME[name].per_answer)


@dataclass
class ScoredItem:
    """What `lore score` returns per line and what reports are built from."""

    id: str
    scores: dict[str, float | None] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)  # claims and verdicts per metric
    errors: dict[str, str] = field(default_factory=dict)  # metric → why it is null
    seconds: float = 0.0


class Scorer:
    def __init__(
        self,
        judge: Judge | None,
        *,
        checker: Any = None,
        mode: str = "judge",
        raise_exceptions: bool = False,
        relevancy: bool = True,
        citation_check: bool = True,
        concurrency: int = 1,
        ragas: Any = None,
    ):
        self.judge = judge  # None: the checker scores alone (no LLM loaded)
        self.checker = checker  # eval.checker.ConsistencyChecker, or None when none is trained
        self.mode = mode  # what `faithfulness` is: FAITHFULNESS_MODES
        self.raise_exceptions = raise_exceptions
        self.relevancy = relevancy
        self.citation_check = citation_check
        self.concurrency = concurrency
        self.ragas = ragas  # eval.ragas_adapter.RagasMetrics, used instead of the lore judge when set

    @property
    def name(self) -> str:
        """What produced the faithfulness score: the checker, the judge, or both."""
        names = [n for n in (self.checker.name if self.checker is not None and self.mode != "judge" else "",
                             self.judge.name if self.judge is not None and self.mode != "checker" else "") if n]
        return "+".join(names) or "word-overlap"

    @classmethod
    def from_settings(cls, settings, judge: Judge | None, *, checker: Any = None, mode: str | None = None) -> Scorer:
        cfg = settings.eval
        ragas = None
        if judge is not None and (mode or cfg.faithfulness) != "checker" and (cfg.engine == "ragas" or (cfg.engine == "auto" and cfg.judge == "openai")):
            from eval.ragas_adapter import RagasMetrics

            ragas = RagasMetrics(judge, raise_exceptions=cfg.raise_exceptions)
        return cls(
            judge,
            checker=checker,
            mode=mode or cfg.faithfulness,
            raise_exceptions=cfg.raise_exceptions,
            relevancy=cfg.relevancy and judge is not None,
            citation_check=cfg.citation_check,
            concurrency=cfg.concurrency,
            ragas=ragas,
        )

    def _guard(self, item: ScoredItem, metric: str, compute: Callable[[], Any]) -> Any:
        try:
            return compute()
        except (ConfigError, ModelNotFoundError):
            raise  # the setup is wrong, not this item: every further item would fail the same way
        except Exception as exc:  # any judge failure: a counted null, never a crashed run
            if self.raise_exceptions:
                raise
            item.errors[metric] = f"{type(exc).__name__}: {exc}"[:300]
            item.scores[metric] = None
            return None

    def score(self, item: ScoreItem) -> ScoredItem:
        started = time.perf_counter()
        out = ScoredItem(item.id)
        if item.error:
            out.errors["input"] = item.error
            out.scores["faithfulness"] = None
            return out
        refused = item.refused if item.refused is not None else m.looks_like_refusal(item.answer)
        if refused:
            # A refusal asserts nothing the documents could contradict: faithful by definition.
            out.scores["faithfulness"] = 1.0
            out.detail["faithfulness"] = {"refusal": True, "claims": []}
        elif self.ragas is not None:
            self._guard(out, "faithfulness", lambda: self._ragas_scores(item, out))
        else:
            result: JudgeResult | None = self._guard(out, "faithfulness", lambda: self._faithfulness(item))
            if result is not None:
                out.scores["faithfulness"] = result.score
                out.detail["faithfulness"] = result.detail()
                if result.error:
                    out.errors["faithfulness"] = result.error
        if self.relevancy and self.judge is not None and item.question and not refused:
            out.scores["answer_relevancy"] = self._guard(out, "answer_relevancy", lambda: self.judge.relevancy(item.question, item.answer))
        if self.citation_check and (self.judge is not None or self.checker is not None) and not refused:
            self._guard(out, "citation_validity", lambda: self._citation_validity(item, out))
        self._reference_metrics(item, out, refused)
        out.seconds = time.perf_counter() - started
        return out

    def _faithfulness(self, item: ScoreItem) -> JudgeResult:
        """The configured score: the judge's share of supported claims, the checker's calibrated
        probability, the two stacked, or — no checker and no judge — plain word overlap."""
        combined = self.checker.stack_features("combined") if self.checker is not None and self.mode == "combined" else ()
        judged = lm = None
        # The judge writes verdicts in `judge` mode, without a checker, and for a combined stack that reads
        # them (or before one is fitted, to keep them per claim); a stack on the LLM likelihood needs no verdicts.
        if self.judge is not None and (self.checker is None or self.mode == "judge"
                                       or (self.mode == "combined" and (not combined or any(f.startswith("judge_") for f in combined)))):
            judged = faithfulness(self.judge, item.contexts, item.answer)
        if self.checker is None or self.mode == "judge":
            return judged if judged is not None else overlap_faithfulness(item.contexts, item.answer)
        if self.judge is not None and any(f.startswith("lm_") for f in combined):
            lm = likelihood(getattr(self.judge, "model", None), item.contexts, item.answer)
        return self.checker.faithfulness(item.contexts, item.answer, judged, lm)

    def _ragas_scores(self, item: ScoreItem, out: ScoredItem) -> None:
        out.scores.update(self.ragas.score(item, relevancy=self.relevancy))

    def _citation_validity(self, item: ScoreItem, out: ScoredItem) -> None:
        """Each cited sentence is checked against the chunks its markers name; a marker naming no chunk fails."""
        backing = [c.get("text", "") for c in item.citations] if item.citations else list(item.contexts)
        checks = []
        for sentence, numbers in m.cited_sentences(item.answer):
            cited = [backing[n - 1] for n in numbers if 1 <= n <= len(backing) and backing[n - 1]]
            verifier = self.checker if self.checker is not None and (self.mode == "checker" or self.judge is None) else self.judge
            supported = bool(cited) and all(verify(verifier, [sentence], "\n\n".join(cited)))
            checks.append({"sentence": sentence, "markers": numbers, "supported": supported})
        if checks:
            out.scores["citation_validity"] = sum(c["supported"] for c in checks) / len(checks)
            out.detail["citation_validity"] = checks

    @staticmethod
    def _reference_metrics(item: ScoreItem, out: ScoredItem, refused: bool) -> None:
        ref = item.reference
        values = {
            "citation_coverage": None if refused else m.citation_coverage(item.answer),
            "exact_match": m.exact_match(item.answer, ref),
            "string_present": m.string_present(item.answer, ref),
            "token_f1": m.token_f1(item.answer, ref),
            "rouge_l": m.rouge_l(item.answer, ref),
            "bleu": m.bleu(item.answer, ref),
            "chrf": m.chrf(item.answer, ref),
            "context_recall_text": m.context_recall_text(item.contexts, item.reference_contexts),
        }
        out.scores.update({k: round(v, 4) for k, v in values.items() if v is not None})

    def score_many(self, items: Sequence[ScoreItem], on_done: Callable[[ScoredItem], None] | None = None) -> list[ScoredItem]:
        """Score in an order that groups equal contexts (KV-cache reuse); results in input order."""
        order = sorted(range(len(items)), key=lambda i: ("\n".join(items[i].contexts), i))
        results: list[ScoredItem | None] = [None] * len(items)

        def run(index: int) -> None:
            results[index] = self.score(items[index])
            if on_done:
                on_done(results[index])

        if self.concurrency > 1:
            with ThreadPoolExecutor(self.concurrency) as pool:
                list(pool.map(run, order))
        else:
            for index in order:
                run(index)
        return [r for r in results if r is not None]


def overlap_faithfulness(contexts: Sequence[str], answer: str) -> JudgeResult:
    """The fallback when no checker is trained and no judge runs: share of the answer's words in the contexts."""
    from eval.checker import word_overlap

    return JudgeResult(round(word_overlap(contexts, m.strip_markers(answer)), 4), [], error=None)


def is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def summarize(results: Iterable[ScoredItem]) -> dict[str, Any]:
    """Per metric: n, nulls, mean, median, min; plus the judge NaN rate over judge metrics."""
    results = list(results)
    names = sorted({k for r in results for k in r.scores})
    metrics: dict[str, Any] = {}
    judged = nulls = 0
    for name in names:
        present = [r.scores[name] for r in results if name in r.scores]
        values = [float(v) for v in present if not is_nan(v)]
        null = len(present) - len(values)
        metrics[name] = {
            "n": len(values),
            "nulls": null,
            "mean": round(statistics.fmean(values), 4) if values else None,
            "median": round(statistics.median(values), 4) if values else None,
            "min": round(min(values), 4) if values else None,
        }
        if name in JUDGE_METRICS:
            judged += len(present)
            nulls += null
    errors: dict[str, int] = {}
    for r in results:
        for metric, message in r.errors.items():
            kind = message.split(":", 1)[0] if metric != "input" else "bad input line"
            errors[f"{metric}: {kind}"] = errors.get(f"{metric}: {kind}", 0) + 1
    return {
        "items": len(results),
        "metrics": metrics,
        "judge_nulls": nulls,
        "judge_nan_rate": round(nulls / judged, 4) if judged else 0.0,
        "errors": errors,
    }
