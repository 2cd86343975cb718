"""Decode speed where users meet it: raw llama-cpp-python, `lore ask` (the Assistant in one process
with the embedder loaded and used) and `lore serve` (the HTTP API, streaming), on the same build,
model and machine, read from when the streamed text arrives. A piece of text may hold several
tokens (the answer holds back a citation marker or a number until it is complete), so the tokens
after the first piece are counted by their share of the characters: tokens x (characters after the
first piece / all characters) / (last arrival - first). Raw llama-cpp-python streams one token per
delta: (deltas - 1) / (last - first).

    python -m eval.bench.decode_paths [--tokens 128] [--omp-wait-policy passive]

Each path runs in its own process, one after the other, on the sample corpus in a temporary LORE_HOME.
Beside what the reader sees, `ask` and `serve` report the rate the Assistant measured from the
model's own stream (`model_rounds`; for `serve` read from the server's
`lore_decode_tokens_per_second` metric): on two cores the measuring client takes CPU time from
the model, which a user's browser on another machine does not.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.common import write_results

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Summarise every rule of the travel and expense policy, one rule per line."
ROUNDS = 3


def _rate(times: list[float]) -> float | None:
    return round((len(times) - 1) / (times[-1] - times[0]), 1) if len(times) > 2 and times[-1] > times[0] else None


def _streamed_rate(pieces: list[tuple[float, int]], tokens: int) -> float | None:
    """Tokens per second from pieces of text that may hold several tokens each: the tokens after the
    first piece, counted by their share of the characters, over the time from the first piece to the last."""
    chars = sum(n for _, n in pieces)
    if len(pieces) < 3 or not chars or not tokens or pieces[-1][0] <= pieces[0][0]:
        return None
    return round(tokens * (chars - pieces[0][1]) / chars / (pieces[-1][0] - pieces[0][0]), 1)


def raw(tokens: int) -> dict:
    from llama_cpp import Llama

    from retrieval.generators import llama_model_params, repack_weights
    from retrieval.models import resolve_local
    from retrieval.native_build import active_lib_dir, prepare_runtime
    from retrieval.settings import load_settings

    prepare_runtime()
    settings = load_settings()
    path = resolve_local(settings.models.generator.model, settings.models.dir, "generator model")
    threads = os.cpu_count() or 1
    with llama_model_params(use_extra_bufts=repack_weights(settings.models.generator.repack_weights, active_lib_dir())):  # as the generator loads it
        llm = Llama(model_path=str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    passage = (REPO / "data" / "sample" / "it" / "helpdesk-faq.txt").read_text()[:1800]
    messages = [{"role": "system", "content": "Answer from the document."}, {"role": "user", "content": f"{passage}\n\n{QUESTION}"}]
    rates = []
    for _ in range(ROUNDS):
        times = []
        for event in llm.create_chat_completion(messages=messages, max_tokens=tokens, temperature=0.0, stream=True):
            if event["choices"][0]["delta"].get("content"):
                times.append(time.perf_counter())
        rates.append(_rate(times))
    return {"decode_tokens_per_s": max(r for r in rates if r), "rounds": rates}


def _home(base: Path) -> Path:
    home = base / "home"
    if not (home / "chroma").exists():
        subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(REPO / "data" / "sample"), "--acl-map",
                        str(REPO / "data" / "acl.yaml"), "--home", str(home), "--json"], check=True, capture_output=True)
    return home


def ask(tokens: int, home: str) -> dict:
    from retrieval.assistant import build_assistant
    from retrieval.offline import apply_privacy_defaults
    from retrieval.settings import load_settings

    apply_privacy_defaults()
    settings = load_settings(overrides={"home": home, "retrieval": {"answer_mode": "text", "answer_tokens": tokens}})
    assistant = build_assistant(settings)
    assistant.warm_up()
    rates, model = [], []
    for i in range(ROUNDS):
        assistant.embedder.embed_query(f"the embedder runs in this process too ({i})")
        pieces: list[tuple[float, int]] = []
        answer = assistant.ask(QUESTION, groups=["all-staff"], on_token=lambda t: pieces.append((time.perf_counter(), len(t))))
        rates.append(_streamed_rate(pieces, answer.usage.completion_tokens))
        model.append(answer.details.get("decode_tokens_per_s"))
    return {"decode_tokens_per_s": max(r for r in rates if r), "rounds": rates, "model_rounds": model}


def _decode_metric(base: str) -> tuple[float, float]:
    """(sum, count) of the server's `lore_decode_tokens_per_second` histogram: the model's writing speed
    measured inside the server, which the client reading the stream on the same cores does not slow."""
    import httpx

    found = dict.fromkeys(("sum", "count"), 0.0)
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        for part in found:
            if line.startswith(f"lore_decode_tokens_per_second_{part} "):
                found[part] = float(line.split()[1])
    return found["sum"], found["count"]


def serve(tokens: int, home: str) -> dict:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, LORE_HOME=home, LORE_RETRIEVAL__ANSWER_MODE="text", LORE_RETRIEVAL__ANSWER_TOKENS=str(tokens))
    key = json.loads(subprocess.run([sys.executable, "-m", "app.cli", "keys", "add", "bench", "--groups", "all-staff", "--json"],
                                    env=env, check=True, capture_output=True, text=True).stdout)["key"]
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        rates, model = [], []
        body = {"model": "lore", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
        for _ in range(ROUNDS):
            before = _decode_metric(base)
            pieces: list[tuple[float, int]] = []  # (arrival, characters) of each piece of text
            tokens = 0
            with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=600) as r:
                for line in r.iter_lines():
                    if not line.startswith("data: {"):
                        continue
                    event = json.loads(line[len("data: "):])
                    if content := event["choices"][0]["delta"].get("content"):
                        pieces.append((time.perf_counter(), len(content)))
                    tokens = (event.get("usage") or {}).get("completion_tokens", tokens)
            rates.append(_streamed_rate(pieces, tokens))
            after = _decode_metric(base)
            model.append(round(after[0] - before[0], 1) if after[1] == before[1] + 1 else None)
        return {"decode_tokens_per_s": max(r for r in rates if r), "rounds": rates, "model_rounds": model}
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--omp-wait-policy", choices=["unset", "passive", "active"], default="unset")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = {"raw": lambda: raw(args.tokens), "ask": lambda: ask(args.tokens, args.home), "serve": lambda: serve(args.tokens, args.home)}[args.one]()
        print(json.dumps(result))
        return
    env = dict(os.environ)
    if args.omp_wait_policy != "unset":
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    results = {}
    with tempfile.TemporaryDirectory(prefix="lore-decode-") as tmp:
        home = str(_home(Path(tmp)))
        for path in ("raw", "ask", "serve"):
            done = subprocess.run([sys.executable, "-m", "eval.bench.decode_paths", "--one", path, "--tokens", str(args.tokens), "--home", home],
                                  capture_output=True, text=True, env=env)
            results[path] = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"error": done.stderr.strip().splitlines()[-1:]}
            print(path, json.dumps(results[path]), file=sys.stderr, flush=True)
    base = results.get("raw", {}).get("decode_tokens_per_s")
    for path in ("ask", "serve"):
        rate = results.get(path, {}).get("decode_tokens_per_s")
        if base and rate:
            results[path]["vs_raw"] = round(rate / base, 3)
        model = max((r for r in results.get(path, {}).get("model_rounds", []) if r), default=None)
        if base and model:  # the same, read where the model writes, before the text reaches the reader
            results[path]["model_decode_tokens_per_s"] = model
            results[path]["model_vs_raw"] = round(model / base, 3)
    write_results("decode_paths", {"tokens": args.tokens, "omp_wait_policy": args.omp_wait_policy, "results": results})


if __name__ == "__main__":
    main()
