"""One ingest at a time per LORE_HOME: a non-blocking flock on `ingest.lock`, released by the
kernel when the holder exits (even on SIGKILL), so a stale lock file never blocks a later run."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from retrieval.errors import LockedError


class IngestLock:
    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> IngestLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown pid"
            os.close(fd)
            raise LockedError(
                f"another ingest is running ({holder}): wait for it to finish; the lock {self.path} frees itself when that process exits"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> IngestLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
