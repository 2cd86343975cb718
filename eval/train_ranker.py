"""Train the passage ranker (retrieval/passage_ranker.py) on the development halves of the sec10q and golden questions.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.train_ranker            # ~1 min on 2 cores

1. **candidates**: for each question with key facts (amounts, dates, names of its reference;
   eval/keyfacts.py), sec10q's and the golden set's answerable ones over data/sample, the
   composer's own candidates for each part (`Composer.candidates`: the fused passages and those
   whose table row names the topic), with their features. A candidate is relevant when it holds
   one of the key facts (eval/bench/context_recall.py `held`).
2. **cross-validation**: the questions are split into folds by company (a company's four filings
   share their wording, so a fold never trains on the company it is scored on; a golden question's
   group is its source document); per fold a model is fitted on the other folds and ranks the
   held-out questions' candidates. Reported per set: the share of key facts held by the first k
   passages, in the fused order and in the ranker's, k = 1, 3, 5, 8.
3. **final model** on all development questions, written to `retrieval/data/passage_ranker.json`
   with the cross-validated figures. `--split report` scores the trained model on the report half
   (no fitting).

The model is a linear score per passage, fitted listwise: per question, a softmax over its
candidates should put its mass on the relevant ones (cross-entropy, L2, gradient descent; numpy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.answers import DEFAULT_HOME, DEFAULT_SAMPLE_HOME, REPO, assistant_for, load_questions
from eval.bench.common import shared_data, write_results
from eval.bench.context_recall import held
from retrieval.composer import _asks_amount
from retrieval.focus import term_weights
from retrieval.offline import apply_privacy_defaults
from retrieval.passage_ranker import DEFAULT_WEIGHTS, FEATURES, PassageRanker, Query, features

DEPTHS = (1, 3, 5, 8)


def collect(assistant, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per question part: its candidates' features and, per candidate, which key facts it holds."""
    from eval.keyfacts import key_facts

    composer, lexical = assistant.composer, assistant.lexical
    out = []
    for n, q in enumerate(questions, start=1):
        facts = [f for f in key_facts(q["question"], q["reference"]) if f.kind in ("amount", "date", "name")]
        if not facts:
            continue
        groups = q["groups"]
        the_plan = composer.plan(q["question"], groups)
        weights = term_weights(the_plan.topic, lexical.document_frequencies, lexical.count_cached())
        query = Query(weights, the_plan.kind == "number" or _asks_amount(q["question"]), the_plan.kind == "yes_no")
        for part in the_plan.parts:
            found, ranks = composer.candidates(the_plan.topic, q["question"], groups, part.docs)
            if found.empty:
                continue
            holds = [[i for i, f in enumerate(facts) if held(f, s.chunk.text)] for s in found.chunks]
            out.append({"id": q["id"], "set": q["set"], "company": _company(q), "facts": len(facts),
                        "x": features(query, found.chunks, ranks), "holds": holds})
        print(f"\r[{n}/{len(questions)}] candidates", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def _company(q: dict[str, Any]) -> str:
    """The cross-validation group: a filing's company ("2023 Q2 AAPL.pdf" → AAPL), a sample document."""
    if not q["sources"]:
        return q["id"]
    name = Path(q["sources"][0]).stem
    return name.split()[-1] if q["set"] == "sec10q" else name


def fit(lists: list[dict[str, Any]], l2: float = 1e-3, steps: int = 600, rate: float = 0.5) -> np.ndarray:
    """Listwise softmax cross-entropy: per list, the target spreads evenly over its relevant candidates."""
    data = [(np.asarray(item["x"]), np.asarray([1.0 if h else 0.0 for h in item["holds"]])) for item in lists]
    data = [(x, y / y.sum()) for x, y in data if y.sum() > 0]
    w = np.zeros(len(FEATURES))
    for _ in range(steps):
        grad = l2 * w
        for x, target in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += x.T @ (p - target) / len(data)
        w -= rate * grad
    return w


def recall_at(lists: list[dict[str, Any]], order_of) -> dict[int, float]:
    """Share of key facts held by the first k candidates, averaged over questions (parts of one
    question pooled: a fact counts when any part's first k hold it)."""
    per_question: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    facts: dict[str, int] = {}
    for item in lists:
        facts[item["id"]] = item["facts"]
        order = order_of(item)
        for k in DEPTHS:
            for i in order[:k]:
                per_question[item["id"]][k].update(item["holds"][i])
    return {k: round(float(np.mean([len(per_question[q][k]) / facts[q] for q in facts])), 3) for k in DEPTHS}


def by_set(lists: list[dict[str, Any]], measure) -> dict[str, Any]:
    return {name: measure([i for i in lists if i["set"] == name]) for name in sorted({i["set"] for i in lists})}


def fused_order(item):
    return list(range(len(item["x"])))


def model_order(w):
    def order(item):
        s = np.asarray(item["x"]) @ w
        return sorted(range(len(s)), key=lambda i: (-s[i], i))
    return order


def cross_validate(lists: list[dict[str, Any]], folds: int = 5, **fit_args) -> dict[str, Any]:
    companies = sorted({item["company"] for item in lists})
    fold_of = {c: i % folds for i, c in enumerate(companies)}
    orders = {}
    for f in range(folds):
        w = fit([item for item in lists if fold_of[item["company"]] != f], **fit_args)
        for idx, item in enumerate(lists):
            if fold_of[item["company"]] == f:
                orders[idx] = model_order(w)(item)
    index = {id(item): i for i, item in enumerate(lists)}
    return by_set(lists, lambda part: recall_at(part, lambda item: orders[index[id(item)]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "report"], default="dev")
    parser.add_argument("--home", default=DEFAULT_HOME)
    parser.add_argument("--sample-home", default=DEFAULT_SAMPLE_HOME)
    parser.add_argument("--cache", type=Path, help="read/write the collected candidates here (skips collection when present)")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--l2", type=float, default=1e-3)
    args = parser.parse_args()
    apply_privacy_defaults()
    started = time.perf_counter()
    if args.cache and args.cache.exists():
        lists = json.loads(args.cache.read_text())
    else:
        lists = collect(assistant_for(Path(args.home), {}, shared_data("sec10q", "docs")), load_questions(["sec10q"], args.split))
        sample = assistant_for(Path(args.sample_home), {}, REPO / "data" / "sample", REPO / "data" / "acl.yaml")
        lists += collect(sample, [q for q in load_questions(["golden"], args.split) if q["answerable"]])
        if args.cache:
            args.cache.write_text(json.dumps(lists))
    result: dict[str, Any] = {"split": args.split, "questions": len({i["id"] for i in lists}), "parts": len(lists),
                              "candidates": sum(len(i["x"]) for i in lists), "fused": by_set(lists, lambda part: recall_at(part, fused_order))}
    if args.split == "report":
        ranker = PassageRanker.load(args.out)
        result["ranked"] = by_set(lists, lambda part: recall_at(part, model_order(np.asarray(ranker.weights))))
    else:
        result["cross_validated"] = cross_validate(lists, l2=args.l2)
        w = fit(lists, l2=args.l2)
        result["weights"] = dict(zip(FEATURES, (round(float(v), 4) for v in w), strict=True))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"features": list(FEATURES), "weights": [round(float(v), 6) for v in w],
                                        "trained": {k: result[k] for k in ("split", "questions", "candidates", "fused", "cross_validated")}},
                                       indent=1) + "\n")
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_results("train_ranker", result)


if __name__ == "__main__":
    main()
