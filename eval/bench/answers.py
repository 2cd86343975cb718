"""Answer accuracy, end to end, with the default local model: are the answers right, cited, and
refused when the documents lack them?

Question sets:
- `sec10q`: the 195 questions of shared/data/sec10q/qa.jsonl over the 20 filings;
- `unanswerable`: 44 questions the filings cannot answer (eval/bench/data/sec10q_unanswerable.jsonl:
  other companies, periods not filed, figures 10-Qs do not report);
- `golden`: data/golden.jsonl and data/golden_holdout.jsonl over the sample corpus (data/sample),
  each question with its own reader groups.

Halves: `dev` (sec10q and unanswerable rows 1, 3, 5, …; data/golden.jsonl) is where defaults are
chosen; `report` (rows 2, 4, 6, …; data/golden_holdout.jsonl) is what is reported.

Per answer (eval/keyfacts.py): key-fact recall against the reference and `correct` (half the key
facts, right yes/no; a reference saying "not in the documents" expects a refusal); whether an
expected filing is cited; citation precision (cited filing is an expected one); citation support
(every amount and date of a cited sentence is in the passage it cites); numbers stated that no
cited passage contains; refused; first-token and total time; prompt tokens.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.answers --split dev [--set retrieval.context_tokens=600]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eval.bench.common import RESULTS, percentile, shared_data, write_results
from eval.metrics import sentence_citations
from retrieval.offline import apply_privacy_defaults
from retrieval.settings import overrides_from

REPO = Path(__file__).resolve().parents[2]
UNANSWERABLE = Path(__file__).resolve().parent / "data" / "sec10q_unanswerable.jsonl"
SEC10Q_GROUPS = ["all-staff"]
DEFAULT_HOME = "/tmp/lore-sec10q"
DEFAULT_SAMPLE_HOME = "/tmp/lore-sample"
# The previous default (before typed answers): free-text answers, 350-token context. With --preset
# legacy the run uses it, on a store ingested by that version (--home).
PRESETS: dict[str, dict[str, Any]] = {
    "legacy": {"retrieval": {"answer_mode": "text", "context_tokens": 350, "check_numbers": False},
               "models": {"generator": {"repack_weights": True}}},
}


# ---- questions --------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_questions(sets: Iterable[str], split: str) -> list[dict[str, Any]]:
    """Every question as {id, set, split, question, reference, sources, answerable, groups, type, chunk_type}."""
    out: list[dict[str, Any]] = []
    sets = set(sets)
    if "sec10q" in sets:
        for i, q in enumerate(read_jsonl(shared_data("sec10q", "qa.jsonl"))):
            out.append({"id": q["id"], "set": "sec10q", "split": "dev" if i % 2 == 0 else "report", "question": q["question"],
                        "reference": q["answer"], "sources": q["sources"], "answerable": True, "groups": SEC10Q_GROUPS,
                        "type": q["question_type"], "chunk_type": q["source_chunk_type"]})
    if "unanswerable" in sets:
        for i, q in enumerate(read_jsonl(UNANSWERABLE)):
            out.append({"id": q["id"], "set": "unanswerable", "split": "dev" if i % 2 == 0 else "report", "question": q["question"],
                        "reference": "", "sources": [], "answerable": False, "groups": SEC10Q_GROUPS, "type": q["category"], "chunk_type": ""})
    if "golden" in sets:
        for name, half in (("golden.jsonl", "dev"), ("golden_holdout.jsonl", "report")):
            for q in read_jsonl(REPO / "data" / name):
                facts = [with_reference_scale(f, q.get("reference_answer", "")) for f in q.get("key_facts") or []]
                reference = "; ".join(facts) or q.get("reference_answer", "")
                out.append({"id": q["id"], "set": "golden", "split": half, "question": q["question"], "reference": reference,
                            "sources": q.get("reference_sources") or [], "answerable": q["answerable"],
                            "groups": q.get("groups") or ["all-staff"], "type": "golden", "chunk_type": "", "key_facts": facts})
    return [q for q in out if split == "all" or q["split"] == split]


def with_reference_scale(fact: str, reference_answer: str) -> str:
    """A golden key fact is the source's own words ("Total net sales 81,797", checked against the page
    by tests/unit/test_sample_data.py); where the table's unit stands above the figure, the reference
    answer states it ("$81,797 million"), and that is the amount an answer must state."""
    for figure in re.findall(r"(?<![\d.,$])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]|\s*(?:million|billion|thousand))", fact):
        if m := re.search(rf"\$?\s?{re.escape(figure)}\s+(?:million|billion|thousand)\b", reference_answer):
            fact = fact.replace(figure, m.group(0), 1)
    return fact


# ---- one answer, scored -------------------------------------------------------------------------------


def unsupported_numbers(answer, question: str) -> list[str]:
    """Amounts and dates the answer states that no passage its sentence cites contains (the
    passage's file name and section count as part of it, and so does the question)."""
    from retrieval.facts import amount_in, date_in, dates, quantities

    if answer.refused:
        return []
    by_id = {s.chunk.id: s.chunk for s in answer.contexts}
    missing: list[str] = []
    for bare, cited in sentence_citations(answer.answer):
        passages = [question]
        for n in cited:
            if 1 <= n <= len(answer.citations):
                citation = answer.citations[n - 1]
                chunk = by_id.get(citation.chunk_id)
                passages.append(f"{citation.source} {citation.section} {chunk.text if chunk else citation.text}")
        for q in quantities(bare):
            if not any(amount_in(q, p) for p in passages):
                missing.append(q.text)
        for d in dates(bare):
            if not any(date_in(d, p) for p in passages):
                missing.append(d.text)
    return missing


def score_answer(q: dict[str, Any], answer) -> dict[str, Any]:
    from eval.keyfacts import KeyFact, correct, score

    row: dict[str, Any] = {k: q[k] for k in ("id", "set", "split", "type", "chunk_type", "answerable")}
    row.update(answer=answer.answer, refused=answer.refused, timings=answer.to_json()["timings"],
               prompt_tokens=answer.usage.prompt_tokens, completion_tokens=answer.usage.completion_tokens,
               citations=[{"source": c.source, "page": c.page, "section": c.section} for c in answer.citations])
    if answer.details:
        row["details"] = answer.details
    expected = {Path(s).name for s in q["sources"]}
    cited = [Path(c.source).name for c in answer.citations]
    if q["answerable"]:
        facts = score(q["question"], q["reference"], answer.answer)
        if not facts.facts and q.get("key_facts"):
            # a golden key fact the extractor reads nothing from (a model code: "Dell UltraSharp U2724D
            # 27-inch") is matched as written, not left unscored
            facts = score(q["question"], q["reference"], answer.answer, facts=[KeyFact("name", f) for f in q["key_facts"]])
        row["facts"] = [f.text for f in facts.facts]
        row["missing"] = [f.text for f in facts.missing]
        row["recall"] = facts.recall
        row["expects_refusal"] = facts.expects_refusal
        row["scored"] = bool(facts.facts) or facts.expects_refusal
        row["correct"] = correct(facts, answer.refused) if row["scored"] else None
        row["expected_cited"] = bool(expected & set(cited)) if not answer.refused else None
        row["citation_precision"] = (sum(c in expected for c in cited) / len(cited)) if cited and expected else None
    row["citation_support"] = citation_support(answer)
    row["unsupported_numbers"] = unsupported_numbers(answer, q["question"])
    return row


def citation_support(answer) -> float | None:
    """Share of (sentence, citation) pairs whose passage holds every amount and date of the sentence."""
    from retrieval.facts import amount_in, date_in, dates, quantities

    if answer.refused or not answer.citations:
        return None
    by_id = {s.chunk.id: s.chunk for s in answer.contexts}
    pairs = held = 0
    for bare, cited in sentence_citations(answer.answer):
        facts_q, facts_d = quantities(bare), dates(bare)
        for n in cited:
            if not 1 <= n <= len(answer.citations):
                continue
            c = answer.citations[n - 1]
            chunk = by_id.get(c.chunk_id)
            passage = f"{c.source} {c.section} {chunk.text if chunk else c.text}"
            pairs += 1
            held += all(amount_in(x, passage) for x in facts_q) and all(date_in(x, passage) for x in facts_d)
    return held / pairs if pairs else None


# ---- the table ------------------------------------------------------------------------------------------


def _share(values: list[bool | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def _pct(values: list[float | None], q: float) -> float | None:
    values = [v for v in values if v is not None]
    p = percentile(values, q)
    return None if p is None else round(p, 1)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    scored = [r for r in answerable if r.get("scored")]
    answered = [r for r in answerable if not r["refused"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "scored": len(scored),
        "accuracy": _share([r["correct"] for r in scored]),
        "key_fact_recall": _mean([r["recall"] for r in scored if not r.get("expects_refusal")]),
        "false_refusals": _share([r["refused"] for r in answerable if not r.get("expects_refusal")]),
        "unanswerable": len(unanswerable),
        "refused_unanswerable": _share([r["refused"] for r in unanswerable]),
        "expected_filing_cited": _share([r["expected_cited"] for r in answered]),
        "citation_precision": _mean([r["citation_precision"] for r in answered]),
        "citation_support": _mean([r["citation_support"] for r in rows]),
        "answers_with_unsupported_numbers": sum(bool(r["unsupported_numbers"]) for r in rows),
        "first_token_ms": {"p50": _pct([r["timings"]["first_token_ms"] for r in rows], 50), "p95": _pct([r["timings"]["first_token_ms"] for r in rows], 95)},
        "total_ms": {"p50": _pct([r["timings"]["total_ms"] for r in rows], 50), "p95": _pct([r["timings"]["total_ms"] for r in rows], 95)},
        "prompt_tokens": {"p50": _pct([r["prompt_tokens"] for r in rows if r["prompt_tokens"]], 50),
                          "p95": _pct([r["prompt_tokens"] for r in rows if r["prompt_tokens"]], 95)},
    }


def tables(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summaries per split × set, and per question type and table/text for sec10q."""
    out: dict[str, Any] = {}
    for split in sorted({r["split"] for r in rows}):
        part = [r for r in rows if r["split"] == split]
        sec = [r for r in part if r["set"] in ("sec10q", "unanswerable")]
        out[split] = {
            "sec10q+unanswerable": summarise(sec),
            "golden": summarise([r for r in part if r["set"] == "golden"]),
            "sec10q_by_type": {t: summarise([r for r in part if r["set"] == "sec10q" and r["type"] == t])
                               for t in sorted({r["type"] for r in part if r["set"] == "sec10q"})},
            "sec10q_by_source": {t: summarise([r for r in part if r["set"] == "sec10q" and r["chunk_type"] == t])
                                 for t in sorted({r["chunk_type"] for r in part if r["set"] == "sec10q"})},
        }
    return out


def markdown(summary: dict[str, Any], label: str) -> str:
    cols = ["accuracy", "key_fact_recall", "false_refusals", "refused_unanswerable", "expected_filing_cited",
            "citation_precision", "citation_support", "answers_with_unsupported_numbers"]
    lines = [f"| {label} | n | " + " | ".join(cols) + " | first token p50/p95 ms | total p50/p95 ms | prompt tokens p50/p95 |",
             "|" + " --- |" * (len(cols) + 5)]
    for split, parts in summary.items():
        for name in ("sec10q+unanswerable", "golden"):
            s = parts[name]
            if not s["questions"]:
                continue
            lines.append(f"| {split} {name} | {s['questions']} | " + " | ".join(str(s[c]) for c in cols)
                         + f" | {s['first_token_ms']['p50']}/{s['first_token_ms']['p95']} | {s['total_ms']['p50']}/{s['total_ms']['p95']}"
                         + f" | {s['prompt_tokens']['p50']}/{s['prompt_tokens']['p95']} |")
    return "\n".join(lines)


# ---- running ------------------------------------------------------------------------------------------


def assistant_for(home: Path, overrides: dict[str, Any], corpus: Path, acl: Path | None = None):
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant
    from retrieval.chunk_store import layer
    from retrieval.partitions import PartitionedStore
    from retrieval.settings import deep_merge, load_settings

    settings = load_settings(overrides=deep_merge({"home": str(home)}, overrides))
    if not (home / "chroma").exists() or not settings.lexical_db.exists():
        print(f"ingesting {corpus} into {home} …", file=sys.stderr, flush=True)
        Ingestor(settings).run([corpus], acl_map=acl, progress=True)
    assistant = build_assistant(settings)
    assistant.warm_up()
    if (partitions := layer(assistant.store, PartitionedStore)) is not None:
        partitions.sync_partitions()
    return assistant


def run(questions: list[dict[str, Any]], assistants: dict[str, Any], rows_path: Path) -> list[dict[str, Any]]:
    rows = []
    with rows_path.open("w", encoding="utf-8") as out:
        for i, q in enumerate(questions, start=1):
            assistant = assistants["golden" if q["set"] == "golden" else "sec10q"]
            answer = assistant.ask(q["question"], user="bench", groups=q["groups"], channel="bench")
            row = score_answer(q, answer)
            rows.append(row)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            mark = "refused" if row["refused"] else ("ok" if row.get("correct") else ("-" if row.get("correct") is None else "wrong"))
            print(f"[{i}/{len(questions)}] {q['id']} {mark} ft={row['timings']['first_token_ms']} "
                  f"{row['answer'][:140]!r}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "report", "all"], default="dev")
    parser.add_argument("--sets", default="sec10q,unanswerable,golden", help="comma-separated: sec10q, unanswerable, golden")
    parser.add_argument("--home", default=DEFAULT_HOME, help="LORE_HOME holding (or to receive) the 20 filings")
    parser.add_argument("--sample-home", default=DEFAULT_SAMPLE_HOME, help="LORE_HOME holding (or to receive) data/sample")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="settings of an earlier default, e.g. legacy")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="setting override, e.g. retrieval.context_tokens=600")
    parser.add_argument("--ids", help="only these question ids (comma-separated)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (after --ids)")
    parser.add_argument("--label", default="", help="a name for this run in the results file")
    args = parser.parse_args()
    apply_privacy_defaults()
    overrides = overrides_from(args.set, dict(PRESETS.get(args.preset or "", {})))
    questions = load_questions(args.sets.split(","), args.split)
    if args.ids:
        wanted = set(args.ids.split(","))
        questions = [q for q in questions if q["id"] in wanted]
    if args.limit:
        questions = questions[: args.limit]
    assistants: dict[str, Any] = {}
    if any(q["set"] != "golden" for q in questions):
        assistants["sec10q"] = assistant_for(Path(args.home), overrides, shared_data("sec10q", "docs"))
    if any(q["set"] == "golden" for q in questions):
        assistants["golden"] = assistant_for(Path(args.sample_home), overrides, REPO / "data" / "sample", REPO / "data" / "acl.yaml")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows_path = RESULTS / f"answers-{time.strftime('%Y%m%d-%H%M%S')}.rows.jsonl"
    started = time.perf_counter()
    rows = run(questions, assistants, rows_path)
    summary = tables(rows)
    print(markdown(summary, args.label or args.preset or "default"), file=sys.stderr)
    settings = next(iter(assistants.values())).settings
    write_results("answers", {
        "label": args.label or args.preset or "default", "split": args.split, "sets": args.sets, "overrides": overrides,
        "retrieval": settings.retrieval.model_dump(mode="json"), "generator": settings.models.generator.model_dump(mode="json", exclude={"api_key"}),
        "seconds": round(time.perf_counter() - started, 1), "rows_file": rows_path.name, "summary": summary,
    })


if __name__ == "__main__":
    main()
