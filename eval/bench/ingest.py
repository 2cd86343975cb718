"""Ingestion throughput on the 20 SEC 10-Q filings: Lore's first ingest and an unchanged
re-ingest against a naive llama-index pipeline (SimpleDirectoryReader + SentenceSplitter +
the same MiniLM embedder + Chroma). Each pipeline runs in its own process; peak RSS is the
sampled peak of that process tree (parent + parser workers).

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.ingest [--skip-naive] [--only-scans | --skip-scans]

Also OCR pages/s and LibreOffice files/s in one parser process (eval/bench/scans.py). Leaves the two stores under --work (default /tmp/lore-bench-sec10q) for eval.bench.sec10q_retrieval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from eval.bench.common import shared_data, write_results

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORK = Path("/tmp/lore-bench-sec10q")


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS of the process tree in MiB, stdout)."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {process.returncode}")
    return time.perf_counter() - start, round(peak, 1), out


def naive_pipeline(docs: Path, store_dir: Path) -> dict[str, Any]:
    """The llama-index defaults: pypdf per page, 1,024-token chunks, MiniLM, Chroma."""
    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from retrieval.models import packaged_embedder_path

    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(docs)).load_data()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    embed = HuggingFaceEmbedding(model_name=str(packaged_embedder_path()), device="cpu")
    client = chromadb.PersistentClient(path=str(store_dir))
    collection = client.get_or_create_collection("naive", embedding_function=None, metadata={"hnsw:space": "cosine"})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    VectorStoreIndex(nodes, storage_context=storage, embed_model=embed, show_progress=False)
    files = sorted({d.metadata.get("file_name") for d in documents})
    return {"seconds": time.perf_counter() - start, "files_ingested": len(files), "chunks": collection.count(), "pages": len(documents)}


def summarise(name: str, files: int, chunks: int, seconds: float, wall: float, rss: float, **extra: Any) -> dict[str, Any]:
    return {"pipeline": name, "files": files, "chunks": chunks, "seconds": round(seconds, 2), "wall_seconds": round(wall, 2),
            "files_per_s": round(files / seconds, 3), "chunks_per_s": round(chunks / seconds, 1), "peak_rss_mb": rss, **extra}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-scans", action="store_true", help="leave out OCR pages/s and LibreOffice files/s")
    parser.add_argument("--only-scans", action="store_true", help="only OCR pages/s and LibreOffice files/s (no 10-Q ingest)")
    parser.add_argument("--naive-child", nargs=2, metavar=("DOCS", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        print(json.dumps(naive_pipeline(Path(args.naive_child[0]), Path(args.naive_child[1]))))
        return
    if args.only_scans:
        from eval.bench.scans import libreoffice_bench, ocr_bench

        write_results("ingest", {"ocr": ocr_bench(), "libreoffice": libreoffice_bench()})
        return
    docs = args.docs or shared_data("sec10q", "docs")
    total_files = len(list(docs.glob("*.pdf")))
    home = args.work / "lore"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "LORE_HOME": str(home)}
    lore = [sys.executable, "-m", "app.cli", "ingest", str(docs), "--json"]

    wall, rss, out = run_measured(lore, env)
    first = json.loads(out.strip().splitlines()[-1])
    lore_first = summarise("lore_first", first["added"], first["chunks"], first["seconds"], wall, rss, failed=first["failed"])
    wall, rss, out = run_measured(lore, env)
    again = json.loads(out.strip().splitlines()[-1])
    lore_again = summarise("lore_unchanged", total_files, again["chunks"], again["seconds"], wall, rss, unchanged=again["unchanged"])
    results: dict[str, Any] = {"docs": str(docs), "files": total_files, "lore_first": lore_first, "lore_unchanged": lore_again,
                               "unchanged_speedup": round(first["seconds"] / max(again["seconds"], 1e-6), 1),
                               "unchanged_speedup_wall": round(lore_first["wall_seconds"] / lore_again["wall_seconds"], 1)}  # fmt: skip
    if not args.skip_naive:
        store = args.work / "naive"
        shutil.rmtree(store, ignore_errors=True)
        wall, rss, out = run_measured([sys.executable, "-m", "eval.bench.ingest", "--naive-child", str(docs), str(store)], dict(os.environ))
        naive = json.loads(out.strip().splitlines()[-1])
        # files/s over the files given to it (the ones pypdf loses still cost it time)
        results["naive"] = summarise("naive_llama_index", total_files, naive["chunks"], naive["seconds"], wall, rss,
                                     files_ingested=naive["files_ingested"], pages=naive["pages"])  # fmt: skip
        results["first_ingest_speedup_vs_naive"] = round(lore_first["files_per_s"] / results["naive"]["files_per_s"], 2)
        results["first_ingest_speedup_vs_naive_wall"] = round(results["naive"]["wall_seconds"] / lore_first["wall_seconds"], 2)
    if not args.skip_scans:
        from eval.bench.scans import libreoffice_bench, ocr_bench

        results["ocr"] = ocr_bench()
        results["libreoffice"] = libreoffice_bench()
    write_results("ingest", results)


if __name__ == "__main__":
    main()
