"""Has anyone written to an embedded Chroma store since this process last looked?

Embedded Chroma keeps each collection's vector index in memory, so a reader (the app, each API
process) must notice what another process (the nightly ingest, another API worker's /v1/ingest)
wrote. The files' modification time cannot tell: opening a PersistentClient is itself a write to
chroma.sqlite3, so every reader that opened the store would look like a writer to all the others,
and they would keep reopening each other's stores. The stamp is read from the content instead:
every add, update and delete enters Chroma's `embeddings_queue` (a row with the next `seq_id`), and
a new collection (a group partition) enters `collections`.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

Stamp = tuple[Any, ...] | None

QUERY = "SELECT (SELECT max(seq_id) FROM embeddings_queue), (SELECT count(*) FROM embeddings_queue), (SELECT count(*) FROM collections)"


class StoreStamp:
    def __init__(self, store_dir: Path, every_s: float = 0.5):
        self.path = store_dir / "chroma.sqlite3"
        self.every_s = every_s
        self._db: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()
        self._looked: Stamp = None
        self._looked_at = -math.inf

    def read(self) -> Stamp:
        """The stamp now (None: no store yet). A store busy with a write answers with the last stamp
        read; the next look sees the write."""
        with self._lock:
            try:
                inode = os.stat(self.path).st_ino
            except OSError:
                return None
            try:
                if self._db is None or inode != self._inode:  # a restored store is a new file
                    if self._db is not None:
                        self._db.close()
                    self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=0.05, check_same_thread=False)
                    self._inode = inode
                stamp: Stamp = (inode, *self._db.execute(QUERY).fetchone())
            except sqlite3.Error:
                return self._looked
            self._looked, self._looked_at = stamp, time.monotonic()
            return stamp

    def look(self) -> Stamp:
        """The stamp as a reader needs it: read again at most every `every_s` seconds."""
        if time.monotonic() - self._looked_at >= self.every_s:
            return self.read()
        return self._looked

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def ingest_running(lock: Path) -> bool:
    """Does a process hold the ingest lock (a kernel flock, see ingest/lock.py)? Read from
    /proc/locks, so asking never takes the lock and never makes a starting ingest fail."""
    try:
        inode = os.stat(lock).st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False
