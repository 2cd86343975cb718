"""Retrieval quality on Cranfield (1,400 abstracts, 225 queries, graded qrels): nDCG@10 and Recall@10
for dense, lexical, plain reciprocal-rank fusion and Lore's default retrieval.

Every variant runs Lore's own code path (the Chroma store `make_store` builds + LexicalIndex +
Retriever) with the default embedder; only RetrievalSettings differ. Abstracts are cut by Lore's
chunker (`--whole`: one chunk each) and documents ranked by their best chunk. Gains are exponential
(2^rel - 1), the ideal DCG uses every judged document, Recall@10 counts relevance > 0, and both are
averaged over all 225 queries (see shared/data/README.md for why these conventions are pinned).
Every variant also reports both halves of the queries (odd and even positions in queries.jsonl,
counted from 1): a parameter is chosen on the odd half and reported on the even half and all.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.cranfield
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.bench.common import shared_data, write_results
from retrieval.offline import apply_privacy_defaults

# Variants: name → RetrievalSettings overrides. "plain_rrf" is the textbook fusion (k=60, equal
# weights, no feedback); "default" is whatever Lore ships (no overrides).
VARIANTS: dict[str, dict[str, Any]] = {
    "dense": {"mode": "dense", "feedback_docs": 0, "scope_docs": 0},
    "lexical": {"mode": "lexical", "feedback_docs": 0, "scope_docs": 0},
    "plain_rrf": {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60, "dense_weight": 1.0, "lexical_weight": 1.0, "feedback_docs": 0, "scope_docs": 0},
    "default": {},
}


def load_cranfield(root: Path) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    docs = [json.loads(line) for line in (root / "docs.jsonl").read_text().splitlines() if line.strip()]
    queries = [json.loads(line) for line in (root / "queries.jsonl").read_text().splitlines() if line.strip()]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (root / "qrels.tsv").read_text().splitlines()[1:]:
        qid, did, rel, _code = line.split("\t")
        qrels[qid][did] = int(rel)
    return docs, queries, qrels


def source_papers(root: Path) -> dict[str, str]:
    """Each query's judged "source paper" (Cleverdon code -1, graded 0 here: shared/data/README.md)."""
    rows = (line.split("\t") for line in (root / "qrels.tsv").read_text().splitlines()[1:])
    return {qid: did for qid, did, _rel, code in rows if code == "-1"}


