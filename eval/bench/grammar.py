"""Decode speed of a typed answer's form: without a grammar, with Lore's grammar filter (the best
candidates checked first, retrieval/grammar.py) and with llama.cpp's own grammar sampler (every
vocabulary entry checked each step), on the same prompt, model and machine.

    python -m eval.bench.grammar [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

from eval.bench.common import write_results

DOCUMENTS = (
    '<document id="1" source="results.pdf" section="Income statement">\n'
    "| (In millions) | 3M to Jul 2023 | 3M to Jun 2022 |\n| Total net sales | 81,797 | 82,959 |\n| Gross margin | 36,413 | 35,885 |\n"
    "</document>\n"
    '<document id="2" source="results.pdf" section="Share repurchases">\n'
    "During the three months ended July 1, 2023, the Company repurchased 102.7 million shares of its common stock for $18.0 billion.\n"
    "</document>"
)
QUESTION = "What were total net sales and the gross margin for the three months ended July 1, 2023?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from retrieval.answering import Prompts
    from retrieval.generators import make_chat_model
    from retrieval.offline import apply_privacy_defaults
    from retrieval.settings import load_settings
    from retrieval.structured import messages_for, schema_for

    apply_privacy_defaults()
    settings = load_settings()
    model = make_chat_model(settings)
    model.warm_up()
    schema = schema_for("number", 2)
    messages = messages_for("number", QUESTION, DOCUMENTS, Prompts.load().typed)
    rows = {}
    for label in ("no grammar", "lore grammar filter", "llama.cpp grammar sampler"):
        rates, texts = [], []
        for _ in range(args.rounds):
            if label == "llama.cpp grammar sampler":  # llama-cpp-python's response_format path (slow: one round)
                if texts:
                    break
                kwargs = {"messages": [{"role": m.role, "content": m.content} for m in messages], "max_tokens": 120, "temperature": 0.0,
                          "stream": True, "response_format": {"type": "json_object", "schema": schema}}
                times, text = [], ""
                for event in model._llm.create_chat_completion(**kwargs):
                    delta = event["choices"][0]["delta"].get("content")
                    if delta:
                        times.append(time.perf_counter())
                        text += delta
            else:
                stream = model.stream(messages, max_tokens=120, temperature=0.0, json_schema=schema if label != "no grammar" else None)
                times, text = [], ""
                for delta in stream:
                    times.append(time.perf_counter())
                    text += delta
            rates.append((len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 else None)
            texts.append(text)
        rows[label] = {"decode_tokens_per_s": round(max(r for r in rates if r), 1), "rounds": [round(r, 1) for r in rates if r], "output": texts[-1][:300]}
        print(label, rows[label], flush=True)
    write_results("grammar", {"question": QUESTION, "results": rows})


if __name__ == "__main__":
    main()
