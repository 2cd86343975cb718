"""Judge validation on SummEdits: is the faithfulness judge a good consistency classifier?

Each (document, summary) pair is scored with the faithfulness scorer (summary sentences = claims,
each verified against the document). A threshold on the score is chosen on one half of the seed
groups (`tune`) and balanced accuracy is measured on the other (`test`), per domain and overall.
Pairs are judged document by document, so the local model's KV cache holds a document across all
of its summaries. Reference points (same metric): GPT-4 ≈ 82 %, humans ≈ 91 %, chance 50 %.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.summedits [--groups 5 --pairs 5]
Prints JSON to stdout and writes eval/bench/results/summedits.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "summedits" / "summedits.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "summedits.json"
REFERENCE = {"gpt-4": 0.821, "human": 0.909, "gpt-4 (these 6 domains)": 0.832, "chance": 0.5}


def sample_pairs(rows: list[dict[str, Any]], groups_per_domain: int, pairs_per_group: int, seed: int) -> list[dict[str, Any]]:
    """Stratified: per domain `groups_per_domain` seed groups, per group up to `pairs_per_group` pairs
    with both labels represented; groups alternate between the tune and test halves."""
    rng = random.Random(seed)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["group_id"]].append(row)
    chosen = []
    for domain in sorted({r["domain"] for r in rows}):
        groups = sorted(g for g in by_group if g.startswith(domain + "/"))
        rng.shuffle(groups)
        for index, group in enumerate(groups[:groups_per_domain]):
            members = by_group[group]
            pos = [r for r in members if r["label"] == 1]
            neg = [r for r in members if r["label"] == 0]
            rng.shuffle(pos)
            rng.shuffle(neg)
            half = pairs_per_group // 2
            picked = pos[:half] + neg[: pairs_per_group - min(half, len(pos))]
            for row in picked[:pairs_per_group]:
                chosen.append({**row, "half": "tune" if index % 2 == 0 else "test"})
    return chosen


def group_halves(rows: list[dict[str, Any]], seed: int = 13, sampled: int = 6) -> dict[str, str]:
    """Every seed group's half (`tune` or `test`), the same halves `sample_pairs(rows, sampled, …, seed)`
    gives its groups: groups in the judge's sample keep their half, and the rest of each domain's shuffled
    groups continue the alternation. Settings are chosen on `tune`; `test` is only measured."""
    rng = random.Random(seed)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["group_id"]].append(row)
    halves: dict[str, str] = {}
    for domain in sorted({r["domain"] for r in rows}):
        groups = sorted(g for g in by_group if g.startswith(domain + "/"))
        rng.shuffle(groups)
        for index, group in enumerate(groups):
            halves[group] = "tune" if index % 2 == 0 else "test"
            if index < sampled:  # sample_pairs draws two shuffles per sampled group: keep the generator in step
                rng.shuffle([r for r in by_group[group] if r["label"] == 1])
                rng.shuffle([r for r in by_group[group] if r["label"] == 0])
    return halves


def balanced_accuracy(labels: list[int], predictions: list[int]) -> float | None:
    pos = [p for l, p in zip(labels, predictions) if l == 1]
    neg = [p for l, p in zip(labels, predictions) if l == 0]
    if not pos or not neg:
        return None
    return (sum(pos) / len(pos) + sum(1 - p for p in neg) / len(neg)) / 2


def best_threshold(scores: list[float], labels: list[int]) -> float:
    """The cut (predict consistent when score >= cut) with the best balanced accuracy on these pairs."""
    values = sorted(set(scores))
    candidates = [values[0] - 1e-9] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-9]
    return max(candidates, key=lambda cut: (balanced_accuracy(labels, [int(s >= cut) for s in scores]) or 0, -abs(cut - 0.5)))


def evaluate(pairs: list[dict[str, Any]], key: str = "score") -> dict[str, Any]:
    """Threshold on the tune half, balanced accuracy on the test half, for the score under `key`."""
    pairs = [{**p, "score": p.get(key)} for p in pairs]
    scored = [p for p in pairs if p["score"] is not None]
    tune = [p for p in scored if p["half"] == "tune"]
    cut = best_threshold([p["score"] for p in tune], [p["label"] for p in tune]) if tune else 0.5
    out: dict[str, Any] = {"threshold": round(cut, 4), "domains": {}}
    for domain in sorted({p["domain"] for p in pairs}):
        test = [p for p in scored if p["half"] == "test" and p["domain"] == domain]
        ba = balanced_accuracy([p["label"] for p in test], [int(p["score"] >= cut) for p in test])
        out["domains"][domain] = {"n_test": len(test), "balanced_accuracy": round(ba, 4) if ba is not None else None}
    test = [p for p in scored if p["half"] == "test"]
    pooled = balanced_accuracy([p["label"] for p in test], [int(p["score"] >= cut) for p in test])
    per_domain = [d["balanced_accuracy"] for d in out["domains"].values() if d["balanced_accuracy"] is not None]
    tune_ba = balanced_accuracy([p["label"] for p in tune], [int(p["score"] >= cut) for p in tune])
    out.update(
        n_test=len(test),
        balanced_accuracy_pooled=round(pooled, 4) if pooled is not None else None,
        balanced_accuracy_domain_mean=round(statistics.fmean(per_domain), 4) if per_domain else None,
        balanced_accuracy_tune=round(tune_ba, 4) if tune_ba is not None else None,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=4, help="seed groups per domain (alternating tune/test)")
    parser.add_argument("--pairs", type=int, default=6, help="pairs per group")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--judge", default="generator", choices=["generator", "fake"])
    parser.add_argument("--engine", default="lore", choices=["lore", "ragas"], help="ragas: ragas' own faithfulness through our wrapper")
    parser.add_argument("--claims", default="sentences", choices=["sentences", "llm"])
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads for the judge (0: all cores)")
    parser.add_argument("--limit", type=int, help="only the first N sampled pairs (smoke runs)")
    parser.add_argument("--ensemble", action="store_true",
                        help="average the claim score with one verdict on the whole summary (finer scores for the threshold)")
    parser.add_argument("--domains", help="comma-separated domains to keep (default: all six)")
    parser.add_argument("--home", type=Path, help="LORE_HOME for the judge cache (default: a fresh temp dir: timings uncached)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    from eval.datasets import ScoreItem
    from eval.judge import make_judge
    from eval.metrics import strip_markers
    from eval.scorer import Scorer
    from retrieval.settings import load_settings

    if not DATA.is_file():
        print(json.dumps({"error": f"{DATA} is absent: place the shared data set beside the repository"}))
        return 2
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.domains:
        rows = [r for r in rows if r["domain"] in args.domains.split(",")]
    pairs = sample_pairs(rows, args.groups, args.pairs, args.seed)[: args.limit]
    home = args.home or Path(tempfile.mkdtemp(prefix="lore-summedits-"))
    overrides = {"home": str(home), "eval": {"judge": args.judge, "claims": args.claims, "engine": args.engine},
                 "models": {"generator": {"threads": args.threads}}}
    settings = load_settings(overrides=overrides)
    judge = make_judge(settings)
    started = time.perf_counter()
    judge.warm_up()
    load_s = time.perf_counter() - started
    scorer = Scorer.from_settings(settings, judge)
    scorer.relevancy = scorer.citation_check = False
    items = [ScoreItem(id=p["id"], question="Summarize the document.", contexts=(p["document"],), answer=p["summary"], refused=False) for p in pairs]
    started = time.perf_counter()
    done = 0

    def progress(_):
        nonlocal done
        done += 1
        if done % 10 == 0:
            print(f"summedits: {done}/{len(items)} pairs, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    whole_p: dict[str, float] = {}

    def score_pair(index: int):
        result = scorer.score(items[index])
        if args.ensemble and result.scores.get("faithfulness") is not None:
            # one more verdict on the whole summary, right away: its document is still in the KV cache
            whole_p[items[index].id] = judge.assess([strip_markers(pairs[index]["summary"]).replace("\n", " ")], pairs[index]["document"])[0].p
        progress(result)
        return result

    results = [score_pair(i) for i in range(len(items))]  # pairs are already grouped by document
    seconds = time.perf_counter() - started
    for pair, result in zip(pairs, results):
        pair["score"] = result.scores.get("faithfulness")
        pair["claims"] = result.detail.get("faithfulness", {}).get("claims", [])
        pair["error"] = result.errors.get("faithfulness")
        probabilities = [c["p"] for c in pair["claims"] if c.get("p") is not None]
        pair["soft"] = sum(probabilities) / len(probabilities) if probabilities and pair["score"] is not None else None
        pair["soft_min"] = min(probabilities) if probabilities and pair["score"] is not None else None
        if pair["id"] in whole_p:
            pair["whole"] = whole_p[pair["id"]]
            pair["ensemble"] = ((pair["soft"] if pair["soft"] is not None else pair["score"]) + pair["whole"]) / 2
    # Score variants; the headline one is picked by balanced accuracy on the tune half only.
    variants = {"hard": evaluate(pairs, "score")}
    for key in ("soft", "soft_min", "whole", "ensemble"):
        if any(p.get(key) is not None for p in pairs):
            variants[key] = evaluate(pairs, key)
    chosen = max(variants, key=lambda k: (variants[k]["balanced_accuracy_tune"] or 0, k == "hard"))
    nulls = sum(p["score"] is None for p in pairs)
    report = {
        "benchmark": "summedits",
        "judge": judge.name,
        "engine": args.engine,
        "claims": args.claims,
        "ensemble": args.ensemble,
        "threads": args.threads,
        "prompt_version": __import__("eval.judge", fromlist=["PROMPT_VERSION"]).PROMPT_VERSION,
        "sample": {"groups_per_domain": args.groups, "pairs_per_group": args.pairs, "seed": args.seed, "pairs": len(pairs),
                   "consistent": sum(p["label"] for p in pairs)},
        "variant": chosen,
        **variants[chosen],
        "variants": {k: {m: v[m] for m in ("threshold", "balanced_accuracy_tune", "balanced_accuracy_pooled", "balanced_accuracy_domain_mean")}
                     for k, v in variants.items()},
        "nan_rate": round(nulls / len(pairs), 4) if pairs else 0.0,
        "errors": sorted({p["error"].split(":")[0] for p in pairs if p["error"]}),
        "seconds": round(seconds, 1),
        "load_seconds": round(load_s, 1),
        "pairs_per_s": round(len(pairs) / seconds, 4) if seconds else None,
        "judge_stats": judge.stats.to_json(),
        "reference": REFERENCE,
        "note": "measured on a shared 2-core machine; other work may have been running",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    detail = args.out.with_suffix(".pairs.jsonl")
    with detail.open("w", encoding="utf-8") as handle:
        for p in pairs:
            handle.write(json.dumps({k: p.get(k) for k in ("id", "domain", "half", "label", "score", "soft", "soft_min", "whole", "ensemble", "claims", "error") if k in p}) + "\n")
    print(json.dumps(report))
    return 0 if not math.isnan(report["nan_rate"]) else 1


if __name__ == "__main__":
    sys.exit(main())
