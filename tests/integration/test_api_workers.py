"""`lore serve` with two server processes (api.workers = 2): both answer on one port, /metrics adds
up the requests of both, and stopping the server stops every worker."""

from __future__ import annotations

import re

import httpx
import psutil
import pytest

from tests.integration.lore_server import VENV_BIN, free_port, lore_env, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRAVEL = "How many days in advance must international travel be requested?"


def test_two_workers_share_the_port_and_the_metrics(tmp_path):
    from app.keys import KeyStore
    from retrieval.assistant import build_assistant
    from retrieval.settings import load_settings
    from retrieval.testing import seed

    home = tmp_path / "home"
    settings = load_settings(overrides={"profile": "test", "home": str(home)})
    seed(build_assistant(settings))
    key, _ = KeyStore.for_settings(settings).add("alice", ["all-staff"])
    port = free_port()
    args = [str(VENV_BIN / "lore"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    url = f"http://127.0.0.1:{port}"
    with running(args, url + "/readyz", lore_env(home), tmp_path / "serve.log", timeout=180) as proc:
        # The server's children: its two workers, and multiprocessing's resource tracker, which ends
        # on its own once the server has gone.
        workers = [w for w in psutil.Process(proc.pid).children(recursive=True) if "spawn" in " ".join(w.cmdline())]
        assert len(workers) == 2
        answers = []
        for _ in range(40):  # a new connection each time: the kernel spreads them over both workers
            with httpx.Client(base_url=url, timeout=60) as http:
                body = {"model": "lore", "messages": [{"role": "user", "content": TRAVEL}]}
                response = http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 200, response.text
                answers.append(response.json()["choices"][0]["message"]["content"])
        assert len(set(answers)) == 1 and "14 days" in answers[0]  # every worker answers alike
        metrics = httpx.get(url + "/metrics", timeout=10).text
        served = re.search(r'^lore_http_requests_total\{method="POST",route="/v1/chat/completions",status="200"\} (\S+)$', metrics, re.M)
        assert served and float(served.group(1)) == 40  # both workers' requests, added up
        answered = re.search(r"^lore_answers_total\{channel=\"api\"\} (\S+)$", metrics, re.M)
        assert answered and float(answered.group(1)) == 40
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    assert not list((home / "run").glob("metrics-*"))  # the shared metrics files are removed
