"""Retrieval against the embedded store is Python work: one server process runs one at a time
(api.retrieval_concurrency), while answers (generation) still overlap."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.api import GatedRetriever, retrieval_concurrency

pytestmark = pytest.mark.unit


class SlowRetriever:
    def __init__(self):
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.config = "kept"

    def retrieve(self, query, groups, top_k=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return query


@pytest.mark.parametrize("limit", [1, 3])
def test_at_most_limit_retrievals_run_at_once(limit):
    inner = SlowRetriever()
    gated = GatedRetriever(inner, limit)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda q: gated.retrieve(q, ["all-staff"]), range(16))) == list(range(16))
    assert inner.most == limit
    assert gated.config == "kept"  # everything else is the retriever's own


def test_the_limit_follows_the_store(test_settings):
    assert retrieval_concurrency(test_settings) == 1  # embedded: CPU work in this process
    http = test_settings.model_copy(update={"store": test_settings.store.model_copy(update={"kind": "http"})})
    assert retrieval_concurrency(http) == test_settings.api.max_concurrency
    fixed = test_settings.model_copy(update={"api": test_settings.api.model_copy(update={"retrieval_concurrency": 3})})
    assert retrieval_concurrency(fixed) == 3
