"""The query micro-batcher: concurrent queries share embedding calls, results match the unbatched
embedder, errors reach every waiter, a lone query goes through the single-text path."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.api_batching import BatchingEmbedder
from retrieval.embedders import HashEmbedder

pytestmark = pytest.mark.unit


class SlowEmbedder(HashEmbedder):
    """A hash embedder whose calls take a while, recording how it was called."""

    def __init__(self, fail: bool = False):
        super().__init__(dim=64)
        self.calls: list[tuple[str, int]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def embed_documents(self, texts):
        with self.lock:
            self.calls.append(("documents", len(texts)))
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("model crashed")
        return super().embed_documents(texts)

    def embed_query(self, text):
        with self.lock:
            self.calls.append(("query", 1))
        time.sleep(0.05)
        return super().embed_query(text)


def test_concurrent_queries_are_batched_and_match_the_inner_embedder():
    inner = SlowEmbedder()
    batching = BatchingEmbedder(inner, max_batch=8)
    texts = [f"question number {i} about travel" for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        vectors = list(pool.map(batching.embed_query, texts))
    assert vectors == [HashEmbedder(dim=64).embed_query(t) for t in texts]
    sizes = [n for _, n in inner.calls]
    assert sum(sizes) == 24 and len(inner.calls) < 24 and max(sizes) <= 8
    assert max(batching.batches) > 1


def test_a_lone_query_uses_the_single_text_path_and_attributes_are_delegated():
    inner = SlowEmbedder()
    batching = BatchingEmbedder(inner)
    assert batching.embed_query("hello") == HashEmbedder(dim=64).embed_query("hello")
    assert inner.calls == [("query", 1)]
    assert batching.dim == 64 and batching.name == inner.name and batching.count_tokens(["a b"]) == [2]


def test_an_error_reaches_every_waiting_query():
    batching = BatchingEmbedder(SlowEmbedder(fail=True))
    errors = []

    def ask(i):
        try:
            batching.embed_query(f"q{i}")
        except RuntimeError as exc:
            errors.append(str(exc))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(ask, range(6)))
    # the first query may run alone on the single-text path, which succeeds; the batched ones fail
    assert len(errors) >= 4 and set(errors) == {"model crashed"}
