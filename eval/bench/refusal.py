"""Refusal calibration: how often Lore refuses the unanswerable questions (refusal recall) and how
often it refuses answerable ones (false refusals), as a function of `retrieval.min_score`, with the
default models on the sample corpus.

The threshold is chosen on `data/golden.jsonl` from retrieval alone: the highest one that refuses
no answerable question there (an earlier rule, max recall minus false refusals, chose 0.43 and
refused 2 of 8 answerable holdout questions that the model answered). The whole system — threshold plus the model's own
"not in the documents" signal — is then measured on `data/golden_holdout.jsonl`, which played no
part in choosing: the model runs once per question with the threshold off, and refused = best < t
or the model refused. (`--model-on-tune` also runs the model on the tuning set: slow on 2 cores.)

    python -m eval.bench.refusal [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from eval.bench.common import write_results
from retrieval.offline import apply_privacy_defaults

REPO = Path(__file__).resolve().parents[2]
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(26)]  # 0.20 .. 0.45


def run_questions(assistant, path: Path, with_model: bool = True) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        groups = q.get("groups") or ["all-staff"]
        best = assistant.retriever.retrieve(q["question"], groups).best_dense
        row = {"id": q["id"], "answerable": q["answerable"], "best_dense": round(best, 4), "model_refused": False}
        if with_model:
            answer = assistant.ask(q["question"], user="calibration", groups=groups, channel="bench")
            row.update(model_refused=answer.refused, answer=answer.answer, first_token_ms=answer.timings.first_token_ms)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def rates(rows: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    refused = [r["best_dense"] < threshold or r["model_refused"] for r in rows]
    unanswerable = [x for x, r in zip(refused, rows, strict=True) if not r["answerable"]]
    answerable = [x for x, r in zip(refused, rows, strict=True) if r["answerable"]]
    return {
        "threshold": threshold,
        "refusal_recall": round(sum(unanswerable) / max(1, len(unanswerable)), 3),
        "false_refusal_rate": round(sum(answerable) / max(1, len(answerable)), 3),
        "by_threshold_alone": round(sum(r["best_dense"] < threshold for r in rows if not r["answerable"]) / max(1, len(unanswerable)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="LORE_HOME with data/sample ingested (ingested there when empty)")
    parser.add_argument("--model-on-tune", action="store_true", help="also run the model on the tuning set")
    args = parser.parse_args()
    apply_privacy_defaults()
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant
    from retrieval.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="lore-refusal-") as tmp:
        settings = load_settings(overrides={"home": args.home or tmp, "retrieval": {"min_score": -1.0}})
        if not settings.lexical_db.exists():
            Ingestor(settings).run([REPO / "data" / "sample"], acl_map=REPO / "data" / "acl.yaml")
        assistant = build_assistant(settings)
        assistant.warm_up()
        tune = run_questions(assistant, REPO / "data" / "golden.jsonl", with_model=args.model_on_tune)
        holdout = run_questions(assistant, REPO / "data" / "golden_holdout.jsonl")
    curve = [rates(tune, t) for t in THRESHOLDS]
    # The model's own signal catches most unanswerable questions; the threshold is the early exit that
    # must not refuse answerable ones: the highest threshold without a false refusal on the tuning set.
    safe = [r for r in curve if r["false_refusal_rate"] == 0] or curve[:1]
    chosen = max(safe, key=lambda r: r["threshold"])
    write_results(
        "refusal",
        {
            "chosen_min_score": chosen["threshold"],
            "tune": {"questions": len(tune), "model_ran": args.model_on_tune, **chosen},
            "holdout": {"questions": len(holdout), **rates(holdout, chosen["threshold"]), "model_only": rates(holdout, -1.0)},
            "tune_curve": curve,
            "rows": {"tune": tune, "holdout": holdout},
        },
    )


if __name__ == "__main__":
    main()
