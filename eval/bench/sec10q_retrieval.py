"""Retrieval quality on the 20 SEC 10-Q filings: for each question in sec10q/qa.jsonl, does one
of its source filings appear among the top-5 chunks? Measured for Lore's chunks with dense
retrieval through the store, for Lore's default hybrid `assistant.search` (with and without
searching inside the documents a question names), and for the naive
llama-index index that eval.bench.ingest leaves behind (same embedder, 1,024-token chunks).

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.sec10q_retrieval

Ingests the filings into --work/lore first when they are not there yet (an unchanged re-ingest
otherwise, which takes a second).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.bench.common import shared_data, write_results
from retrieval.offline import apply_privacy_defaults

K = 5


def hit(sources: list[str], wanted: list[str]) -> bool:
    return any(Path(s).name in wanted for s in sources)


def score(questions: list[dict], retrieve) -> dict[str, Any]:
    by_type: dict[str, list[bool]] = defaultdict(list)
    start = time.perf_counter()
    for q in questions:
        by_type[q["question_type"]].append(hit(retrieve(q["question"]), q["sources"]))
        by_type["chunk:" + q["source_chunk_type"]].append(by_type[q["question_type"]][-1])
    hits = [h for t, v in by_type.items() if not t.startswith("chunk:") for h in v]
    return {
        "hit_at_5": round(sum(hits) / len(hits), 3),
        "by_type": {t: round(sum(v) / len(v), 3) for t, v in sorted(by_type.items())},
        "ms_per_query": round((time.perf_counter() - start) * 1000 / len(hits), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/lore-bench-sec10q"))
    args = parser.parse_args()
    apply_privacy_defaults()
    from ingest.pipeline import Ingestor
    from retrieval.embedders import make_embedder
    from retrieval.index import Index
    from retrieval.settings import load_settings

    docs = shared_data("sec10q", "docs")
    questions = [json.loads(line) for line in shared_data("sec10q", "qa.jsonl").read_text().splitlines() if line.strip()]
    settings = load_settings(overrides={"home": str(args.work / "lore")})
    embedder = make_embedder(settings)
    index = Index.open(settings)
    store = index.store
    ingest = Ingestor(settings, index, embedder).run([docs]).to_json()
    embedder = make_embedder(settings)  # float32 for queries, as at serving time
    results: dict[str, Any] = {"questions": len(questions), "k": K, "ingest": {k: ingest[k] for k in ("added", "unchanged", "total_chunks")}}

    results["lore_dense"] = score(questions, lambda q: [s.chunk.source for s in store.query(embedder.embed_query(q), K, None)])
    try:
        from retrieval.assistant import build_assistant
        from retrieval.generators import FakeChatModel
    except ImportError:
        results["lore_hybrid"] = "retrieval.assistant is not available"
    else:
        assistant = build_assistant(settings, chat_model=FakeChatModel(), embedder=embedder, index=index)
        results["lore_hybrid"] = score(questions, lambda q: [s.chunk.source for s in assistant.search(q, groups=None, top_k=K)])
        # the same without searching inside the documents a question names (retrieval/names.py)
        assistant.retriever.config = settings.retrieval.model_copy(update={"scope_docs": 0})
        results["lore_hybrid_no_names"] = score(questions, lambda q: [s.chunk.source for s in assistant.search(q, groups=None, top_k=K)])

    naive_dir = args.work / "naive"
    if naive_dir.is_dir():
        import chromadb

        collection = chromadb.PersistentClient(path=str(naive_dir)).get_collection("naive")

        def naive(q: str) -> list[str]:
            found = collection.query(query_embeddings=[embedder.embed_query(q)], n_results=K, include=["metadatas"])
            return [m.get("file_name", "") for m in found["metadatas"][0]]

        results["naive_dense"] = score(questions, naive)
    else:
        results["naive_dense"] = "run eval.bench.ingest first to build the naive index"
    write_results("sec10q_retrieval", results)


if __name__ == "__main__":
    main()
