"""`lore score`, `lore eval`, `lore monitor` end to end on the test profile (fake model, fake judge)."""

from __future__ import annotations

import base64
import json

import pytest

from app.cli import main
from retrieval.assistant import build_assistant
from retrieval.interactions import InteractionLog
from retrieval.testing import seed

pytestmark = pytest.mark.unit

GOLDEN = [
    {"id": "g1", "question": "How many days of paid vacation do employees receive?", "reference_answer": "Employees receive 25 days of paid vacation per year.",
     "reference_sources": ["hr/leave-policy.md"], "answerable": True, "groups": ["all-staff"]},
    {"id": "g2", "question": "When must international travel be requested?", "reference": "14 days in advance.",
     "reference_sources": ["policies/travel.pdf"], "answerable": True},
    {"id": "g3", "question": "What is the parental leave policy on Mars colonies?", "reference_answer": "", "reference_sources": [], "answerable": False},
]


@pytest.fixture
def seeded(test_settings):
    assistant = build_assistant(test_settings)
    seed(assistant)
    return assistant


def test_score_writes_one_line_per_input_with_scores(lore_home, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "question": "q", "contexts": ["Employees receive 25 days of paid vacation."], "answer": "Employees receive 25 days [1]."}) + "\n"
        + "oops\n"
        + json.dumps({"id": "c", "question": "q", "contexts": ["x"], "answer": "<judge-fails> Mars is red."}) + "\n"
    )
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--out", str(out), "--profile", "test"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "line-2", "c"]
    assert lines[0]["scores"]["faithfulness"] == 1.0 and lines[0]["question"] == "q"
    assert lines[1]["scores"]["faithfulness"] is None and lines[2]["scores"]["faithfulness"] is None
    err = capsys.readouterr().err
    assert "2 null" in err and "judge NaN rate" in err


def test_score_stdout_and_missing_file(lore_home, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "question": "q", "contexts": ["c d e"], "answer": "Mars is red."}) + "\n")
    assert main(["score", str(src), "--profile", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"]["faithfulness"] == 0.0
    assert main(["score", str(tmp_path / "missing.jsonl"), "--profile", "test"]) == 2
    assert "check the path" in capsys.readouterr().err


def test_eval_writes_parseable_reports_and_history(seeded, tmp_path, capsys):
    golden = tmp_path / "golden.jsonl"
    golden.write_text("\n".join(json.dumps(g) for g in GOLDEN) + "\n")
    report = tmp_path / "report"
    assert main(["eval", str(golden), "--report", str(report), "--profile", "test", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["items"] == 3 and doc["passed"] is True
    summary = json.loads((report / "summary.json").read_text())
    assert summary["refusal"]["answerable"] == 2 and summary["refusal"]["unanswerable"] == 1
    assert summary["metrics"]["faithfulness"]["n"] == 3 and summary["judge_nan_rate"] == 0.0
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["g1", "g2", "g3"]
    from eval.golden import headline
    from eval.registry import BY_NAME

    # every figure a run writes is declared once, in the registry (reports, gate and monitor read it)
    assert {name for r in rows for name in r["scores"]} | set(headline(summary)) <= set(BY_NAME)
    assert rows[0]["scores"]["context_recall_ids"] == 1.0 and "rouge_l" in rows[0]["scores"]
    assert "rouge_l" not in rows[2]["scores"]
    html = (report / "report.html").read_text()
    assert "<table class='sortable'>" in html and "g2" in html and "<script>" in html
    png = html.split("data:image/png;base64,", 1)[1].split("'", 1)[0]
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "| faithfulness |" in (report / "report.md").read_text()
    # a second run appends to the history and gates: a threshold above what was measured fails, naming the metric
    code = main(["eval", str(golden), "--report", str(report), "--profile", "test", "--fail-under", "token_f1=0.99"])
    assert code == 1
    assert "token_f1" in capsys.readouterr().err
    assert len((report / "history.jsonl").read_text().splitlines()) == 2
    assert json.loads((report / "summary.json").read_text())["gate"]["passed"] is False


def test_eval_rejects_a_broken_golden_file(lore_home, tmp_path, capsys):
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"id": "x"}\n')
    assert main(["eval", str(golden), "--report", str(tmp_path / "r"), "--profile", "test"]) == 2
    assert "line 1" in capsys.readouterr().err


def test_monitor_scores_each_interaction_once_and_flags_low_ones(seeded, test_settings, capsys, monkeypatch):
    monkeypatch.setenv("LORE_EVAL__MONITOR_NICE", "0")  # in-process: don't lower the test runner's priority
    seeded.ask("How many days of paid vacation do employees get?", groups=["all-staff"])
    seeded.ask("What was revenue in 2023?", groups=["all-staff"])
    log = InteractionLog(test_settings.interactions_db)
    # an invented answer logged by hand: the monitor must flag it
    bad = seeded.ask("How many days of paid vacation do employees get?", groups=["all-staff"])
    log._connect().execute("UPDATE interactions SET answer=? WHERE id=?", ("Employees get unlimited yachts in Monaco [1].", bad.interaction_id))
    assert main(["monitor", "--profile", "test", "--json", "--batch", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["scored"] == 2 and first["remaining"] == 1
    assert main(["monitor", "--profile", "test", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["scored"] == 1 and second["remaining"] == 0
    assert [f["id"] for f in second["flagged"]] == [bad.interaction_id]
    assert main(["monitor", "--profile", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scored"] == 0
    scores = {s["interaction_id"]: s["value"] for s in log.scores("faithfulness")}
    assert len(scores) == 3 and scores[bad.interaction_id] == 0.0
