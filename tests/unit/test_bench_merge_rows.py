"""Merging a full answers run with the rows of the questions asked again (eval/bench/merge_rows.py)."""

from __future__ import annotations

import json

import pytest

from eval.bench.merge_rows import merge

pytestmark = pytest.mark.unit


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rows_asked_again_replace_the_full_runs_and_the_moves_are_listed(tmp_path):
    base = _write(tmp_path / "base.rows.jsonl", [{"id": "a", "correct": False, "refused": True}, {"id": "b", "correct": True, "refused": False}])
    again = _write(tmp_path / "again.rows.jsonl", [{"id": "a", "correct": True, "refused": False}, {"id": "z", "correct": True, "refused": False}])
    rows, source, moved = merge(base, [again])
    assert [r["id"] for r in rows] == ["a", "b"]  # "z" was not in the full run
    assert rows[0]["correct"] is True and rows[1]["correct"] is True
    assert source == {"a": "again.rows.jsonl"}
    assert moved == [{"id": "a", "correct": [False, True], "refused": [True, False]}]
