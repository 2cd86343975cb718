"""The answer-style development set: (question, passages, answer) triples shaped like Lore's answers over
the 10-Q filings, faithful and unfaithful, with the labelling rule below. Shipped as
`eval/bench/data/answer_style.jsonl`; rebuilt (deterministically) with

    .venv/bin/python -m eval.bench.answer_style --build

Only NVIDIA's four filings are used (public SEC filings, MIT-licensed copy in ../shared/data/sec10q), and
the checker never trains on them (eval/train_checker.py HELD_OUT_FILINGS). `dev`: the 2022 Q3 and 2023 Q1
filings (the calibration stack may be fitted on it); `test`: 2023 Q2 and Q3 (only measured).

**Labelling rule.** Each item has three passages of one filing: the passage the answer is drawn from and
the two passages of that filing sharing most words with it (what retrieval would bring). The answer is one
or two sentences of the first passage, each ending with its marker `[1]`, possibly reworded by a rule that
keeps the meaning (leading clause or parenthesis dropped, a synonym). Label 1 (faithful): nothing else
was changed. Label 0 (unfaithful): exactly one sentence carries one error made by a rule that imitates
real ones — a changed figure or date, another name, a negation added or removed, an antonym, two names or
figures swapped, the nearest sentence of the same section in another NVIDIA filing (absent from the three
passages), or a fact from another filing merged into the sentence. The error rules are those of
eval/checker_data.py; an item whose rule could not apply is not kept.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.checker_data import Passage, entity_pool, negative_pair, overlap, reword, sec10q_passages, sentences

SET = Path(__file__).resolve().parent / "data" / "answer_style.jsonl"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DEV_FILINGS = ("2022 Q3 NVDA.pdf", "2023 Q1 NVDA.pdf")
TEST_FILINGS = ("2023 Q2 NVDA.pdf", "2023 Q3 NVDA.pdf")


def load_answer_set(path: Path = SET) -> list[dict[str, Any]]:
    if not path.is_file():
        raise OSError(f"{path} is absent: run `python -m eval.bench.answer_style --build`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build(store: Path | None, per_filing: int = 40, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    nvda = [p for p in sec10q_passages(store, SHARED / "sec10q" / "docs") if p.doc.endswith("NVDA.pdf")]
    by_doc: dict[str, list[Passage]] = defaultdict(list)
    families: dict[str, list[Passage]] = defaultdict(list)
    for p in nvda:
        by_doc[p.doc].append(p)
        families[p.key].append(p)
    pools = entity_pool(nvda)
    items: list[dict[str, Any]] = []
    for doc in (*DEV_FILINGS, *TEST_FILINGS):
        candidates = [p for p in by_doc.get(doc, []) if 40 <= len(p.text.split()) <= 260 and len(sentences(p.text, 8)) >= 2]
        rng.shuffle(candidates)
        kept = 0
        for passage in candidates:
            if kept >= per_filing:
                break
            text = " ".join(passage.text.split()[:160])
            claims = sentences(text, 8)[:6]
            others = sorted((p for p in by_doc[doc] if p.text != passage.text), key=lambda p: -overlap(claims[0], p.text))[:2]
            contexts = [text] + [" ".join(p.text.split()[:160]) for p in others]
            chosen = rng.sample(claims, 2 if len(claims) > 2 and rng.random() < 0.4 else 1)
            label = int(rng.random() < 0.5)
            rule = "faithful"
            answer_sentences = [reword(c, rng)[1] for c in chosen]
            if not label:
                wrong = rng.randrange(len(chosen))
                pair = negative_pair(chosen[wrong], "\n".join(contexts), passage, families, pools, [p for p in nvda if p.doc != doc], rng)
                if pair.rule == "other_passage" or pair.claim in " ".join(contexts):
                    continue  # an unrelated sentence is too easy a case; a copy is no error
                answer_sentences[wrong], rule = pair.claim, pair.rule
            answer = " ".join(s.rstrip() + (" [1]" if s.rstrip().endswith(".") else ". [1]") for s in answer_sentences)
            section = passage.key.split(":", 1)[1] or "its results"
            items.append({
                "id": f"as-{len(items) + 1:03d}",
                "split": "dev" if doc in DEV_FILINGS else "test",
                "question": f"What does NVIDIA's {doc.removesuffix(' NVDA.pdf')} 10-Q say about {section}?",
                "contexts": contexts,
                "answer": answer,
                "label": label,
                "rule": rule,
                "source": doc,
            })
            kept += 1
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="rebuild the set from the 10-Q filings")
    parser.add_argument("--store", type=Path, default=Path("/tmp/lore-sec10q"), help="an ingested 10-Q store (read-only); else the PDFs")
    parser.add_argument("--out", type=Path, default=SET)
    args = parser.parse_args(argv)
    if not args.build:
        items = load_answer_set(args.out)
        print(json.dumps({"items": len(items), "faithful": sum(i["label"] for i in items)}))
        return 0
    items = build(args.store if args.store.exists() else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(json.dumps({"items": len(items), "faithful": sum(i["label"] for i in items), "path": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
