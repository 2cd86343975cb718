"""Refusal calibration: how often Lore refuses the unanswerable questions (refusal recall) and how
often it refuses answerable ones (false refusals), as a function of `retrieval.min_score`, with the
default models on the sample corpus.

The model runs once per question with the threshold off (recording its own refusal signal and the
best dense similarity); every threshold is then evaluated offline: refused = best < t or the model
refused. The threshold is chosen on `data/golden.jsonl` (max recall - false-refusal rate, ties to
the lower threshold) and reported on `data/golden_holdout.jsonl`, which played no part in choosing.

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


def run_questions(assistant, path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        groups = q.get("groups") or ["all-staff"]
        best = assistant.retriever.retrieve(q["question"], groups).best_dense
        answer = assistant.ask(q["question"], user="calibration", groups=groups, channel="bench")
        rows.append({"id": q["id"], "answerable": q["answerable"], "best_dense": round(best, 4), "model_refused": answer.refused,
                     "answer": answer.answer, "first_token_ms": answer.timings.first_token_ms})
        print(json.dumps(rows[-1]), flush=True)
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
        tune = run_questions(assistant, REPO / "data" / "golden.jsonl")
        holdout = run_questions(assistant, REPO / "data" / "golden_holdout.jsonl")
    curve = [rates(tune, t) for t in THRESHOLDS]
    chosen = max(curve, key=lambda r: (r["refusal_recall"] - r["false_refusal_rate"], -r["threshold"]))
    write_results(
        "refusal",
        {
            "chosen_min_score": chosen["threshold"],
            "tune": {"questions": len(tune), **chosen, "model_only": rates(tune, -1.0)},
            "holdout": {"questions": len(holdout), **rates(holdout, chosen["threshold"]), "model_only": rates(holdout, -1.0)},
            "tune_curve": curve,
            "rows": {"tune": tune, "holdout": holdout},
        },
    )


if __name__ == "__main__":
    main()
