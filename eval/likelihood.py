"""How much the passages raise the local LLM's probability of each token of an answer.

A faithful answer is what the model would write from the passages: each of its tokens is likely after
them. A changed figure, name or word is not — and it is not just a rare word, which is why each token's
log-probability after the passages is compared with its log-probability after no passage at all (their
difference is the pointwise mutual information of token and passages). One forward pass over passages
and answer, one over the answer alone: no generation, so it costs a fraction of the LLM judge, and a
passage read once serves every answer scored against it (the model keeps its cache).

The features (`FEATURES`) go into the combined faithfulness score's stack beside the checker's
(eval.checker); which ones was chosen on the SummEdits tune half (docs/evaluation.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from eval.metrics import strip_markers

# The text before the answer, with the passages and without them (SummEdits' texts are summaries).
LEADS = {
    "answer": ("An answer drawn only from the document", "An answer"),
    "summary": ("A short summary of the document", "A short summary of a document"),
}
FEATURES = ("lm_min_pmi", "lm_min_logprob", "lm_low3_logprob", "lm_mean_logprob")
MAX_CONTEXT_SHARE = 0.8  # of the model's context window, for the passages (the rest: answer and leads)


def prompts(contexts: Sequence[str], kind: str = "answer") -> tuple[str, str]:
    with_passages, alone = LEADS[kind]
    document = "\n\n".join(c.strip() for c in contexts if c.strip())
    return f"Document:\n{document}\n\n{with_passages}:\n", f"{alone}:\n"


def fit_context(model: Any, contexts: Sequence[str]) -> list[str]:
    """The passages cut to the model's window (their ends give way first: what is cut cannot support)."""
    budget = int(getattr(model, "context_window", 4096) * MAX_CONTEXT_SHARE)
    kept = list(contexts)
    while kept and (tokens := model.count_tokens("\n\n".join(kept))) > budget:
        longest = max(range(len(kept)), key=lambda i: len(kept[i]))
        kept[longest] = kept[longest][: int(len(kept[longest]) * budget / tokens * 0.95)]
    return kept


def token_scores(model: Any, contexts: Sequence[str], answer: str, kind: str = "answer") -> list[dict[str, Any]] | None:
    """Per answer token: its text, log-probability after the passages and alone, and their difference;
    None when the model cannot score text (an API backend)."""
    return token_scores_many(model, [(contexts, answer)], kind)[0]


def token_scores_many(model: Any, items: Sequence[tuple[Sequence[str], str]], kind: str = "answer") -> list[list[dict[str, Any]] | None]:
    """`token_scores` of many (contexts, answer) items, ordered so the model reads each set of passages
    once: every answer of one set after it, then every answer alone."""
    scorer = getattr(model, "text_logprobs", None)
    answers = [strip_markers(answer).strip() for _, answer in items]
    if scorer is None:
        return [None] * len(items)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, (contexts, _) in enumerate(items):
        groups.setdefault(tuple(contexts), []).append(i)
    conditional: dict[int, list[tuple[str, float]] | None] = {}
    for key, members in groups.items():
        prefix = prompts(fit_context(model, key), kind)[0]
        for i in members:
            conditional[i] = scorer(prefix, answers[i]) if answers[i] else None
    alone = prompts((), kind)[1]
    out: list[list[dict[str, Any]] | None] = []
    for i, answer in enumerate(answers):
        plain = scorer(alone, answer) if conditional[i] else None
        if not plain or len(plain) != len(conditional[i]):
            out.append(None)
            continue
        out.append([{"token": t, "logprob": c, "pmi": c - u} for (t, c), (_, u) in zip(conditional[i], plain)])
    return out


def features(tokens: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The stack's inputs: the weakest token's PMI and log-probability, the mean of the three least
    likely tokens, the mean log-probability. The first token is left out of the minima: after the lead
    its probability says more about phrasing than about support."""
    body = list(tokens[1:]) or list(tokens)
    logprobs = sorted(t["logprob"] for t in body)
    return {
        "lm_min_pmi": min(t["pmi"] for t in body),
        "lm_min_logprob": logprobs[0],
        "lm_low3_logprob": statistics.fmean(logprobs[:3]),
        "lm_mean_logprob": statistics.fmean(t["logprob"] for t in tokens),
    }


def weakest(tokens: Sequence[dict[str, Any]], n: int = 3) -> list[dict[str, Any]]:
    """The answer's tokens the passages support least (lowest PMI): what a reviewer checks first."""
    return sorted(tokens, key=lambda t: t["pmi"])[:n]


def likelihood(model: Any, contexts: Sequence[str], answer: str, kind: str = "answer") -> tuple[dict[str, float], list[dict[str, Any]]] | None:
    """(features, weakest tokens) of one answer, or None when the model cannot score text."""
    tokens = token_scores(model, contexts, answer, kind)
    if not tokens:
        return None
    return features(tokens), [{"token": t["token"], "pmi": round(t["pmi"], 3)} for t in weakest(tokens)]
