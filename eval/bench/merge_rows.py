"""A full answers run with some of its questions asked again: the rows of the later runs replace the
full run's rows of the same question, and the table is computed over the result.

For a change whose code path only some questions take (its gate: an answer type, a word of the
question, named documents), asking just those again gives the figures a full run would give, at a
fraction of the time: every other question takes the same path as in the full run, and decoding is
deterministic on one machine. The output names which rows came from which run and lists the
questions whose verdict moved.

    python -m eval.bench.merge_rows BASE.rows.jsonl AGAIN.rows.jsonl [AGAIN2.rows.jsonl …] --label NAME
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from eval.bench.answers import markdown, read_jsonl, tables
from eval.bench.common import write_results


def merge(base: Path, again: list[Path]) -> tuple[list[dict[str, Any]], dict[str, str], list[dict[str, Any]]]:
    """(merged rows, {question id: the run its row came from}, the questions whose verdict moved)."""
    rows = {row["id"]: row for row in read_jsonl(base)}
    first = dict(rows)
    source: dict[str, str] = {}
    for path in again:
        for row in read_jsonl(path):
            if row["id"] in rows:  # a question the full run did not ask stays out
                rows[row["id"]] = row
                source[row["id"]] = path.name
    moved = [{"id": qid, "correct": [first[qid].get("correct"), rows[qid].get("correct")],
              "refused": [first[qid]["refused"], rows[qid]["refused"]]}
             for qid in source if (first[qid].get("correct"), first[qid]["refused"]) != (rows[qid].get("correct"), rows[qid]["refused"])]
    return list(rows.values()), source, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="the full run's rows (eval/bench/results/answers-*.rows.jsonl)")
    parser.add_argument("again", type=Path, nargs="+", help="rows of the questions asked again, later files winning")
    parser.add_argument("--label", default="merged", help="a name for the result")
    args = parser.parse_args()
    rows, source, moved = merge(args.base, args.again)
    summary = tables(rows)
    write_results("answers", {"label": args.label, "merged": {"base_rows": args.base.name, "asked_again": source}, "moved": moved,
                              "summary": summary})
    print(markdown(summary, args.label))


if __name__ == "__main__":
    main()
