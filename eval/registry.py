"""Every quality metric Lore reports, declared once: what it measures, who computes it, which way is
better, where reports show it. The scorer, the golden run, the reports, the monitor and the quality
gate read this list; a metric named anywhere else (a `--fail-under` flag, `eval/thresholds.toml`) must
be one of these.

Adding a metric: compute it (eval/metrics.py for one that needs no judge, eval/judge.py for one that
does), put its value into the scores (eval/scorer.py), and declare it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.errors import InputError


@dataclass(frozen=True)
class Metric:
    name: str
    about: str
    judged: bool = False  # a judge computes it: a null is a judge failure and counts towards the NaN rate
    reference: str = ""  # what it compares against: "answer" (a reference answer), "sources", "contexts", "" (nothing)
    higher_is_better: bool = True
    per_answer: bool = True  # scored per answer (a summary figure of the run when False)
    shown: tuple[str, ...] = ()  # where reports show it: "plot" (distribution), "trend" (over runs), "table" (per question)


METRICS: tuple[Metric, ...] = (
    Metric("faithfulness", "share of the answer's claims its passages support", judged=True, shown=("plot", "trend", "table")),
    Metric("answer_relevancy", "whether the answer responds to the question", judged=True, shown=("plot", "trend", "table")),
    Metric("citation_validity", "share of cited sentences their cited passages support", judged=True, shown=("plot", "trend", "table")),
    Metric("context_precision", "share of the retrieved passages that help answer (ragas)", judged=True, reference="answer"),
    Metric("context_recall", "share of the reference answer the passages hold (ragas)", judged=True, reference="answer"),
    Metric("refusal_correct", "refused exactly when the question is unanswerable", shown=("table",)),
    Metric("refusal_accuracy", "share of questions with the right refusal decision", per_answer=False, shown=("trend",)),
    Metric("faithfulness_answered", "faithfulness over the answers that were not refusals", judged=True, per_answer=False),
    Metric("judge_nan_rate", "share of judged scores the judge could not give", higher_is_better=False, per_answer=False),
    Metric("context_recall_ids", "share of the reference sources among the retrieved passages", reference="sources",
           shown=("plot", "trend", "table")),
    Metric("context_precision_ids", "share of the retrieved passages from a reference source", reference="sources"),
    Metric("context_recall_text", "share of the reference passages the retrieved ones cover", reference="contexts"),
    Metric("citation_coverage", "share of the answer's sentences that carry a citation marker"),
    Metric("exact_match", "the answer equals the reference answer (normalised)", reference="answer"),
    Metric("string_present", "the reference answer occurs in the answer (normalised)", reference="answer"),
    Metric("token_f1", "word overlap with the reference answer (F1)", reference="answer", shown=("plot",)),
    Metric("rouge_l", "longest common word sequence with the reference answer", reference="answer", shown=("plot", "table")),
    Metric("bleu", "n-gram precision against the reference answer", reference="answer"),
    Metric("chrf", "character n-gram F-score against the reference answer", reference="answer"),
    Metric("latency_ms", "time to the whole answer", higher_is_better=False, shown=("table",)),
    Metric("first_token_ms", "time to the answer's first text", higher_is_better=False),
    Metric("prompt_tokens", "tokens the model read", higher_is_better=False),
    Metric("completion_tokens", "tokens the model wrote", higher_is_better=False),
)
BY_NAME = {metric.name: metric for metric in METRICS}


def names(*, judged: bool | None = None, reference: str | None = None, shown: str | None = None) -> tuple[str, ...]:
    """The metric names, in the order above, that match every filter given."""
    return tuple(
        m.name
        for m in METRICS
        if (judged is None or m.judged == judged) and (reference is None or m.reference == reference) and (shown is None or shown in m.shown)
    )


def known(name: str, where: str = "metric") -> Metric:
    """The metric called `name`; an unknown name is an input error that lists the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise InputError(f"unknown {where} {name!r}: use one of {', '.join(BY_NAME)}") from None
