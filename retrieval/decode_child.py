"""The child of the test decode (retrieval/decode_check.py): `python -m retrieval.decode_child` with
the generator settings as JSON on stdin loads the generator, decodes a few tokens and prints one
JSON line with what it decoded and how fast. A crash of the native library ends only this process."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retrieval.decode_check import CHECK_PROMPT, CHECK_TOKENS
from retrieval.errors import LoreError
from retrieval.offline import apply_privacy_defaults
from retrieval.settings import GeneratorSettings


def _child() -> int:
    apply_privacy_defaults()  # before the generator's libraries load
    from retrieval.generators import make_generator
    from retrieval.schema import ChatMessage

    request = json.loads(sys.stdin.read())
    config = GeneratorSettings(**request["generator"])
    model = make_generator(config, Path(request["models_dir"]))
    started = time.perf_counter()
    model.warm_up()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    stream = model.stream([ChatMessage("user", CHECK_PROMPT)], max_tokens=CHECK_TOKENS, temperature=0.0)
    first = None
    for _ in stream:
        first = first if first is not None else time.perf_counter()
    end = time.perf_counter()
    tokens = stream.usage.completion_tokens
    rate = (tokens - 1) / (end - first) if first is not None and tokens > 1 and end > first else None
    detail = f"decoded {tokens} tokens ({stream.text.strip()[:40]!r}) after a {load_s:.1f} s load"
    print(json.dumps({"ok": True, "detail": detail, "load_s": round(load_s, 2),
                      "decode_tokens_per_s": round(rate, 1) if rate else None, "seconds": round(end - started, 2)}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_child())
    except LoreError as exc:
        print(f"lore: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(1)
