"""Parsing in worker processes, each file under a deadline: a worker that overruns
`ingest.file_timeout_s` (or dies: out of memory, a parser segfault) is killed and replaced, and
only that file fails. Results stream back through a background thread, so the parent embeds and
writes while the workers keep parsing."""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ingest.blocks import Limits, ParsedDocument, ParseFailure
from ingest.loaders import parse_file, warm_parsers

ParseFn = Callable[[str, Limits], ParsedDocument]


@dataclass(frozen=True)
class ParseResult:
    path: str
    document: ParsedDocument | None
    error: str = ""


def _worker_loop(conn: Connection, parse: ParseFn, limits: Limits) -> None:
    from retrieval.offline import apply_privacy_defaults

    apply_privacy_defaults()
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    if parse is parse_file:
        warm_parsers()
    conn.send("ready")
    while True:
        try:
            path = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if path is None:
            return
        try:
            conn.send(ParseResult(path, parse(path, limits)))
        except ParseFailure as exc:
            conn.send(ParseResult(path, None, str(exc)))
        except BaseException as exc:  # noqa: BLE001 - the worker must answer for every file
            conn.send(ParseResult(path, None, f"parse error ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})"))


@contextmanager
def _plain_main() -> Iterator[None]:
    """Start workers as if `__main__` were empty. multiprocessing re-runs the parent's main script in
    each new process; when ingestion is started from a Streamlit page (the admin upload), that
    script is the app itself, which must not run again inside a parser worker."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Worker:
    def __init__(self, context: Any, parse: ParseFn, limits: Limits):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_loop, args=(child, parse, limits), daemon=True)
        with _plain_main():
            self.process.start()
        child.close()
        self.ready = False  # becomes true with the worker's "ready" message (parsers imported)
        self.path: str | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class ParserPool:
    """`for result in ParserPool(...).run(paths)`: results in completion order."""

    def __init__(self, workers: int, timeout_s: float, limits: Limits, parse: ParseFn = parse_file):
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self.limits = limits
        self.parse = parse
        self.context = multiprocessing.get_context("forkserver")
        if parse is parse_file:
            # Imported once in the fork server: every worker (and every replacement for a killed
            # one) starts with the parsers loaded instead of importing them for seconds.
            self.context.set_forkserver_preload(["ingest.workers", "ingest.pdf", "pypdfium2", "unstructured.partition.auto", "unstructured.partition.md"])

    def run(self, paths: Sequence[str]) -> Iterator[ParseResult]:
        if not paths:
            return
        out: queue.Queue[ParseResult | BaseException | None] = queue.Queue(maxsize=2 * self.workers + 2)
        stop = threading.Event()
        thread = threading.Thread(target=self._dispatch, args=(list(paths), out, stop), name="lore-parse", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a dispatcher waiting on a full queue
                try:
                    out.get_nowait()
                except queue.Empty:
                    thread.join(0.1)

    def _dispatch(self, todo: list[str], out: queue.Queue, stop: threading.Event) -> None:
        pool: list[_Worker] = []
        try:
            todo.reverse()  # pop() from the end keeps the caller's order
            pool = [_Worker(self.context, self.parse, self.limits) for _ in range(min(self.workers, len(todo)))]
            while (todo or any(w.path for w in pool)) and not stop.is_set():
                for worker in pool:
                    if worker.ready and worker.path is None and todo:
                        worker.path = todo.pop()
                        worker.deadline = time.monotonic() + self.timeout_s
                        worker.conn.send(worker.path)
                busy = [w for w in pool if w.path is not None]
                timeout = max(0.0, min((w.deadline for w in busy), default=1.0) - time.monotonic())
                ready = wait([w.conn for w in pool if w.path is not None or not w.ready], timeout=min(timeout, 1.0))
                for i, worker in enumerate(pool):
                    if not worker.ready and worker.conn in ready:
                        try:
                            worker.ready = worker.conn.recv() == "ready"
                        except (EOFError, OSError) as exc:
                            raise RuntimeError(f"a parser worker failed to start (exit code {worker.process.exitcode})") from exc
                        continue
                    if worker.path is None:
                        continue
                    if worker.conn in ready:
                        try:
                            result = worker.conn.recv()
                        except (EOFError, OSError):
                            code = worker.process.exitcode
                            result = ParseResult(worker.path, None, f"parser crashed (exit code {code}): the file may be too large or malformed")
                            pool[i] = self._replace(worker)
                        else:
                            worker.path = None
                        out.put(result)
                    elif time.monotonic() > worker.deadline:
                        out.put(ParseResult(worker.path, None, f"timeout: parsing took over ingest.file_timeout_s={self.timeout_s:g}s"))
                        pool[i] = self._replace(worker)
        except BaseException as exc:  # surfaced in the consuming thread
            out.put(exc)
        finally:
            for worker in pool:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
            for worker in pool:
                worker.process.join(2)
                if worker.process.is_alive():
                    worker.kill()
            out.put(None)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        return _Worker(self.context, self.parse, self.limits)
