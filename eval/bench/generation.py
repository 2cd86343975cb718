"""Generation speed of each local backend on this machine: load time, prefill and decode tokens/s,
time to first token. Each backend runs in its own process so memory figures don't mix.

    python -m eval.bench.generation [--backends llama_cpp,transformers] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from eval.bench.common import peak_rss_mb, write_results

PASSAGE = (
    "Northwind Analytics reimburses economy-class airfare for trips shorter than six hours. "
    "International travel must be requested at least 21 days in advance through the travel portal. "
    "Hotel costs are capped by city tier; meals follow the published per-diem table. "
)


def measure(backend: str, max_tokens: int, prompt_words: int) -> dict:
    from retrieval.generators import make_chat_model
    from retrieval.offline import apply_privacy_defaults
    from retrieval.schema import ChatMessage
    from retrieval.settings import load_settings

    apply_privacy_defaults()
    settings = load_settings(overrides={"models": {"generator": {"kind": backend, "max_new_tokens": max_tokens}}})
    model = make_chat_model(settings)
    started = time.perf_counter()
    model.warm_up()
    load_s = time.perf_counter() - started
    context = " ".join([PASSAGE] * max(1, prompt_words // len(PASSAGE.split())))
    runs = []
    # Run 0 warms the page cache; runs 1-2 start with different text, so no KV-cache prefix is reused
    # (true prefill speed); run 3 repeats run 2's prompt with another question at the end, which is
    # what a fixed system prompt and context order buy with llama.cpp's prefix cache.
    prompts = [
        ("warm-up", f"Run 0. Context:\n{context}\n\nSummarise the travel rules."),
        ("cold", f"Run 1. Context:\n{context}\n\nSummarise the travel rules in detail."),
        ("cold", f"Run 2. Context:\n{context}\n\nList every rule about hotels and meals."),
        ("cached-prefix", f"Run 2. Context:\n{context}\n\nList every rule about airfare."),
    ]
    for label, prompt in prompts:
        messages = [ChatMessage("system", "Answer from the context. Be brief."), ChatMessage("user", prompt)]
        started = time.perf_counter()
        stream = model.stream(messages, max_tokens=max_tokens, temperature=0.0)
        first = None
        for _ in stream:
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        usage = stream.usage
        decode_s = max(total - (first or total), 1e-9)
        runs.append(
            {
                "run": label,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "first_token_s": round(first or total, 3),
                "total_s": round(total, 3),
                "prefill_tokens_per_s": round(usage.prompt_tokens / (first or total), 1),
                "decode_tokens_per_s": round(max(usage.completion_tokens - 1, 0) / decode_s, 1),
            }
        )
    cold = [r for r in runs if r["run"] == "cold"]
    summary = {
        key: round(sum(r[key] for r in cold) / len(cold), 2)
        for key in ("first_token_s", "prefill_tokens_per_s", "decode_tokens_per_s")
    }
    return {"backend": backend, "model": model.name, "load_s": round(load_s, 2), "cold_mean": summary, "runs": runs, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="llama_cpp,transformers")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt-words", type=int, default=400)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one backend in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.max_tokens, args.prompt_words)))
        return
    results = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, "-m", "eval.bench.generation", "--one", backend, "--max-tokens", str(args.max_tokens), "--prompt-words", str(args.prompt_words)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            results.append({"backend": backend, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    write_results("generation", {"max_tokens": args.max_tokens, "prompt_words": args.prompt_words, "results": results})


if __name__ == "__main__":
    main()
