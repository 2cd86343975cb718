"""Load test of the HTTP API on loopback: N concurrent clients for T seconds (or until a maximum
number of requests), each sending chat completions (or searches) back to back.

By default it builds everything itself: a temporary LORE_HOME, the sample corpus ingested with the
real embedder into embedded Chroma, an API key, and `lore serve` as a subprocess with the chosen
generator (`fake`: deterministic, measures the service and retrieval; `llama_cpp`: the real local
model). It stops by itself: no new request after --duration, and every request has a timeout.

    python -m eval.bench.load --generator fake --clients 32 --duration 60
    python -m eval.bench.load --generator llama_cpp --clients 4 --duration 60 --request-timeout 300
    python -m eval.bench.load --url http://127.0.0.1:8080 --key KEY      # an already running server

Prints one JSON document and writes eval/bench/results/load-*.json: throughput, latency
percentiles, errors by kind, server-side stage times from /metrics and the server's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.common import SHARED_DATA, percentile, write_results

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def questions() -> list[str]:
    golden = REPO / "data" / "golden.jsonl"
    if golden.exists():
        return [json.loads(line)["question"] for line in golden.read_text(encoding="utf-8").splitlines() if line.strip()]
    return ["How many days in advance must international travel be requested?", "What are the password requirements?"]


def default_corpus() -> Path:
    sample = REPO / "data" / "sample"
    return sample if sample.is_dir() else SHARED_DATA / "office" / "markdown"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lore(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([str(BIN / "lore"), *args, "--json"], env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"lore {' '.join(args)} failed: {done.stdout.strip()} {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.splitlines()[-1])


def start_server(args: argparse.Namespace, home: Path) -> tuple[subprocess.Popen, str, str, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_") or k == "LORE_MODELS__DIR"}
    env.update({"LORE_HOME": str(home), "LORE_MODELS__GENERATOR__KIND": args.generator,
                "LORE_API__MAX_CONCURRENCY": str(args.server_concurrency), "LORE_API__REQUEST_TIMEOUT_S": str(args.request_timeout)})
    if args.max_new_tokens:
        env["LORE_MODELS__GENERATOR__MAX_NEW_TOKENS"] = str(args.max_new_tokens)
    for item in args.set:  # e.g. api.batch_queries=false → LORE_API__BATCH_QUERIES=false
        name, _, value = item.partition("=")
        env["LORE_" + name.upper().replace(".", "__")] = value
    setup: dict = {}
    if not (home / "chroma").exists():
        started = time.perf_counter()
        acl = REPO / "data" / "acl.yaml"
        corpus = Path(args.corpus) if args.corpus else default_corpus()
        extra = ["--acl-map", str(acl)] if acl.exists() and corpus == REPO / "data" / "sample" else []
        report = lore(env, "ingest", str(corpus), *extra)
        setup = {"corpus": str(corpus), "files": report["files"], "chunks": report["total_chunks"], "failed": len(report["failed"]),
                 "ingest_s": round(time.perf_counter() - started, 1)}
    key = lore(env, "keys", "add", "loadtest", "--groups", args.groups)["key"]
    port = free_port()
    log = open(home / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([str(BIN / "lore"), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"lore serve exited: {(home / 'serve.log').read_text(errors='replace')[-1500:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url, key, setup
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    sys.exit("lore serve was not ready within 600 s")


async def run_load(url: str, key: str, args: argparse.Namespace) -> dict:
    # aiohttp rather than httpx: the load generator shares the machine with the server, and aiohttp
    # spends about half the CPU per request that httpx does, which is left to the server.
    import aiohttp

    texts = questions()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    refusals = 0
    sent = 0
    started = time.perf_counter()
    stop_at = started + args.duration
    headers = {"Authorization": f"Bearer {key}"}

    async def client(n: int, http: aiohttp.ClientSession) -> None:
        nonlocal sent, refusals
        while time.perf_counter() < stop_at and sent < args.max_requests:
            question = texts[(sent + n) % len(texts)]
            if args.unique:  # a token no document contains: every request is a new text, no cache applies
                question = f"{question} (q{getattr(args, 'phase', '')}{sent:06d})"
            sent += 1
            t0 = time.perf_counter()
            try:
                if args.route == "search":
                    path, body = "/v1/search", {"query": question}
                else:
                    path, body = "/v1/chat/completions", {"model": "lore", "messages": [{"role": "user", "content": question}], "stream": args.stream}
                async with http.post(url + path, json=body, headers=headers) as response:
                    data = await response.read()
                elapsed = time.perf_counter() - t0
                if response.status != 200:
                    errors[f"http {response.status}"] = errors.get(f"http {response.status}", 0) + 1
                    continue
                if args.route == "chat" and not args.stream and json.loads(data).get("refused"):
                    refusals += 1
                latencies.append(elapsed)
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    timeout = aiohttp.ClientTimeout(total=args.request_timeout + 10, connect=10)
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        await asyncio.gather(*(client(n, http) for n in range(args.clients)))
    elapsed = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "requests": sent,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "refusals": refusals,
        "elapsed_s": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "latency_ms": {k: (round(v, 1) if v is not None else None) for k, v in
                       {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
                        "max": max(ms) if ms else None, "mean": sum(ms) / len(ms) if ms else None}.items()},
    }


def server_stages(url: str) -> dict:
    """Mean retrieval / generation seconds per answer, from the server's own histograms."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    out = {}
    for name in ("lore_retrieval_seconds", "lore_generation_seconds", "lore_first_token_seconds"):
        total = re.search(rf"^{name}_sum (\S+)$", text, re.M)
        count = re.search(rf"^{name}_count (\S+)$", text, re.M)
        if total and count and float(count.group(1)):
            out[name.removeprefix("lore_").replace("_seconds", "_mean_ms")] = round(float(total.group(1)) / float(count.group(1)) * 1000, 1)
    lookups = {k: float(v) for k, v in re.findall(r'^lore_query_cache_lookups_total\{result="(\w+)"\} (\S+)$', text, re.M)}
    if lookups:
        total = lookups.get("hit", 0.0) + lookups.get("miss", 0.0)
        out["query_cache"] = {"hits": int(lookups.get("hit", 0)), "misses": int(lookups.get("miss", 0)),
                              "hit_rate": round(lookups.get("hit", 0.0) / total, 3) if total else None}
    return out


