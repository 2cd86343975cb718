"""llama.cpp builds and options compared on this machine: raw llama-cpp-python prefill and decode
tokens/s of the default model, per build (a folder of llama.cpp libraries), with weight repacking on
or off, and per load option (flash attention, batch sizes, KV-cache type).

    python -m eval.bench.llama_builds --build installed= --build native=/tmp/llama-native [--no-repack native]
    python -m eval.bench.llama_builds --options   # the installed build under each option set
    python -m eval.bench.llama_builds --requantize q8_0=/tmp/q8_0.gguf   # the default model in another format
    python -m eval.bench.llama_builds --weights q4_k_m= --weights q8_0=/tmp/q8_0.gguf   # weight formats, repacked and not

Each build runs in its own process (LLAMA_CPP_LIB_PATH points llama-cpp-python at its libraries).
Prefill: a fresh context evaluates a 450-token prompt; decode: 64 greedy tokens after it; each the
best of three rounds (the other core may be busy with something else for a moment).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from eval.bench.common import write_results

PROMPT_TOKENS = 450
DECODE_TOKENS = 64
ROUNDS = 3


OPTIONS = {
    "default": {},
    "flash_attn": {"flash_attn": True},
    "n_batch=256": {"n_batch": 256, "n_ubatch": 256},
    "n_ubatch=128": {"n_batch": 512, "n_ubatch": 128},
    "flash_attn+q8_0 kv": {"flash_attn": True, "type_k": 8, "type_v": 8},
}


def _default_model():
    """The generator model file the settings name."""
    from retrieval.models import resolve_local
    from retrieval.settings import load_settings

    settings = load_settings()
    return resolve_local(settings.models.generator.model, settings.models.dir, "generator model")


def _measured(row: dict, *args: str, env: dict | None = None) -> dict:
    """`row` with what a child process measuring `--one …` reported (or its last error line), also
    printed as it comes."""
    done = subprocess.run([sys.executable, "-m", "eval.bench.llama_builds", "--one", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        row["error"] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    else:
        row.update(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def requantize(kind: str, out: str) -> dict:
    """The default model written in another llama.cpp weight format (`allow_requantize`: from its
    Q4_K_M weights, so the result can only lose precision, never gain it)."""
    import ctypes

    import llama_cpp

    source = _default_model()
    params = llama_cpp.llama_model_quantize_default_params()
    known = sorted(n.removeprefix("LLAMA_FTYPE_MOSTLY_").lower() for n in dir(llama_cpp) if n.startswith("LLAMA_FTYPE_MOSTLY_"))
    if kind.lower() not in known:
        raise SystemExit(f"no llama.cpp weight format {kind!r}: use one of {', '.join(known)}")
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    started = time.perf_counter()
    if llama_cpp.llama_model_quantize(str(source).encode(), out.encode(), ctypes.byref(params)) != 0:
        raise SystemExit(f"llama.cpp could not write {out} as {kind}: check the format name (q8_0, q4_0, …) and the free disk space")
    return {"from": str(source), "to": out, "format": kind, "seconds": round(time.perf_counter() - started, 1)}


def measure(repack: bool, options: dict | None = None, model: str = "") -> dict:
    from llama_cpp import Llama

    from retrieval.generators import llama_model_params
    from retrieval.native_build import active_lib_dir, compiled_features

    path = model or _default_model()
    threads = os.cpu_count() or 1
    started = time.perf_counter()
    with llama_model_params(use_extra_bufts=repack):  # False: no weight repacking (and no AMX buffers)
        llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False, **(options or {}))
    load_s = time.perf_counter() - started
    text = " ".join(["Staff may book economy flights for trips under six hours and must request international travel 21 days ahead."] * 40)
    tokens = llm.tokenize(text.encode())[:PROMPT_TOKENS]
    prefill, decode = [], []
    for _ in range(ROUNDS):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        prefill.append(len(tokens) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(DECODE_TOKENS):
            llm.eval([llm.sample(temp=0.0)])
        decode.append(DECODE_TOKENS / (time.perf_counter() - t0))
    features = compiled_features(active_lib_dir())
    return {
        "lib_dir": str(active_lib_dir()), "compiled": [o for o, on in features.items() if on], "repack": repack,
        "threads": threads, "load_s": round(load_s, 2),
        "prefill_tokens_per_s": round(max(prefill), 1), "decode_tokens_per_s": round(max(decode), 1),
        "rounds": {"prefill": [round(x, 1) for x in prefill], "decode": [round(x, 1) for x in decode]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="append", default=[], metavar="LABEL=DIR", help="a build's library folder (empty: the installed one)")
    parser.add_argument("--no-repack", action="append", default=[], metavar="LABEL", help="also measure this build with use_extra_bufts = False")
    parser.add_argument("--options", action="store_true", help="the installed build under each load option set instead")
    parser.add_argument("--weights", action="append", default=[], metavar="LABEL=GGUF",
                        help="the installed build with this weights file (empty: the default model), repacked and not")
    parser.add_argument("--requantize", metavar="FORMAT=GGUF", help="write the default model in this llama.cpp format (q8_0, q4_0, …) and stop")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure in this process ("repack" or "no-repack")
    parser.add_argument("--model", default="", help=argparse.SUPPRESS)
    parser.add_argument("--option-set", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requantize:
        kind, _, out = args.requantize.partition("=")
        print(json.dumps(requantize(kind, out)))
        return
    if args.one:
        print(json.dumps(measure(args.one == "repack", OPTIONS.get(args.option_set or "default"), args.model)))
        return
    runs = []
    if args.weights:
        for spec in args.weights:
            label, _, path = spec.partition("=")
            for repack in (False, True):
                row = {"weights": label, "file": path or "default", "repack": repack}
                runs.append(_measured(row, "repack" if repack else "no-repack", "--model", path))
        write_results("llama_weights", {"prompt_tokens": PROMPT_TOKENS, "decode_tokens": DECODE_TOKENS, "runs": runs})
        return
    if args.options:
        for name in OPTIONS:
            runs.append(_measured({"options": name}, "repack", "--option-set", name))
        write_results("llama_options", {"prompt_tokens": PROMPT_TOKENS, "decode_tokens": DECODE_TOKENS, "runs": runs})
        return
    for spec in args.build or ["installed="]:
        label, _, folder = spec.partition("=")
        for repack in ([True, False] if label in args.no_repack else [True]):
            env = dict(os.environ)
            env.pop("LLAMA_CPP_LIB_PATH", None)
            if folder:
                env["LLAMA_CPP_LIB_PATH"] = folder
            runs.append(_measured({"build": label, "repack": repack}, "repack" if repack else "no-repack", env=env))
    best = max((r["decode_tokens_per_s"] for r in runs if "decode_tokens_per_s" in r), default=None)
    for r in runs:
        if best and "decode_tokens_per_s" in r:
            r["decode_vs_fastest"] = round(r["decode_tokens_per_s"] / best, 3)
    write_results("llama_builds", {"prompt_tokens": PROMPT_TOKENS, "decode_tokens": DECODE_TOKENS, "runs": runs})


if __name__ == "__main__":
    main()
