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


def test_two_results_written_in_one_second_are_both_kept(tmp_path, monkeypatch):
    import eval.bench.common as common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common.time, "strftime", lambda fmt, *a: "20261205-202635" if "%H" in fmt and "-" in fmt else "2026-12-05T20:26:35")
    first = common.write_results("answers", {"label": "report"})
    second = common.write_results("answers", {"label": "dev"})
    assert first != second and {p.name for p in tmp_path.iterdir()} == {"answers-20261205-202635.json", "answers-20261205-202635-2.json"}