def processes(pid: int | None = None) -> list:
    """A process (default: this one, the load generator) and, for another one, its living children
    (the server's workers)."""
    import psutil

    proc = psutil.Process(pid)
    return [proc, *(proc.children(recursive=True) if pid is not None else [])]


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of `processes(pid)`."""
    import psutil

    total = 0.0
    for p in processes(pid):
        try:
            times = p.cpu_times()
        except psutil.Error:  # a worker that ended meanwhile
            continue
        total += times.user + times.system
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of the server: the process and its workers."""
    import psutil

    total = 0
    for p in processes(pid):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return round(total / 2**20, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (then --key is needed); default: start one")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--generator", default="fake", choices=["fake", "llama_cpp", "openai", "transformers"])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds during which new requests are sent")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before the measured run (not counted)")
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--route", default="chat", choices=["chat", "search"])
    parser.add_argument("--stream", action="store_true", help="streamed chat completions (latency = until [DONE])")
    parser.add_argument("--unique", action="store_true", help="make every question text unique (no query-embedding cache hit)")
    parser.add_argument("--corpus", help="folder to ingest (default: data/sample, else ../shared/data/office/markdown)")
    parser.add_argument("--groups", default="all-staff,hr,finance", help="groups of the load-test key")
    parser.add_argument("--server-concurrency", type=int, default=4, help="api.max_concurrency of the started server")
    parser.add_argument("--max-new-tokens", type=int, default=0, help="cap the answer length of the started server (0: its default)")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE", help="a setting of the started server (repeatable)")
    parser.add_argument("--home", help="LORE_HOME to use (kept); default: a temporary one")
    args = parser.parse_args()
    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    proc, setup = None, {}
    tmp = None
    try:
        if args.url:
            if not args.key:
                sys.exit("--url needs --key")
            url, key = args.url.rstrip("/"), args.key
        else:
            if args.home:
                home = Path(args.home)
            else:
                tmp = tempfile.TemporaryDirectory(prefix="lore-load-")
                home = Path(tmp.name)
            proc, url, key, setup = start_server(args, home)
        if args.warmup > 0:  # every server process warmed and its caches filled; not measured
            asyncio.run(run_load(url, key, argparse.Namespace(**{**vars(args), "duration": args.warmup, "phase": "w"})))
        server_cpu = cpu_seconds(proc.pid) if proc is not None else None
        client_cpu = cpu_seconds()
        result = asyncio.run(run_load(url, key, args))
        # CPU shares in cores (2.0 = both cores of a 2-core machine): who used the machine during the run.
        result["cpu"] = {"client_cores": round((cpu_seconds() - client_cpu) / result["elapsed_s"], 2)}
        if proc is not None:
            used = cpu_seconds(proc.pid) - server_cpu
            result["cpu"]["server_cores"] = round(used / result["elapsed_s"], 2)
            if result["ok"]:
                result["cpu"]["server_ms_per_request"] = round(used / result["ok"] * 1000, 1)
            result["server_rss_mb"] = rss_mb(proc.pid)
        result["server_stages"] = server_stages(url)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        if tmp is not None:
            tmp.cleanup()
    config = {k: getattr(args, k) for k in ("generator", "clients", "duration", "warmup", "max_requests", "route", "stream", "unique", "server_concurrency", "max_new_tokens", "request_timeout", "set")}
    write_results("load", {"config": config, "setup": setup, **result, "note": "loopback; other work may share the CPU"})
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
