"""`lore backup` while `lore serve` answers requests, then `lore restore` into a new LORE_HOME:
the same counts (chunks, documents, lexical rows, interactions, feedback, keys) and the same answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.integration.lore_server import REPO, VENV_BIN, lore_env, lore_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = [
    ("How many days in advance must international travel be requested?", ["all-staff"]),
    ("What are the password requirements?", ["all-staff"]),
    ("What is the midpoint of the L2 Analyst salary band?", ["all-staff", "hr"]),
]


def lore(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "lore"), *args, "--json"], env=lore_env(home), cwd=REPO, capture_output=True, text=True, timeout=300)


def answers(home: Path) -> list[dict]:
    from retrieval.assistant import build_assistant
    from retrieval.settings import load_settings

    assistant = build_assistant(load_settings(overrides={"profile": "test", "home": str(home)}))
    return [
        {k: v for k, v in assistant.ask(q, user="check", groups=g).to_json().items() if k in ("answer", "refused", "citations")}
        for q, g in QUESTIONS
    ]


def test_backup_while_serving_then_restore_into_a_new_home(tmp_path):
    home, restored, dest = tmp_path / "home", tmp_path / "restored", tmp_path / "backup"
    corpus = tmp_path / "corpus"
    for rel in ("policies/travel-and-expense-policy.docx", "it/password-requirements.md", "hr/salary-bands-2026.xlsx"):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "data" / "sample" / rel, corpus / rel)
    ingested = lore(home, "ingest", str(corpus), "--acl-map", str(REPO / "data" / "acl.yaml"))
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["failed"] == []
    key = json.loads(lore(home, "keys", "add", "alice", "--groups", "all-staff,hr").stdout)["key"]

    with lore_serve(home, tmp_path) as url:
        headers = {"Authorization": f"Bearer {key}"}
        first = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=30,
                           json={"messages": [{"role": "user", "content": QUESTIONS[0][0]}]}).json()
        from retrieval.interactions import InteractionLog

        InteractionLog(home / "interactions.sqlite").save_feedback(first["lore"]["interaction_id"], "alice", 1, "useful")
        stop, statuses = threading.Event(), []

        def traffic():  # answers keep being logged while the backup runs
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    r = client.post(f"{url}/v1/chat/completions", headers=headers, json={"messages": [{"role": "user", "content": QUESTIONS[1][0]}]})
                    statuses.append(r.status_code)

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            backup = lore(home, "backup", str(dest))
        finally:
            stop.set()
            worker.join()
    assert backup.returncode == 0, backup.stderr
    assert statuses and set(statuses) == {200}
    written = json.loads(backup.stdout)
    assert written["chunks"] > 0 and written["counts"]["documents"] == 3 and written["counts"]["feedback"] == 1
    assert written["counts"]["interactions"] >= 1 and written["counts"]["api_keys"] == 1

    done = lore(restored, "restore", str(dest))
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)["counts"]
    assert counts == {**written["counts"], "chunks": written["chunks"]}
    expected = answers(home)
    assert sum(not a["refused"] for a in expected) >= 2  # real answers with citations, not only refusals
    assert answers(restored) == expected

    again = lore(restored, "restore", str(dest))
    assert again.returncode != 0 and "--force" in json.loads(again.stdout)["error"]
    forced = lore(restored, "restore", str(dest), "--force")
    assert forced.returncode == 0 and json.loads(forced.stdout)["counts"] == counts

    damaged = dest / "state-lore.sqlite"
    os.chmod(damaged, 0o644)
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"x" * 10)
    broken = lore(tmp_path / "other", "restore", str(dest))
    assert broken.returncode != 0 and "checksum" in json.loads(broken.stdout)["error"]
