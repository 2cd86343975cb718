"""Which of a document's passages hold the answer: a small learned ranker over the fused candidates.

Retrieval finds the right filing almost always, but inside it the passage holding the asked figure
or sentence is often not among the few that fit the prompt: a 10-Q discusses cash flows in many
paragraphs and splits its statements over several passages, and fusion ranks by how much a passage
is *about* the question's words, not by whether it holds what is asked. On the development half of
the sec10q questions the passages holding the reference's facts were within the first 8 fused
passages for 0.45 of the facts, within the first 60 for 0.81 (eval/bench/context_recall.py).

This ranker re-scores the candidates (the fused ranking plus the passages whose table row names the
topic) with a linear model over features that say where the asked thing is: how much of the
topic's weighted words the passage, its best sentence, its best table row label and its section
heading carry; whether the question asks for a figure and the passage is a table; the fused rank
and the dense and BM25 scores. The weights are trained by `python -m eval.train_ranker` on the
development halves of the sec10q and golden questions (a passage is relevant when it holds one of
the reference's key facts) and shipped as a small JSON file (`retrieval/data/passage_ranker.json`):
scoring 50 candidates is a few milliseconds of Python, no model is loaded.

It is off by default (`retrieval.passage_ranker = "none"`): it puts more of the answers' facts into
the prompt, but the answers of the local 1.5B model were not better for it (docs/retrieval.md,
"A trained passage ranker").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.errors import ConfigError
from retrieval.focus import passage_sentences, row_match, term_overlap, topic_share
from retrieval.schema import ScoredChunk

DEFAULT_WEIGHTS = Path(__file__).with_name("data") / "passage_ranker.json"
TABLE_ROW = re.compile(r"^\|.*\d", re.M)
DIGIT = re.compile(r"\d")
FEATURES = (
    "bias", "fused_rank", "unranked", "dense", "lexical", "share", "best_sentence", "row", "heading",
    "table", "numbers", "figures", "figures_x_row", "figures_x_table", "figures_x_numbers", "yes_no_x_share",
    "length", "position", "dense_gap", "row_top", "numeric_sentence", "figures_x_numeric_sentence",
)


@dataclass(frozen=True)
class Query:
    """What the features need of the question: the topic's weighted terms and what it asks for."""

    weights: dict[str, float]
    figures: bool  # a number is asked for: the answer lives in a table row or a sentence with figures
    yes_no: bool = False


def features(query: Query, candidates: Sequence[ScoredChunk], fused_ranks: Sequence[int | None]) -> list[list[float]]:
    """One feature row per candidate (FEATURES order). `fused_ranks`: each candidate's rank (1 =
    best) in the fused ranking, None for a passage brought in only for its table row."""
    lexical = [c.lexical_score for c in candidates if c.lexical_score is not None]
    top_lexical = max(lexical, default=0.0) or 1.0
    top_dense = max((c.dense_score for c in candidates if c.dense_score is not None), default=0.0)
    row_scores = [row_match(c.chunk.text, query.weights) for c in candidates]
    top_row = max(row_scores, default=0.0)
    rows = []
    for scored, rank, row in zip(candidates, fused_ranks, row_scores, strict=True):
        text = scored.chunk.text
        head, _, body = text.partition("\n") if text.startswith("[") else ("", "", text)
        share = topic_share(body, query.weights)
        sentences = [(term_overlap(s, query.weights), bool(DIGIT.search(s))) for s in passage_sentences(body) if not s.startswith("|")]
        sentence = max((o for o, _ in sentences), default=0.0)
        numeric = max((o for o, d in sentences if d), default=0.0)
        table_rows = len(TABLE_ROW.findall(body))
        table = 1.0 if table_rows >= 2 else 0.0
        numbers = min(1.0, len(DIGIT.findall(body)) / max(1, len(body)) * 10)
        figures = 1.0 if query.figures else 0.0
        rows.append([
            1.0,
            math.log1p(rank) / math.log1p(60) if rank is not None else 1.0,
            0.0 if rank is not None else 1.0,
            scored.dense_score if scored.dense_score is not None else 0.0,
            (scored.lexical_score or 0.0) / top_lexical,
            share,
            sentence,
            row,
            topic_share(head + " " + scored.chunk.section, query.weights) if query.weights else 0.0,
            table,
            numbers,
            figures,
            figures * row,
            figures * table,
            figures * numbers,
            (1.0 if query.yes_no else 0.0) * share,
            math.log1p(len(body)) / math.log1p(4000),
            math.log1p(scored.chunk.chunk_index) / math.log1p(500),
            (scored.dense_score - top_dense) if scored.dense_score is not None else -0.3,
            1.0 if row > 0 and row >= top_row else 0.0,
            numeric,
            figures * numeric,
        ])
    return rows


class PassageRanker:
    """Logistic scores over FEATURES; candidates re-ordered best first (ties keep the fused order)."""

    name = "learned"

    def __init__(self, weights: Sequence[float], trained: dict | None = None):
        if len(weights) != len(FEATURES):
            raise ValueError(f"the passage ranker has {len(weights)} weights for {len(FEATURES)} features")
        self.weights = list(weights)
        self.trained = trained or {}

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> PassageRanker:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            weights, features_of = data["weights"], tuple(data["features"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read the passage ranker's weights {path} ({exc}): run python -m eval.train_ranker, "
                              f"or set retrieval.passage_ranker = \"none\"") from exc
        if features_of != FEATURES or len(weights) != len(FEATURES):
            raise ConfigError(f"{path} was trained for other features: run python -m eval.train_ranker")
        return cls(weights, data.get("trained"))

    def score(self, rows: Sequence[Sequence[float]]) -> list[float]:
        return [sum(w * x for w, x in zip(self.weights, row, strict=True)) for row in rows]

    def rank(self, query: Query, candidates: Sequence[ScoredChunk], fused_ranks: Sequence[int | None]) -> list[ScoredChunk]:
        scores = self.score(features(query, candidates, fused_ranks))
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return [replace(candidates[i], score=scores[i]) for i in order]