def ndcg_at(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** judged.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    relevant = {d for d, r in judged.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def lore_chunks(docs: list[dict], embedder, settings) -> list:
    """The abstracts cut as ingestion cuts documents: Lore's chunker (embedder-token sizes, overlap,
    a context header with the title), so abstracts longer than MiniLM reads are embedded whole."""
    from ingest.chunking import Chunker
    from ingest.blocks import Block
    from retrieval.schema import Chunk

    chunker = Chunker(embedder.count_tokens, settings.ingest.chunk_tokens, settings.ingest.chunk_overlap)
    chunks = []
    for d in docs:
        title = d["title"].strip()
        body = d["text"][len(title) :].strip() if title and d["text"].startswith(title) else d["text"]
        blocks = [Block("Title", title)] if title else []
        blocks += [Block("NarrativeText", body)] if body else []
        drafts = chunker.chunk(blocks, title) if blocks else []
        for n, draft in enumerate(drafts or [None]):
            text = draft.text if draft else d["text"]
            chunks.append(Chunk(id=f"{d['id']}#{n}", text=text, source=f"cranfield/{d['id']}", doc_id=d["id"], chunk_index=n, groups=("all-staff",)))
    return chunks


def build_index(settings, docs: list[dict], cache: Path, chunked: bool):
    """Embed (cached) and write the corpus into a fresh index (store, lexical index, names)."""
    from retrieval.embedders import make_embedder
    from retrieval.index import Index
    from retrieval.names import document_name
    from retrieval.schema import Chunk

    embedder = make_embedder(settings)
    if chunked:
        chunks = lore_chunks(docs, embedder, settings)
    else:
        chunks = [Chunk(id=d["id"], text=d["text"], source=f"cranfield/{d['id']}", doc_id=d["id"], groups=("all-staff",)) for d in docs]
    cache_file = cache / f"cranfield-{'chunked-' if chunked else ''}{embedder.name.replace('/', '_')}.json"
    started = time.perf_counter()
    if cache_file.is_file():
        vectors = json.loads(cache_file.read_text())
    else:
        vectors = embedder.embed_documents([c.text for c in chunks])
        cache.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(vectors))
    embed_s = time.perf_counter() - started
    index = Index.open(settings)
    # each paper named as ingestion names a file: its file name, then its title
    index.upsert(chunks, vectors, names={d["id"]: document_name(f"cranfield/{d['id']}.txt", d["title"].strip(), []) for d in docs})
    return embedder, index, embed_s


def doc_ranking(chunks, k: int = 10) -> list[str]:
    """Documents in the order of their best chunk (max-pooling over a document's chunks)."""
    return list(dict.fromkeys(s.chunk.doc_id for s in chunks))[:k]


def select(queries: list[dict], split: str = "all", limit: int = 0) -> list[tuple[int, dict]]:
    """(position counted from 1, query) of the chosen half ("odd", "even" or "all"), the first `limit`."""
    chosen = [(n, q) for n, q in enumerate(queries, start=1) if split == "all" or (n % 2 == 1) == (split == "odd")]
    return chosen[:limit] if limit else chosen


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def paired(per_query: dict[str, float], baseline: dict[str, float]) -> dict[str, Any]:
    """Mean per-query nDCG@10 difference from a baseline run, with its standard error, over the
    queries both ran, for all of them and each half: differences of a few thousandths on 112
    queries are within the noise."""
    out: dict[str, Any] = {}
    for half in ("all", "odd", "even"):
        ids = [q for q in per_query if q in baseline and (half == "all" or (int(q) % 2 == 1) == (half == "odd"))]
        if len(ids) < 2:
            continue
        deltas = [per_query[q] - baseline[q] for q in ids]
        mean = sum(deltas) / len(deltas)
        sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (len(deltas) - 1))
        out[half] = {"delta": round(mean, 4), "se": round(sd / math.sqrt(len(deltas)), 4), "better": sum(d > 0 for d in deltas), "worse": sum(d < 0 for d in deltas)}
    return out


