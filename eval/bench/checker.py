"""Consistency-checker benchmark: SummEdits leave-one-domain-out, the answer-style set, and speed.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.checker [--judge N]

- **SummEdits, leave one domain out.** `eval.train_checker` fine-tuned one checker per domain on the tune
  half of the five others and scored the held-out domain (`lodo.jsonl` beside the model). Here the
  calibration stack of each fold is fitted on the other five domains' tune-half scores only, and the
  held-out domain's *test* half is measured: AUROC and balanced accuracy (at the stack's 0.5) per domain,
  pooled and the mean of domains. The LLM judge's column is the existing `summedits.json` measurement
  (the same halves, a 90-pair test sample of them; balanced accuracy only: its per-pair scores were not kept).
- **Answer-style set** (eval/bench/data/answer_style.jsonl, test split): the shipped checker's calibrated
  score beside plain word overlap, and — with `--judge N` — the local LLM judge and the combination on N
  test items (the combination's stack fitted on N dev items).
- **LLM likelihood** (`--likelihood G`, eval/likelihood.py): on the checker's SummEdits pairs of G seed
  groups per domain and half, the checker, the likelihood and the two stacked, each fitted per fold on the
  other domains' tune half (measured on both halves: the tune half to choose, the test half to report);
  on `--likelihood-items N` answer-style dev and test answers, the same three. The model's features are
  cached (`--likelihood-cache`), so a rerun reads the model only for new pairs. With
  `--save-combined-stack` the combined stack is stored only when, on the tune half, it beats both.
- **Speed**: pairs per second of the checker alone on 2 torch threads, SummEdits pairs and answers.
Prints JSON on stdout (a table on stderr) and writes eval/bench/results/checker.json (figures only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.bench.summedits import RESULTS as JUDGE_RESULTS, best_threshold
from eval.bench.summedits import balanced_accuracy

RESULTS = Path(__file__).resolve().parent / "results" / "checker.json"
TARGETS = {"balanced_accuracy_pooled": 0.72, "auroc_pooled": 0.80, "pairs_per_s": 20.0, "answer_auroc_over_overlap": 0.05}


def auroc(labels: list[int], scores: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4) if len(set(labels)) == 2 else None


def rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def lodo(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per held-out domain: stack fitted on the other domains' tune half, measured on its test half."""
    from eval.train_checker import STACK_FEATURES, fit_stack

    domains = sorted({r["domain"] for r in rows})
    out: dict[str, Any] = {"domains": {}}
    pooled_labels: list[int] = []
    pooled_scores: list[float] = []
    for domain in domains:
        fit = [r for r in rows if r["domain"] != domain and r["half"] == "tune"]
        stack = fit_stack(fit, [r["label"] for r in fit], STACK_FEATURES)
        test = [r for r in rows if r["domain"] == domain and r["half"] == "test"]
        labels = [r["label"] for r in test]
        scores = [stack.probability(r) for r in test]
        tune = [r for r in rows if r["domain"] == domain and r["half"] == "tune"]
        out["domains"][domain] = {
            "n_test": len(test),
            "auroc": auroc(labels, scores),
            "balanced_accuracy": rounded(balanced_accuracy(labels, [int(s >= 0.5) for s in scores])),
            "auroc_tune_half": auroc([r["label"] for r in tune], [stack.probability(r) for r in tune]),
        }
        pooled_labels += labels
        pooled_scores += scores
    out["n_test"] = len(pooled_labels)
    out["auroc_pooled"] = auroc(pooled_labels, pooled_scores)
    out["balanced_accuracy_pooled"] = rounded(balanced_accuracy(pooled_labels, [int(s >= 0.5) for s in pooled_scores]))
    for key in ("auroc", "balanced_accuracy"):
        values = [d[key] for d in out["domains"].values() if d[key] is not None]
        out[f"{key}_domain_mean"] = round(statistics.fmean(values), 4) if values else None
    return out


