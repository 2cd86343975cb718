"""The query micro-batcher: concurrent queries share embedding calls, results match the unbatched
embedder, errors reach every waiter, a lone query goes through the single-text path; the query
cache answers repeated texts and forgets the least recently used."""

from __future__ import annotations

import sys
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


def test_a_repeated_query_is_answered_from_the_cache():
    inner = SlowEmbedder()
    cached = BatchingEmbedder(inner, cache_size=8)
    first = cached.embed_query("How many vacation days?")
    first.append(99.0)  # a caller changing its copy must not change the cache
    again = cached.embed_query("How many vacation days?")
    assert again == HashEmbedder(dim=64).embed_query("How many vacation days?")
    assert inner.calls == [("query", 1)]
    assert cached.cache_info() == {"hits": 1, "misses": 1, "size": 1, "max_size": 8}
    cached.embed_query("How many vacation days ?")  # another text is another key
    assert len(inner.calls) == 2


def test_the_cache_keeps_the_most_recently_used_texts():
    inner = SlowEmbedder()
    cached = BatchingEmbedder(inner, cache_size=2)
    for text in ["a", "b", "a", "c"]:  # "b" is the least recently used when "c" arrives
        cached.embed_query(text)
    calls = len(inner.calls)
    cached.embed_query("a")
    cached.embed_query("c")
    assert len(inner.calls) == calls
    cached.embed_query("b")
    assert len(inner.calls) == calls + 1


def test_without_a_cache_every_query_reaches_the_model():
    inner = SlowEmbedder()
    plain = BatchingEmbedder(inner)
    plain.embed_query("same")
    plain.embed_query("same")
    assert inner.calls == [("query", 1), ("query", 1)]
    assert plain.cache_info()["hits"] == 0


def test_the_same_text_twice_in_one_batch_is_embedded_once():
    inner = SlowEmbedder()
    batching = BatchingEmbedder(inner, max_batch=16)
    texts = ["warm"] + ["travel policy", "expense limits"] * 6
    with ThreadPoolExecutor(13) as pool:
        vectors = list(pool.map(batching.embed_query, texts))
    assert vectors == [HashEmbedder(dim=64).embed_query(t) for t in texts]
    assert sum(n for _, n in inner.calls) < len(texts)


class FakeTorch:
    def __init__(self):
        self.threads = 2
        self.seen: list[int] = []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.threads = n
        self.seen.append(n)


def test_a_batch_runs_on_one_torch_thread_and_the_setting_is_restored(monkeypatch):
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)

    class Recording(SlowEmbedder):
        def embed_documents(self, texts):
            self.threads_during = torch.threads
            return super().embed_documents(texts)

    inner = Recording()
    batching = BatchingEmbedder(inner, max_batch=8)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(batching.embed_query, [f"q{i}" for i in range(8)]))
    assert inner.threads_during == 1 and torch.threads == 2
