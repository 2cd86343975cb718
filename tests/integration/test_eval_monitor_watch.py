"""`lore monitor --watch` as a separate process while answers keep being logged: every interaction
gets scored exactly once, logging goes on meanwhile, SIGTERM stops the loop cleanly, and a
second monitor is refused while the first holds the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from retrieval.assistant import build_assistant
from retrieval.interactions import InteractionLog
from retrieval.testing import seed

pytestmark = pytest.mark.integration


def lore(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_watch_scores_while_the_assistant_keeps_logging(test_settings, lore_home):
    assistant = build_assistant(test_settings)
    seed(assistant)
    env = {**os.environ, "LORE_HOME": str(lore_home), "LORE_PROFILE": "test"}
    watcher = lore("monitor", "--watch", "--interval", "0.2", "--batch", "3", "--json", env=env)
    try:
        for i in range(12):  # the "app": keeps answering (and logging) while the monitor writes scores
            assistant.ask(f"How many days of paid vacation do employees receive? ({i})", groups=["all-staff"])
            time.sleep(0.1)
        second = lore("monitor", "--json", env=env)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 6 and "another `lore monitor` is running" in err
        log = InteractionLog(test_settings.interactions_db)
        deadline = time.time() + 60
        while log.unscored("faithfulness", 100) and time.time() < deadline:
            time.sleep(0.3)
        assert not log.unscored("faithfulness", 100)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    passes = [json.loads(line) for line in out.splitlines()]
    assert sum(p["scored"] for p in passes) == 12 and all(p["scored"] <= 3 for p in passes)
    scores = log.scores("faithfulness")
    assert len(scores) == 12 and len({s["interaction_id"] for s in scores}) == 12
