"""Answer latency on the sec10q corpus with the default local model: p50/p95 of retrieve_ms,
first_token_ms and total_ms over questions of `shared/data/sec10q/qa.jsonl`, then retrieve_ms at
100,000 chunks (the corpus's chunks repeated, vectors jittered so the index is not degenerate).

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.latency [--home DIR] [--questions 24]

`--home` keeps the ingested corpus between runs (ingesting 20 10-Qs takes minutes on 2 cores).
Questions are taken evenly spread over the file (every n-th) so a short run still covers every
company and question type.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench.common import percentile, peak_rss_mb, shared_data, write_results
from retrieval.offline import apply_privacy_defaults

SCALE_GROUP = "all-staff"


def summary(values: list[float]) -> dict[str, Any]:
    values = [v for v in values if v is not None]
    return {"p50": _round(percentile(values, 50)), "p95": _round(percentile(values, 95)), "n": len(values)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def ingest(settings, docs: Path) -> dict[str, Any]:
    from ingest.pipeline import Ingestor

    started = time.perf_counter()
    report = Ingestor(settings).run([docs], progress=True)
    return {"seconds": round(time.perf_counter() - started, 1), **report.to_json()}


def pick(questions: list[dict], n: int) -> list[dict]:
    if n <= 0 or n >= len(questions):
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def answer_latency(settings, questions: list[dict]) -> dict[str, Any]:
    from retrieval.assistant import build_assistant
    from retrieval.chunk_store import layer
    from retrieval.partitions import PartitionedStore

    assistant = build_assistant(settings)
    started = time.perf_counter()
    assistant.warm_up()
    warm_s = time.perf_counter() - started
    if (partitions := layer(assistant.store, PartitionedStore)) is not None:  # a store ingested before partitions existed: build them untimed
        partitions.sync_partitions()
    rows = []
    for q in questions:
        answer = assistant.ask(q["question"], user="bench", groups=[SCALE_GROUP], channel="bench")
        rows.append(
            {
                "id": q["id"],
                **answer.to_json()["timings"],
                "refused": answer.refused,
                "prompt_tokens": answer.usage.prompt_tokens,
                "completion_tokens": answer.usage.completion_tokens,
                "citations": len(answer.citations),
                "cited_expected_source": any(c.source.split("/")[-1] in q["sources"] for c in answer.citations),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    answered = [r for r in rows if not r["refused"]]
    return {
        "warm_up_s": round(warm_s, 1),
        "questions": len(rows),
        "refused": len(rows) - len(answered),
        "cited_expected_source": sum(r["cited_expected_source"] for r in rows),
        "retrieve_ms": summary([r["retrieve_ms"] for r in rows]),
        "first_token_ms": summary([r["first_token_ms"] for r in rows]),
        "first_token_ms_answered": summary([r["first_token_ms"] for r in answered]),
        "total_ms": summary([r["total_ms"] for r in rows]),
        "prompt_tokens": summary([r["prompt_tokens"] for r in answered]),
        "completion_tokens": summary([r["completion_tokens"] for r in answered]),
        "rows": rows,
    }


def scaled_retrieval(settings, questions: list[dict], target: int) -> dict[str, Any]:
    """Copy the ingested chunks (text, metadata, vector + jitter) into a new collection until it holds
    `target` chunks, then time retrieval alone (embed + dense + lexical + fusion) for every question."""
    from retrieval.chroma_connection import ChromaConnection
    from retrieval.chunk_store import layer
    from retrieval.embedders import make_embedder
    from retrieval.index import Index
    from retrieval.partitions import PartitionedStore
    from retrieval.retriever import Retriever
    from retrieval.schema import Chunk

    source = ChromaConnection(settings).collection.get(include=["documents", "metadatas", "embeddings"])
    scaled = settings.model_copy(update={"store": settings.store.model_copy(update={"collection": "scale100k"})})
    index = Index.open(scaled)
    store, lexical = index.store, index.lexical
    rng = random.Random(0)
    started = time.perf_counter()
    count, copy = store.count(), 0
    while count < target:
        vectors, chunks = [], []
        for i, d, m, e in zip(source["ids"], source["documents"], source["metadatas"], source["embeddings"], strict=True):
            if count + len(chunks) >= target:
                break
            jittered = [float(x) + rng.gauss(0, 0.01) for x in e]
            norm = sum(x * x for x in jittered) ** 0.5
            vectors.append([x / norm for x in jittered])
            chunks.append(Chunk.from_metadata(f"{i}~{copy}", d, m))
        for s in range(0, len(chunks), 2000):  # copies of ingested chunks, written as ingestion writes them
            index.upsert(chunks[s : s + 2000], vectors[s : s + 2000])
        count += len(chunks)
        copy += 1
    build_s = time.perf_counter() - started
    started = time.perf_counter()  # bring the store's group partitions up to date with the copies
    partitions = layer(store, PartitionedStore)
    moved = partitions.sync_partitions() if partitions is not None else 0
    partition_s = time.perf_counter() - started
    embedder = make_embedder(settings)
    embedder.warm_up()
    retriever = Retriever(settings.retrieval, store, embedder, lexical)
    retriever.retrieve("warm up the index", [SCALE_GROUP])
    times, parts = [], {"embed": [], "dense": [], "lexical": []}
    for q in questions:
        t0 = time.perf_counter()
        retriever.retrieve(q["question"], [SCALE_GROUP])
        times.append((time.perf_counter() - t0) * 1000)
        # the parts, timed separately, to show where the milliseconds go
        t1 = time.perf_counter()
        vector = embedder.embed_query(q["question"])
        t2 = time.perf_counter()
        store.query(vector, settings.retrieval.candidates, [SCALE_GROUP])
        t3 = time.perf_counter()
        lexical.search(q["question"], settings.retrieval.candidates, [SCALE_GROUP], max_df=settings.retrieval.lexical_max_df)
        t4 = time.perf_counter()
        for name, ms in (("embed", t2 - t1), ("dense", t3 - t2), ("lexical", t4 - t3)):
            parts[name].append(ms * 1000)
    return {
        "chunks": store.count(),
        "build_s": round(build_s, 1),
        "partitions": {"synced": moved, "seconds": round(partition_s, 1), "count": len(partitions.partitions()) if partitions is not None else 0},
        "retrieve_ms": summary(times),
        "parts_ms": {k: summary(v) for k, v in parts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="LORE_HOME to ingest into and reuse (default: a temporary directory)")
    parser.add_argument("--questions", type=int, default=24, help="questions for the answer run (0: all 195)")
    parser.add_argument("--scale", type=int, default=100_000, help="chunks for the retrieval-at-scale run (0: skip)")
    parser.add_argument("--skip-answers", action="store_true", help="only the retrieval-at-scale run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help='setting override, e.g. retrieval.context_tokens=600')
    args = parser.parse_args()
    apply_privacy_defaults()
    from retrieval.settings import load_settings, overrides_from

    overrides = overrides_from(args.set)
    qa = [json.loads(line) for line in shared_data("sec10q", "qa.jsonl").read_text().splitlines() if line.strip()]
    questions = pick(qa, args.questions)
    with tempfile.TemporaryDirectory(prefix="lore-latency-") as tmp:
        home = Path(args.home or tmp)
        settings = load_settings(overrides={"home": str(home), **overrides})
        doc: dict[str, Any] = {"home": str(home), "settings": settings.retrieval.model_dump(mode="json"), "model": settings.models.generator.model}
        if not (home / "chroma").exists() or not settings.lexical_db.exists():
            doc["ingest"] = ingest(settings, shared_data("sec10q", "docs"))
        if not args.skip_answers:
            doc["answers"] = answer_latency(settings, questions)
        if args.scale:
            doc["scale"] = scaled_retrieval(settings, qa, args.scale)
        doc["peak_rss_mb"] = peak_rss_mb()
    write_results("latency", doc)


if __name__ == "__main__":
    main()