def run(
    variants: dict[str, dict[str, Any]], cache: Path, chunked: bool, limit: int = 0, split: str = "all", baseline: dict[str, float] | None = None
) -> dict[str, Any]:
    apply_privacy_defaults()
    from retrieval.retriever import Retriever
    from retrieval.settings import load_settings

    docs, queries, qrels = load_cranfield(shared_data("cranfield"))
    source = source_papers(shared_data("cranfield"))
    with tempfile.TemporaryDirectory(prefix="lore-cranfield-") as home:
        settings = load_settings(overrides={"home": home})
        embedder, index, embed_s = build_index(settings, docs, cache, chunked)
        embedder.warm_up()
        results: dict[str, Any] = {}
        chosen = select(queries, split, limit)
        for name, overrides in variants.items():
            config = settings.retrieval.model_copy(update=overrides)
            reranker = None
            if config.reranker != "none":
                from retrieval.generators import make_chat_model
                from retrieval.rerankers import make_reranker

                reranker = make_reranker(settings.model_copy(update={"retrieval": config}), make_chat_model(settings))
                reranker.warm_up()
            retriever = Retriever(config, index.store, embedder, index.lexical, reranker, index.names)
            ndcg, recall, times, odd, best, first = [], [], [], [], [], []
            for n, q in chosen:
                odd.append(n % 2 == 1)
                started = time.perf_counter()
                found = retriever.retrieve(q["text"], ["all-staff"], top_k=30 if chunked else 10)
                times.append((time.perf_counter() - started) * 1000)
                ranked = doc_ranking(found.chunks)
                ndcg.append(ndcg_at(ranked, qrels[q["id"]]))
                # Diagnostics: where the source paper lands, and nDCG@10 of the best order of the
                # documents retrieved (the headroom a reranker over them would have).
                retrieved = doc_ranking(found.chunks, k=len(found.chunks))
                best.append(ndcg_at(sorted(retrieved, key=lambda d: -qrels[q["id"]].get(d, 0)), qrels[q["id"]]))
                first.append(bool(ranked) and ranked[0] == source.get(q["id"]))
                recall.append(recall_at(ranked, qrels[q["id"]]))
            results[name] = {
                "ndcg@10": _mean(ndcg),
                "recall@10": _mean(recall),
                "ndcg@10_odd": _mean([v for v, o in zip(ndcg, odd, strict=True) if o]),
                "ndcg@10_even": _mean([v for v, o in zip(ndcg, odd, strict=True) if not o]),
                "mean_retrieve_ms": round(sum(times) / len(times), 1),
                "source_paper_first": sum(first),
                "ndcg@10_best_order": _mean(best),
                "per_query_ndcg@10": {q["id"]: round(v, 4) for (_, q), v in zip(chosen, ndcg, strict=True)},
                "overrides": overrides,
                "settings": {k: v for k, v in config.model_dump(mode="json").items() if k in _FUSION_KEYS},
            }
            r = results[name]
            print(f"{name:>12}: nDCG@10 {r['ndcg@10']:.4f} (odd {r['ndcg@10_odd']}, even {r['ndcg@10_even']})  Recall@10 {r['recall@10']:.4f}  {r['mean_retrieve_ms']} ms", flush=True)
            if baseline:
                r["vs_baseline"] = paired(r["per_query_ndcg@10"], baseline)
                print(" " * 14 + "vs baseline: " + ", ".join(f"{h} {v['delta']:+.4f} ± {v['se']:.4f}" for h, v in r["vs_baseline"].items()), flush=True)
        chunk_count = index.count()
    return {
        "docs": len(docs),
        "chunks": chunk_count,
        "chunking": "lore" if chunked else "one chunk per abstract",
        "queries": len(chosen),
        "split": split,
        "embedder": embedder.name,
        "embed_s": round(embed_s, 1),
        "variants": results,
    }


_FUSION_KEYS = {
    "mode", "fusion", "rrf_k", "dense_weight", "lexical_weight", "candidates", "feedback_docs", "feedback_weight", "feedback_terms",
    "feedback_query_weight", "feedback_expansion", "feedback_per_doc", "scope_docs",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "lore-bench-cache"), help="where document vectors are cached")
    parser.add_argument("--variant", action="append", metavar='NAME=JSON', help='extra variant, e.g. convex={"fusion":"convex"}')
    parser.add_argument("--whole", action="store_true", help="one chunk per abstract instead of Lore's chunking")
    parser.add_argument("--queries", type=int, default=0, help="only the first N queries (reranker experiments are slow)")
    parser.add_argument("--split", choices=("all", "odd", "even"), default="all", help="only the queries at odd or even positions")
    parser.add_argument("--baseline", metavar="RESULTS.json:VARIANT", help="also report each variant's per-query difference from this earlier run's variant")
    parser.add_argument("--only", action="store_true", help="run only the --variant ones")
    args = parser.parse_args()
    variants = {} if args.only else dict(VARIANTS)
    for spec in args.variant or []:
        name, _, overrides = spec.partition("=")
        variants[name] = json.loads(overrides or "{}")
    baseline = None
    if args.baseline:
        path, _, variant = args.baseline.rpartition(":")
        try:
            baseline = json.loads(Path(path).read_text())["variants"][variant]["per_query_ndcg@10"]
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f"--baseline {args.baseline}: no per-query results there ({exc}); give a results file of this benchmark and one of its variants")
    write_results("cranfield", run(variants, Path(args.cache), chunked=not args.whole, limit=args.queries, split=args.split, baseline=baseline))


if __name__ == "__main__":
    main()
