"""Where the answers' facts are lost: for each sec10q question, the share of its reference's key
facts (amounts, dates, names; eval/keyfacts.py) that its filings hold at all, that the ranked
passages of each filing hold within the first k, and that the prompt the model reads holds (the
excerpts the composer gathers). No answer is generated: this measures what the model could have
answered from, question by question, in a minute or two.

    flock /tmp/lore-bench.lock .venv/bin/python -m eval.bench.context_recall --split dev

An amount is matched by its digits as the filing writes them ("$36,413 million" is found in a table
cell "36,413" under "(In millions)"); amounts of fewer than three digits and dates and names are
matched as eval/keyfacts.py matches them in answers. The figures are therefore upper bounds for
amounts that recur in a filing with another meaning.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.bench.answers import DEFAULT_HOME, assistant_for, load_questions
from eval.bench.common import shared_data, write_results
from retrieval.offline import apply_privacy_defaults
from retrieval.settings import overrides_from

DEPTHS = (1, 3, 5, 8, 15, 30, 60)
GROUPS = ["all-staff"]
FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def held(fact, text: str) -> bool:
    """Does `text` hold the key fact (an amount by its digits, scale-free)?"""
    from eval.keyfacts import fact_found

    if fact.kind == "amount" and (m := FIGURE.search(fact.text)):
        digits = m.group(0).rstrip(".,")
        if len(re.sub(r"\D", "", digits)) >= 3:
            return re.search(r"(?<![\d,.])" + re.escape(digits) + r"(?!\d|,\d)", text) is not None
    return fact_found(fact, text)


def measure(assistant, question: dict[str, Any], filing_text: dict[str, str]) -> dict[str, Any] | None:
    from eval.keyfacts import key_facts
    from retrieval.focus import term_weights

    facts = [f for f in key_facts(question["question"], question["reference"]) if f.kind in ("amount", "date", "name")]
    if not facts:
        return None
    composer, lexical = assistant.composer, assistant.lexical
    the_plan = composer.plan(question["question"], GROUPS)
    ranked = [assistant.retriever.retrieve(the_plan.topic, GROUPS, max(DEPTHS), docs=part.docs).chunks for part in the_plan.parts]
    first = []  # per fact: the best rank of a passage holding it, over the parts' rankings
    for fact in facts:
        ranks = [next((i for i, s in enumerate(chunks, start=1) if held(fact, s.chunk.text)), None) for chunks in ranked]
        first.append(min((r for r in ranks if r is not None), default=None))
    weights = term_weights(the_plan.topic, lexical.document_frequencies, lexical.count_cached())
    kind = the_plan.kind
    gathered, _, _, _ = composer.gather(the_plan, kind, question["question"], GROUPS, None, lambda _text: None, weights)
    shown = "\n".join(text for _, text in gathered)
    filings = "\n".join(filing_text.get(Path(s).name, "") for s in question["sources"])
    return {
        "id": question["id"], "type": question["type"], "chunk_type": question["chunk_type"], "facts": len(facts),
        "in_filings": sum(held(f, filings) for f in facts) / len(facts),
        "in_prompt": sum(held(f, shown) for f in facts) / len(facts),
        "ranked": {k: sum(1 for r in first if r is not None and r <= k) / len(facts) for k in DEPTHS},
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 3) if values else None

    def half(values):  # questions with at least half their key facts there (what `correct` needs)
        values = list(values)
        return round(sum(v >= 0.5 for v in values) / len(values), 3) if values else None

    return {
        "questions": len(rows),
        "fact_recall": {"in_filings": mean(r["in_filings"] for r in rows), "in_prompt": mean(r["in_prompt"] for r in rows),
                        **{f"top_{k}": mean(r["ranked"][k] for r in rows) for k in DEPTHS}},
        "questions_with_half_the_facts": {"in_filings": half(r["in_filings"] for r in rows),
                                          "in_prompt": half(r["in_prompt"] for r in rows),
                                          **{f"top_{k}": half(r["ranked"][k] for r in rows) for k in DEPTHS}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "report", "all"], default="dev")
    parser.add_argument("--home", default=DEFAULT_HOME, help="LORE_HOME holding (or to receive) the 20 filings")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="setting override, e.g. retrieval.context_tokens=600")
    args = parser.parse_args()
    apply_privacy_defaults()
    overrides = overrides_from(args.set)
    corpus = shared_data("sec10q", "docs")
    assistant = assistant_for(Path(args.home), overrides, corpus)
    filing_text: dict[str, list[str]] = defaultdict(list)
    for chunk in assistant.store.iter_chunks():
        filing_text[Path(chunk.source).name].append(chunk.text)
    joined = {name: "\n".join(texts) for name, texts in filing_text.items()}
    rows = [row for q in load_questions(["sec10q"], args.split) if (row := measure(assistant, q, joined))]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["type"]].append(row)
        groups[row["chunk_type"]].append(row)
    write_results("context_recall", {
        "split": args.split, "overrides": overrides, "context_tokens": assistant.config.context_tokens, "depths": list(DEPTHS),
        "all": summarise(rows), "by_type": {name: summarise(part) for name, part in sorted(groups.items())},
    })


if __name__ == "__main__":
    main()
