"""`lore serve` with several server processes (api.workers > 1).

One Python process answers on one core at a time (the GIL): with a remote generator (vLLM, an
OpenAI-compatible API) the server's own work is retrieval and HTTP, and a second process on a second
core doubles what it can take.

Each worker binds its own listening socket to the same port with SO_REUSEPORT, so the kernel spreads
new connections evenly over the workers. With one socket shared by all (uvicorn's own `workers`),
whichever worker was awake took most of them: measured with 32 keep-alive clients, 27 connections
went to one worker and 5 to the other, and that worker's queue set the latency.

The parent only supervises: a worker that dies takes the service down with it (exit code 1), for
the service manager (systemd, Docker's restart policy) to start it again whole.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from retrieval.errors import ConfigError

WORKER_SETTINGS_ENV = "LOREWORKER_SETTINGS"  # not under LORE_: it is no setting


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): stop what uses the port or choose another with --port") from exc
    return sock


def serve(spec: dict[str, Any], host: str, port: int, workers: int, metrics_dir: Path, options: dict[str, Any]) -> int:
    """Run `workers` server processes on host:port until SIGINT/SIGTERM; 1 if a worker died."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("api.workers > 1 needs SO_REUSEPORT (Linux, macOS, BSD): set api.workers = 1")
    # A port another program holds fails here, before SO_REUSEPORT could let a second server share it.
    listening_socket(host, port, reuse_port=False).close()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    # Spawned workers are fresh interpreters: they read these before importing anything.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ[WORKER_SETTINGS_ENV] = json.dumps(spec, default=str)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=run_worker, args=(host, port, options), name=f"lore-api-{n}") for n in range(workers)]
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        while not stop.is_set() and all(p.is_alive() for p in processes):
            stop.wait(0.5)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(20)
            if process.is_alive():
                process.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0 if stop.is_set() else 1


def run_worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One server process (the spawned child's entry point)."""
    import uvicorn

    from app.api import create_app
    from retrieval.offline import apply_privacy_defaults
    from retrieval.settings import load_settings

    apply_privacy_defaults()
    spec = json.loads(os.environ[WORKER_SETTINGS_ENV])
    app = create_app(load_settings(spec["config"], spec["overrides"]))
    sock = listening_socket(host, port, reuse_port=True)
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
