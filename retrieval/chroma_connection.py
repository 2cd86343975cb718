"""One Chroma client and its collection: embedded (PersistentClient under LORE_HOME) or a Chroma
server (HttpClient), opened on first use and kept fresh when another process writes.

Embedded Chroma keeps each collection's vector index in memory. When another process (the nightly
ingest beside a running app or API) writes to the same directory, that copy misses the new chunks
(Chroma fails with "Error finding id") and still holds deleted ones. A reader that sees the content
changed behind its back (retrieval/store_stamp.py) opens the store again — at most every REFRESH_S
while the writer is busy, at once when Chroma reports a missing id. The stores built on one
connection (retrieval/store.py and its wrappers) read through `collection` or `fresh_read` and
report their own writes with `wrote`, so this process's writes never count as another's.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from retrieval.errors import ConfigError, MissingDependencyError, StoreError
from retrieval.settings import Settings
from retrieval.store_stamp import Stamp, StoreStamp

T = TypeVar("T")


def query_failed(exc: Exception) -> StoreError:
    """The error a failed Chroma search becomes, whichever store layer searched."""
    return StoreError(f"the Chroma query failed ({exc.__class__.__name__}: {exc}): check that the store is reachable")


class ChromaConnection:
    REFRESH_S = 5.0
    LOOK_S = 0.5  # how often a reader looks for other processes' writes

    def __init__(self, settings: Settings):
        self.settings = settings
        self.config = settings.store
        self._client: Any = None
        self._collection: Any = None
        self._vector_store: Any = None
        self._opening = threading.Lock()
        self.seen: Stamp = None  # the embedded store's content as this connection's client last knew it
        self._refreshed_at = -math.inf
        self._stamps = StoreStamp(settings.store_dir, every_s=self.LOOK_S)

    def open(self) -> Any:
        """The collection, the client opened on first use. It does not look for other processes'
        writes: `collection` and `fresh_read` do."""
        if self._collection is None:
            with self._opening:
                if self._collection is None:
                    seen = self.stamp()  # before opening: a write after it is seen on the next look
                    self._client, self._collection = self._connect()
                    self.seen = seen if seen is not None else self.stamp()  # a new store: created just now
        return self._collection

    @property
    def client(self) -> Any:
        """The Chroma client (a new one after each reopen)."""
        self.open()
        return self._client

    @property
    def collection(self) -> Any:
        """The collection, opened again first when another process wrote to it."""
        self.open()
        self.refresh()
        return self._collection

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the collection, built on first use (importing llama-index takes
        about 1.7 s, which an unchanged re-ingest or a count never needs)."""
        self.open()
        if self._vector_store is None:
            try:
                from llama_index.vector_stores.chroma import ChromaVectorStore
            except ImportError as exc:
                raise MissingDependencyError("the Chroma store", "llama-index-vector-stores-chroma") from exc
            self._vector_store = ChromaVectorStore(chroma_collection=self._collection)
        return self._vector_store

    def _connect(self) -> tuple[Any, Any]:
        """A new Chroma client and its collection."""
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:
            raise MissingDependencyError("the Chroma store", "llama-index-vector-stores-chroma") from exc
        chroma_settings = ChromaSettings(anonymized_telemetry=self.settings.telemetry, allow_reset=False)
        try:
            if self.config.kind == "embedded":
                self.settings.store_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(self.settings.store_dir), settings=chroma_settings)
            elif self.config.kind == "http":
                headers = {"X-Chroma-Token": self.config.api_key.get_secret_value()} if self.config.api_key else None
                client = chromadb.HttpClient(
                    host=self.config.host, port=self.config.port, ssl=self.config.ssl, headers=headers, settings=chroma_settings
                )
            else:  # pragma: no cover - the settings type rules this out
                raise ConfigError(f"unknown store kind {self.config.kind!r}: use embedded or http")
            # embedding_function=None: Chroma's default would download an ONNX model; we always pass vectors.
            collection = client.get_or_create_collection(self.config.collection, embedding_function=None, metadata={"hnsw:space": "cosine"})
        except ConfigError:
            raise
        except Exception as exc:
            where = self.settings.store_dir if self.config.kind == "embedded" else f"{self.config.host}:{self.config.port}"
            raise StoreError(f"cannot open the Chroma store at {where} ({exc.__class__.__name__}: {exc}): check store.* settings") from exc
        return client, collection

    # ---- freshness (retrieval/store_stamp.py) -----------------------------------------------------

    def stamp(self) -> Stamp:
        """The embedded store's content stamp now (None for a Chroma server, whose index is shared)."""
        return self._stamps.read() if self.config.kind == "embedded" else None

    def look(self) -> Stamp:
        """The stamp as a reader needs it: read again at most every LOOK_S."""
        return self._stamps.look() if self.config.kind == "embedded" else None

    def refresh(self, force: bool = False) -> None:
        """Open the store again when another process wrote to it (`force`: now, whatever the stamp)."""
        if self._collection is None or self.config.kind != "embedded":
            return
        if not force and (self.look() == self.seen or time.monotonic() - self._refreshed_at < self.REFRESH_S):
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._opening:  # one reopen at a time; queries running meanwhile finish on the old client
            if not force and self.look() == self.seen:
                return  # another thread has just reopened it
            seen = self.stamp()
            # Only this directory's shared system is forgotten, and not stopped: another store object
            # of this process, or a query still running, may hold it; the new client reads the files.
            identifier = getattr(self._client, "_identifier", None)
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            client, collection = self._connect()
            self._client, self._collection, self._vector_store = client, collection, None
            self.seen, self._refreshed_at = seen, time.monotonic()

    def wrote(self) -> None:
        """This process's own write: its client's in-memory index already has it."""
        self.seen = self.stamp()

    def fresh_read(self, read: Callable[[], T]) -> T:
        """Run `read()`; when Chroma misses an id another process wrote, reopen and run it once more.
        `read` takes the collection from `open()` each time, so the second run uses the new client."""
        self.open()
        self.refresh()
        try:
            return read()
        except Exception as exc:
            if self.config.kind != "embedded" or "finding id" not in str(exc):
                raise
        self.refresh(force=True)
        return read()

    def pages(self, include: list[str], batch: int) -> Iterator[dict[str, Any]]:
        """The whole collection, `batch` records at a time (ids plus `include`)."""
        offset = 0
        while True:
            found = self.open().get(limit=batch, offset=offset, include=include)
            if not len(found["ids"]):
                return
            yield found
            offset += len(found["ids"])
