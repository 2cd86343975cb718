"""The README's main job, end to end, as a user runs it: the real `lore` command, the real
embedder and generator, embedded Chroma, the shipped sample corpus."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.models import DEFAULT_GENERATOR_FILE
from retrieval.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LORE = [sys.executable, "-m", "app.cli"]
QUESTION = "How many days in advance must international travel be requested?"


def lore(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*LORE, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    models_dir = load_settings().models.dir
    if not (models_dir / DEFAULT_GENERATOR_FILE).exists():
        pytest.skip(f"the default generator is not installed in {models_dir}: run `lore models install`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    env["LORE_HOME"] = str(tmp_path_factory.mktemp("home"))
    env["LORE_MODELS__DIR"] = str(models_dir)
    done = lore("ingest", "data/sample", "--acl-map", "data/acl.yaml", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return env, json.loads(done.stdout)


def test_ingest_report_follows_the_contract(ingested):
    _, report = ingested
    assert set(report) == {"added", "updated", "unchanged", "deleted", "failed", "files", "chunks", "total_chunks", "seconds"}
    files = [p for p in (REPO / "data" / "sample").rglob("*") if p.is_file()]
    assert report["added"] == report["files"] == len(files)
    assert report["failed"] == []
    assert report["chunks"] == report["total_chunks"] > 0


def test_ask_gives_a_cited_answer(ingested):
    env, _ = ingested
    done = lore("ask", QUESTION, "--json", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON document on stdout"
    answer = json.loads(lines[0])
    assert set(answer) == {"answer", "refused", "citations", "timings", "model", "usage"}
    assert answer["refused"] is False
    assert "21" in answer["answer"]
    assert answer["citations"], "a factual answer must carry citations"
    assert all(set(c) == {"source", "page", "section", "text", "score"} for c in answer["citations"])
    assert any("travel" in c["source"] for c in answer["citations"])
    assert "[1]" in answer["answer"]
    assert set(answer["timings"]) == {"retrieve_ms", "first_token_ms", "total_ms"}
    assert answer["usage"]["prompt_tokens"] > 0 and answer["usage"]["completion_tokens"] > 0


def test_restricted_document_is_refused_to_all_staff(ingested):
    env, _ = ingested
    done = lore("ask", "What is the maximum of the L3 Senior Analyst salary band?", "--groups", "all-staff", "--json", env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["refused"] is True
    assert answer["citations"] == []
    assert not any("salary" in c["source"] for c in answer["citations"])


def test_status_counts_what_was_ingested(ingested):
    env, report = ingested
    status = json.loads(lore("status", "--json", env=env).stdout)
    assert status["chunks"] == report["total_chunks"]
    assert status["documents"] == report["files"]
    assert status["last_ingest"]


def test_user_error_is_one_line_naming_the_fix(ingested):
    env, _ = ingested
    done = lore("ingest", "no/such/folder", "--acl-map", "missing-acl.yaml", "--json", env=env)
    assert done.returncode != 0
    error_lines = [line for line in done.stderr.strip().splitlines() if line.startswith("lore: error:")]
    assert len(error_lines) == 1
    assert json.loads(done.stdout)["error"]
