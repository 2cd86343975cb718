"""Query embeddings for the API: an LRU cache of recent queries and micro-batching of the rest.

Under load the query embedding is most of an answer's CPU time besides generation (MiniLM: about
15-20 ms per query on 2 cores), and a batch of N short queries costs far less than N single calls.
`BatchingEmbedder` wraps any Embedder: while one thread embeds, the queries that arrive queue up,
and the next thread embeds all of them in one call. Nothing waits on a timer, so a lone request
pays nothing extra.

Repeated questions (FAQ-like traffic, retries, the same question from many users) skip the model:
the cache maps the exact query text to its vector. It holds vectors only — never retrieval results
or answers, so every request still searches the current index with the user's own groups.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class _Slot:
    __slots__ = ("text", "done", "vector", "error")

    def __init__(self, text: str):
        self.text = text
        self.done = False
        self.vector: list[float] | None = None
        self.error: BaseException | None = None


@contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Run a batch on one torch thread. The server's concurrency comes from its requests; torch's
    intra-op threads on top of them only contend for the same cores (measured on 2 busy cores, a
    batch of 32 queries: 345 ms with two threads, 203 ms with one)."""
    torch = sys.modules.get("torch")  # only when a local model is loaded; never import it here
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class BatchingEmbedder:
    """An Embedder whose `embed_query` answers repeated texts from a cache and batches concurrent
    calls (`max_batch=1`: no batching); everything else is delegated."""

    def __init__(self, inner: Any, max_batch: int = 32, cache_size: int = 0):
        self.inner = inner
        self.max_batch = max(1, max_batch)
        self.cache_size = max(0, cache_size)
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0
        self.batches: list[int] = []  # sizes of the recent batches (bounded), for tests and metrics

    def __getattr__(self, name: str) -> Any:  # name, dim, max_tokens, count_tokens, warm_up, ...
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        slot = _Slot(text)
        with self._cond:
            if self.cache_size:
                cached = self._cache.get(text)
                if cached is not None:
                    self._cache.move_to_end(text)
                    self.cache_hits += 1
                    return list(cached)
                self.cache_misses += 1
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
                    self._remember(batch)
                    self._busy = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def cache_info(self) -> dict[str, int]:
        with self._cond:
            return {"hits": self.cache_hits, "misses": self.cache_misses, "size": len(self._cache), "max_size": self.cache_size}

    def _run(self, batch: list[_Slot]) -> None:
        try:
            texts = list(dict.fromkeys(s.text for s in batch))  # the same question twice in a batch: embed it once
            if len(texts) == 1:
                # A single query keeps the inner embedder's own single-text path (and its tuning).
                vectors = [self.inner.embed_query(texts[0])]
            elif hasattr(self.inner, "embed_queries"):  # the local embedder's query path (its precision)
                vectors = self.inner.embed_queries(texts)
            else:
                with one_intra_op_thread():
                    vectors = self.inner.embed_documents(texts)
            by_text = dict(zip(texts, vectors, strict=True))
            for slot in batch:
                slot.vector = list(by_text[slot.text])
        except BaseException as exc:  # every waiter gets the error, not only the thread that ran it
            for slot in batch:
                slot.error = exc
        for slot in batch:
            slot.done = True
        self.batches = [*self.batches[-99:], len(batch)]

    def _remember(self, batch: list[_Slot]) -> None:
        """Cache the batch's vectors (the caller holds the lock); the least recently used go first."""
        if not self.cache_size:
            return
        for slot in batch:
            if slot.vector is not None:
                self._cache[slot.text] = tuple(slot.vector)
                self._cache.move_to_end(slot.text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
