"""Micro-batching of query embeddings across concurrent API requests.

Under load the query embedding is most of an answer's CPU time besides generation (MiniLM: about
20 ms per query on 2 cores), and a batch of N short queries costs far less than N single calls.
`BatchingEmbedder` wraps any Embedder: while one thread embeds, the queries that arrive queue up,
and the next thread embeds all of them in one call. Nothing waits on a timer, so a lone request
pays nothing extra.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any


class _Slot:
    __slots__ = ("text", "done", "vector", "error")

    def __init__(self, text: str):
        self.text = text
        self.done = False
        self.vector: list[float] | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """An Embedder whose `embed_query` batches concurrent calls; everything else is delegated."""

    def __init__(self, inner: Any, max_batch: int = 32):
        self.inner = inner
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False
        self.batches: list[int] = []  # sizes of the recent batches (bounded), for tests and metrics

    def __getattr__(self, name: str) -> Any:  # name, dim, max_tokens, count_tokens, warm_up, ...
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        slot = _Slot(text)
        with self._cond:
            self._queue.append(slot)
        while True:
            with self._cond:
                while self._busy and not slot.done:
                    self._cond.wait()
                if slot.done:
                    break
                self._busy = True
                batch = self._queue[: self.max_batch]
                del self._queue[: len(batch)]
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def _run(self, batch: list[_Slot]) -> None:
        try:
            # A single query keeps the inner embedder's own single-text path (and its tuning).
            vectors = [self.inner.embed_query(batch[0].text)] if len(batch) == 1 else self.inner.embed_documents([s.text for s in batch])
            for slot, vector in zip(batch, vectors, strict=True):
                slot.vector = vector
        except BaseException as exc:  # every waiter gets the error, not only the thread that ran it
            for slot in batch:
                slot.error = exc
        for slot in batch:
            slot.done = True
        self.batches = [*self.batches[-99:], len(batch)]
