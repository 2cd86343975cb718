"""Retrieval against the embedded store is Python work: one server process runs one at a time
(api.retrieval_concurrency), while answers (generation) still overlap."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.api import retrieval_concurrency
from retrieval.retriever import Retriever

pytestmark = pytest.mark.unit


class SlowRetriever(Retriever):
    """A retriever whose every retrieval takes 20 ms and counts how many run at once."""

    def __init__(self, config):
        super().__init__(config, store=None, embedder=None, lexical=None)
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def _retrieve(self, query, groups, top_k, docs):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return query


@pytest.mark.parametrize("limit", [1, 3, None])
def test_at_most_limit_retrievals_run_at_once(test_settings, limit):
    retriever = SlowRetriever(test_settings.retrieval)
    if limit is not None:
        retriever.limit_concurrency(limit)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda q: retriever.retrieve(q, ["all-staff"]), range(16))) == list(range(16))
    if limit is not None:
        assert retriever.most == limit
    else:  # without a limit, as many as ask (up to the pool's 8 threads, as they start)
        assert retriever.most > 3


def test_the_limit_follows_the_store(test_settings):
    assert retrieval_concurrency(test_settings) == 1  # embedded: CPU work in this process
    http = test_settings.model_copy(update={"store": test_settings.store.model_copy(update={"kind": "http"})})
    assert retrieval_concurrency(http) == test_settings.api.max_concurrency
    fixed = test_settings.model_copy(update={"api": test_settings.api.model_copy(update={"retrieval_concurrency": 3})})
    assert retrieval_concurrency(fixed) == 3
