"""The CI quality gate: a small golden eval over data/ with the real local model and judge.

It ingests a few files of data/sample, runs `lore eval` on the questions listed in
eval/thresholds.toml ([gate]) and fails when faithfulness, refusal accuracy or the judge NaN rate
breach the thresholds kept there. The report is left in the pytest temp dir for inspection.
"""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from app.cli import main
from eval.gate import THRESHOLDS_FILE
from retrieval.settings import DEFAULT_GENERATOR_FILE, load_settings
from tests.conftest import SAMPLE_DATA

pytestmark = [pytest.mark.eval, pytest.mark.slow]


def test_golden_gate(lore_home, tmp_path, capsys, monkeypatch):
    # CI budget (~6 min on 2 cores): 3 chunks per answer instead of 5 (shorter prompts to generate from
    # and to judge against) and no relevancy calls; faithfulness and refusal are what the gate checks.
    monkeypatch.setenv("LORE_RETRIEVAL__TOP_K", "3")
    monkeypatch.setenv("LORE_EVAL__RELEVANCY", "false")
    if not (load_settings().models.dir / DEFAULT_GENERATOR_FILE).is_file():
        pytest.skip("the default generator is not installed: run `lore models install`")
    gate = tomllib.loads(THRESHOLDS_FILE.read_text())["gate"]
    corpus = tmp_path / "corpus"
    for name in gate["files"]:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DATA / "sample" / name, corpus / name)
    wanted = set(gate["questions"])
    golden = tmp_path / "golden.jsonl"
    lines = [line for line in (SAMPLE_DATA / "golden.jsonl").read_text().splitlines() if line.strip() and json.loads(line)["id"] in wanted]
    assert len(lines) == len(wanted), "a gate question is missing from data/golden.jsonl"
    golden.write_text("\n".join(lines) + "\n")
    report = tmp_path / "report"
    code = main([
        "eval", str(golden), "--report", str(report), "--thresholds", str(THRESHOLDS_FILE), "--json",
        "--ingest", str(corpus), "--acl-map", str(SAMPLE_DATA / "acl.yaml"), "--profile", "local",
    ])
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((report / "summary.json").read_text())
    print(json.dumps({k: doc[k] for k in ("faithfulness", "refusal_accuracy", "judge_nan_rate")}), summary["seconds"])
    assert code == 0, f"quality gate failed: {doc['failures']} (report: {report / 'report.html'})"
    assert summary["items"] == len(wanted) and (report / "report.html").stat().st_size > 10_000