class LikelihoodCache:
    """eval.likelihood features per (model, kind, contexts, text), kept in a JSON-lines file: a rerun
    of the benchmark reads the model only for pairs it has not scored."""

    def __init__(self, path: Path, model: Any):
        self.path, self.model = path, model
        self.values: dict[str, dict[str, float]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    doc = json.loads(line)
                    self.values[doc["key"]] = doc["features"]
        self.seconds, self.computed = 0.0, 0

    def key(self, kind: str, contexts: Sequence[str], text: str) -> str:
        return hashlib.sha256(json.dumps([self.model.name, kind, list(contexts), text]).encode("utf-8")).hexdigest()

    def features(self, items: Sequence[tuple[Sequence[str], str]], kind: str) -> list[dict[str, float] | None]:
        from eval.likelihood import features, token_scores_many

        keys = [self.key(kind, contexts, text) for contexts, text in items]
        missing = [i for i, k in enumerate(keys) if k not in self.values]
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in missing:
            groups.setdefault(tuple(items[i][0]), []).append(i)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        done = 0
        for chosen in groups.values():  # one set of passages at a time, saved as it is scored
            started = time.perf_counter()
            scored = token_scores_many(self.model, [items[i] for i in chosen], kind)
            self.seconds += time.perf_counter() - started
            self.computed += len(chosen)
            with self.path.open("a", encoding="utf-8") as handle:
                for i, tokens in zip(chosen, scored):
                    if tokens:
                        self.values[keys[i]] = features(tokens)
                        handle.write(json.dumps({"key": keys[i], "features": self.values[keys[i]]}) + "\n")
            done += len(chosen)
            print(f"likelihood: {done}/{len(missing)} {kind} pairs scored ({self.seconds:.0f} s)", file=sys.stderr, flush=True)
        return [self.values.get(k) for k in keys]

    def pairs_per_s(self) -> float | None:
        return round(self.computed / self.seconds, 4) if self.seconds else None


def likelihood_lodo(rows: list[dict[str, Any]], texts: dict[str, dict[str, Any]], groups: int, cache: LikelihoodCache) -> dict[str, Any]:
    """SummEdits, leave one domain out, on the same pairs for all three: the checker alone, the LLM
    likelihood alone and the two stacked. The pairs: those of the checker's sample in `groups` seed
    groups per domain and half (seeded); each stack fitted on the other domains' tune-half pairs. `texts`:
    the SummEdits rows by id."""
    from eval.likelihood import FEATURES as LM_FEATURES
    from eval.train_checker import STACK_FEATURES, fit_stack

    rng = random.Random(29)
    chosen = []
    for domain in sorted({r["domain"] for r in rows}):
        for half in ("tune", "test"):
            pool = sorted({texts[r["id"]]["group_id"] for r in rows if r["domain"] == domain and r["half"] == half})
            picked = set(rng.sample(pool, min(groups, len(pool))))
            chosen += [r for r in rows if r["domain"] == domain and r["half"] == half and texts[r["id"]]["group_id"] in picked]
    lm = cache.features([((texts[r["id"]]["document"],), texts[r["id"]]["summary"]) for r in chosen], "summary")
    scored = [{**r, **values} for r, values in zip(chosen, lm) if values]
    kinds = {"checker": STACK_FEATURES, "likelihood": LM_FEATURES, "combined": (*STACK_FEATURES, *LM_FEATURES)}
    out: dict[str, Any] = {"pairs": len(scored), "groups_per_domain_and_half": groups, "pairs_per_s": cache.pairs_per_s()}
    for name, names in kinds.items():
        measured: dict[str, tuple[list[int], list[float]]] = {"tune": ([], []), "test": ([], [])}
        domains = {}
        for domain in sorted({r["domain"] for r in scored}):
            fit = [r for r in scored if r["domain"] != domain and r["half"] == "tune"]
            stack = fit_stack(fit, [r["label"] for r in fit], names)
            for half, (labels, scores) in measured.items():
                held = [r for r in scored if r["domain"] == domain and r["half"] == half]
                held_labels, held_scores = [r["label"] for r in held], [stack.probability(r) for r in held]
                labels += held_labels
                scores += held_scores
                if half == "test":
                    domains[domain] = {"n_test": len(held), "auroc": auroc(held_labels, held_scores)}
        labels, scores = measured["test"]
        out[name] = {"domains": domains, "auroc_pooled": auroc(labels, scores),
                     "balanced_accuracy_pooled": rounded(balanced_accuracy(labels, [int(s >= 0.5) for s in scores])),
                     "auroc_pooled_tune_half": auroc(*measured["tune"])}
    out["tune_rows"] = [r for r in scored if r["half"] == "tune"]
    return out


def judge_column() -> dict[str, Any] | None:
    if not JUDGE_RESULTS.is_file():
        return None
    doc = json.loads(JUDGE_RESULTS.read_text(encoding="utf-8"))
    return {
        "source": "eval/bench/results/summedits.json (measured earlier; not re-run)",
        "pairs": "a 90-pair test sample of the same test half (15 per domain); AUROC not available (per-pair scores not kept)",
        "variant": doc.get("variant"),
        "domains": {d: {"balanced_accuracy": v["balanced_accuracy"], "n_test": v["n_test"]} for d, v in doc["domains"].items()},
        "balanced_accuracy_pooled": doc.get("balanced_accuracy_pooled"),
        "balanced_accuracy_domain_mean": doc.get("balanced_accuracy_domain_mean"),
        "pairs_per_s": doc.get("pairs_per_s"),
    }


def answer_style(checker: Any, judge_items: int, home: Path) -> dict[str, Any]:
    from eval.bench.answer_style import load_answer_set
    from eval.checker import word_overlap
    from eval.metrics import strip_markers

    items = load_answer_set()
    dev = [i for i in items if i["split"] == "dev"]
    test = [i for i in items if i["split"] == "test"]
    overlap = {i["id"]: word_overlap(i["contexts"], strip_markers(i["answer"])) for i in items}
    results = checker.check_many([(i["contexts"], i["answer"]) for i in test])
    stack = checker.stack("checker")
    scores = {i["id"]: stack.probability(r.features) for i, r in zip(test, results)}
    labels = [i["label"] for i in test]
    cut = best_threshold([overlap[i["id"]] for i in dev], [i["label"] for i in dev])
    out: dict[str, Any] = {
        "n_test": len(test),
        "faithful": sum(labels),
        "checker": {"auroc": auroc(labels, [scores[i["id"]] for i in test]),
                    "balanced_accuracy": rounded(balanced_accuracy(labels, [int(scores[i["id"]] >= 0.5) for i in test]))},
        "word_overlap": {"auroc": auroc(labels, [overlap[i["id"]] for i in test]), "threshold_from_dev": round(cut, 4),
                         "balanced_accuracy": rounded(balanced_accuracy(labels, [int(overlap[i["id"]] >= cut) for i in test]))},
        "recall_of_errors_by_rule": {},
    }
    for rule in sorted({i["rule"] for i in test if not i["label"]}):
        caught = [scores[i["id"]] < 0.5 for i in test if i["rule"] == rule]
        out["recall_of_errors_by_rule"][rule] = f"{sum(caught)}/{len(caught)}"
    if judge_items:
        out["judge"] = judge_and_combination(checker, dev, test, judge_items, home)
    return out


def judge_and_combination(checker: Any, dev: list[dict[str, Any]], test: list[dict[str, Any]], n: int, home: Path) -> dict[str, Any]:
    """The local LLM judge on n dev and n test items (balanced, seeded); the combined stack fitted on dev."""
    from eval.checker import features
    from eval.judge import faithfulness, make_judge
    from eval.train_checker import fit_stack
    from retrieval.settings import load_settings

    settings = load_settings(overrides={"home": str(home), "eval": {"judge": "generator"}})
    judge = make_judge(settings)
    judge.warm_up()
    sets = {"dev": balanced_pick(dev, n), "test": balanced_pick(test, n)}
    rows: dict[str, list[dict[str, float]]] = {}
    started = time.perf_counter()
    for name, chosen in sets.items():
        rows[name] = []
        checked = checker.check_many([(i["contexts"], i["answer"]) for i in chosen])
        for item, result in zip(chosen, checked):
            judged = faithfulness(judge, item["contexts"], item["answer"])
            rows[name].append(features([c["p"] for c in result.claims], judged, item["contexts"], item["answer"]))
    seconds = time.perf_counter() - started
    names = ("min_logit", "mean_logit", "judge_logit", "judge_share")
    stack = fit_stack(rows["dev"], [i["label"] for i in sets["dev"]], names)
    test_labels = [i["label"] for i in sets["test"]]
    single = checker.stack("checker")
    return {
        "n_dev": len(sets["dev"]), "n_test": len(sets["test"]),
        "judge_auroc": auroc(test_labels, [r["judge_logit"] for r in rows["test"]]),
        "checker_auroc_same_items": auroc(test_labels, [single.probability(r) for r in rows["test"]]),
        "combined_auroc": auroc(test_labels, [stack.probability(r) for r in rows["test"]]),
        "combined_balanced_accuracy": rounded(balanced_accuracy(test_labels, [int(stack.probability(r) >= 0.5) for r in rows["test"]])),
        "combined_stack": stack.to_json(),
        "judge_items_per_s": round(2 * n / seconds, 4) if not judge.stats.cache_hits else None,  # None: verdicts came from the cache
        "judge_stats": judge.stats.to_json(),
    }


def likelihood_answers(checker: Any, lodo_report: dict[str, Any], n: int, cache: LikelihoodCache) -> dict[str, Any]:
    """The answer-style set with the LLM likelihood: n dev and n test answers (balanced, seeded). The
    combined stack is fitted on development data only — the SummEdits tune-half pairs of `likelihood_lodo`
    and the n dev answers — and measured on the n test answers beside the checker and the likelihood alone."""
    from eval.bench.answer_style import load_answer_set
    from eval.likelihood import FEATURES as LM_FEATURES
    from eval.train_checker import STACK_FEATURES, fit_stack

    cache.seconds, cache.computed = 0.0, 0  # this set's own speed
    items = load_answer_set()
    sets = {split: balanced_pick([i for i in items if i["split"] == split], n) for split in ("dev", "test")}
    rows: dict[str, list[dict[str, Any]]] = {}
    for split, chosen in sets.items():
        checked = checker.check_many([(i["contexts"], i["answer"]) for i in chosen])
        lm = cache.features([(tuple(i["contexts"]), i["answer"]) for i in chosen], "answer")
        rows[split] = [{**r.features, **values, "label": i["label"]} for i, r, values in zip(chosen, checked, lm) if values and not r.error]
    names = (*STACK_FEATURES, *LM_FEATURES)
    summedits = lodo_report.get("tune_rows", [])
    fit = summedits + rows["dev"]
    stack = fit_stack(fit, [r["label"] for r in fit], names)
    test = rows["test"]
    labels = [r["label"] for r in test]
    shipped = checker.stack("checker")
    return {
        "n_dev": len(rows["dev"]), "n_test": len(test), "stack_fitted_on": {"summedits_tune_pairs": len(summedits), "answer_dev_items": len(rows["dev"])},
        "checker_auroc": auroc(labels, [shipped.probability(r) for r in test]),
        "likelihood_min_pmi_auroc": auroc(labels, [r["lm_min_pmi"] for r in test]),
        "combined_auroc": auroc(labels, [stack.probability(r) for r in test]),
        "combined_balanced_accuracy": rounded(balanced_accuracy(labels, [int(stack.probability(r) >= 0.5) for r in test])),
        "combined_stack": stack.to_json(),
        "pairs_per_s": cache.pairs_per_s(),
    }


def balanced_pick(pool: list[dict[str, Any]], n: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pos = rng.sample([i for i in pool if i["label"]], min(n // 2, sum(i["label"] for i in pool)))
    neg = rng.sample([i for i in pool if not i["label"]], min(n - len(pos), sum(not i["label"] for i in pool)))
    return pos + neg


def speed(checker: Any, pairs: list[tuple[tuple[str, ...], str]], what: str) -> dict[str, Any]:
    checker.check_many(pairs[:4])  # warm
    started = time.perf_counter()
    checker.check_many(pairs)
    seconds = time.perf_counter() - started
    return {"what": what, "pairs": len(pairs), "seconds": round(seconds, 2), "pairs_per_s": round(len(pairs) / seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judge", type=int, default=0, metavar="N", help="also run the local LLM judge on N dev + N answer-style test items")
    parser.add_argument("--save-combined-stack", action="store_true",
                        help="with --likelihood (or --judge): store the combination's stack (fitted on development data) in the checker's checker.json")
    parser.add_argument("--speed-pairs", type=int, default=120)
    parser.add_argument("--no-speed", action="store_true", help="accuracy only (no throughput measured: no need for the benchmark lock)")
    parser.add_argument("--home", type=Path, help="LORE_HOME for the judge cache (default: a temp dir)")
    parser.add_argument("--likelihood", type=int, default=0, metavar="G",
                        help="also the LLM likelihood (eval.likelihood), alone and stacked with the checker, on the checker's SummEdits pairs of G seed groups per domain and half")
    parser.add_argument("--likelihood-items", type=int, default=12, metavar="N", help="with --likelihood: N dev + N test answer-style items")
    parser.add_argument("--likelihood-cache", type=Path, help="the likelihood features' cache (default: <models.dir>/../bench/likelihood.jsonl)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    from eval.bench.summedits import DATA, group_halves
    from eval.checker import ConsistencyChecker
    from retrieval.settings import load_settings

    settings = load_settings()
    checker = ConsistencyChecker.from_models_dir(settings.models.dir, threads=2)
    checker.warm_up()
    lodo_rows = [json.loads(line) for line in (checker.path / "lodo.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    report: dict[str, Any] = {"benchmark": "checker", "checker": checker.name, "data_hash": checker.meta.get("data_hash"),
                              "trained": checker.meta.get("train"), "targets": TARGETS}
    report["summedits_lodo"] = {"checker": lodo(lodo_rows) if lodo_rows else None, "judge": judge_column()}
    report["answer_style"] = answer_style(checker, args.judge, args.home or Path(tempfile.mkdtemp(prefix="lore-checker-")))
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    combined = None
    if args.likelihood and lodo_rows:
        from retrieval.generators import make_chat_model

        model = make_chat_model(settings)
        model.warm_up()
        cache = LikelihoodCache(args.likelihood_cache or settings.models.dir.parent / "bench" / "likelihood.jsonl", model)
        found = likelihood_lodo(lodo_rows, {r["id"]: r for r in rows}, args.likelihood, cache)
        report["summedits_lodo"]["likelihood"] = {k: v for k, v in found.items() if k != "tune_rows"}
        report["answer_style"]["likelihood"] = likelihood_answers(checker, found, args.likelihood_items, cache)
        tune = {kind: found[kind]["auroc_pooled_tune_half"] or 0.0 for kind in ("checker", "likelihood", "combined")}
        if tune["combined"] >= max(tune["checker"], tune["likelihood"]):
            combined = (report["answer_style"]["likelihood"]["combined_stack"], {"summedits_tune_pairs_and_answer_dev_items": report["answer_style"]["likelihood"]["stack_fitted_on"]})
        elif args.save_combined_stack:
            print(f"checker bench: the combined stack is not saved: on the SummEdits tune half it does not beat the best single score ({tune})", file=sys.stderr)
    elif "judge" in report["answer_style"]:
        combined = (report["answer_style"]["judge"]["combined_stack"], {"answer_style_dev_items": report["answer_style"]["judge"]["n_dev"]})
    if args.save_combined_stack and combined:
        meta = json.loads((checker.path / "checker.json").read_text(encoding="utf-8"))
        meta.setdefault("stacks", {})["combined"] = combined[0]
        meta.setdefault("metrics", {})["combined_stack_fit"] = combined[1]
        (checker.path / "checker.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    halves = group_halves(rows)
    test = [r for r in rows if halves[r["group_id"]] == "test"]
    sample = random.Random(3).sample(test, min(args.speed_pairs, len(test)))
    from eval.bench.answer_style import load_answer_set

    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    report["speed"] = [{**s, "carried_over": "from the previous run of this file (--no-speed)"} for s in previous.get("speed", [])] if args.no_speed else [speed(checker, [((r["document"],), r["summary"]) for r in sample], "summedits pairs (document, summary)"),
                       speed(checker, [(tuple(i["contexts"]), i["answer"]) for i in load_answer_set()], "answer-style items (3 passages, answer)")]
    report["machine"] = {"cpus": os.cpu_count(), "load_average_1min_after_speed": round(os.getloadavg()[0], 2), "torch_threads": 2}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(report)
    print(json.dumps(report))
    return 0


def print_table(report: dict[str, Any]) -> None:
    lines = ["", "SummEdits, leave one domain out (test half)   checker AUROC   checker BA   judge BA (sample)"]
    checker = report["summedits_lodo"]["checker"] or {"domains": {}}
    judge = report["summedits_lodo"]["judge"] or {"domains": {}}
    for domain, doc in checker["domains"].items():
        j = judge["domains"].get(domain, {}).get("balanced_accuracy")
        lines.append(f"  {domain:<14} n={doc['n_test']:<4}                  {doc['auroc']}          {doc['balanced_accuracy']}        {j}")
    lines.append(f"  pooled  n={checker.get('n_test')}   AUROC {checker.get('auroc_pooled')}   BA {checker.get('balanced_accuracy_pooled')}   "
                 f"judge BA {judge.get('balanced_accuracy_pooled')}; domain means AUROC {checker.get('auroc_domain_mean')} BA {checker.get('balanced_accuracy_domain_mean')}")
    a = report["answer_style"]
    lines.append(f"answer-style test (n={a['n_test']}): checker AUROC {a['checker']['auroc']} BA {a['checker']['balanced_accuracy']}; "
                 f"word overlap AUROC {a['word_overlap']['auroc']} BA {a['word_overlap']['balanced_accuracy']}")
    if "judge" in a:
        j = a["judge"]
        lines.append(f"  with the LLM judge (n={j['n_test']}): judge AUROC {j['judge_auroc']}, checker {j['checker_auroc_same_items']}, "
                     f"combined {j['combined_auroc']} (BA {j['combined_balanced_accuracy']}); judge {j['judge_items_per_s']} items/s")
    if "likelihood" in report["summedits_lodo"]:
        lm = report["summedits_lodo"]["likelihood"]
        lines.append(f"SummEdits with the LLM likelihood ({lm['pairs']} pairs, {lm['groups_per_domain_and_half']} groups per domain and half; {lm['pairs_per_s'] or 'features read from the cache: no'} pairs/s):")
        for kind in ("checker", "likelihood", "combined"):
            per = ", ".join(f"{d} {v['auroc']}" for d, v in lm[kind]["domains"].items())
            lines.append(f"  {kind:<10} pooled AUROC {lm[kind]['auroc_pooled']} BA {lm[kind]['balanced_accuracy_pooled']}   ({per})")
    if "likelihood" in a:
        la = a["likelihood"]
        lines.append(f"  with the LLM likelihood (n={la['n_test']}): checker AUROC {la['checker_auroc']}, likelihood (min PMI) {la['likelihood_min_pmi_auroc']}, "
                     f"combined {la['combined_auroc']} (BA {la['combined_balanced_accuracy']}); {la['pairs_per_s'] or 'cached: no'} items/s")
    for s in report["speed"]:
        lines.append(f"speed: {s['pairs_per_s']} pairs/s ({s['what']}, {s['pairs']} in {s['seconds']} s)")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
