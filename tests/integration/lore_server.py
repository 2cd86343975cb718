"""Helpers for integration tests that run real servers on loopback: `lore serve` and `chroma run`
as subprocesses on free ports, waited for until ready, stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@contextmanager
def running(args: list[str], ready_url: str, env: dict[str, str], log: Path, timeout: float = 90):
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    try:
        wait_for(ready_url, proc, timeout, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def lore_env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_") or k == "LORE_MODELS__DIR"}
    env.update({"LORE_HOME": str(home), "LORE_PROFILE": "test", **settings})
    return env


@contextmanager
def lore_serve(home: Path, tmp: Path, **settings: str):
    """`lore serve` on a free loopback port; yields its base URL once /readyz says ready."""
    port = free_port()
    args = [str(VENV_BIN / "lore"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(args, f"http://127.0.0.1:{port}/readyz", lore_env(home, **settings), tmp / f"serve-{port}.log"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def chroma_server(path: Path, tmp: Path):
    """`chroma run` from the virtualenv on a free loopback port; yields the port."""
    chroma = VENV_BIN / "chroma"
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    args = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(args, f"http://127.0.0.1:{port}/api/v2/heartbeat", env, tmp / f"chroma-{port}.log", timeout=60):
        yield port
