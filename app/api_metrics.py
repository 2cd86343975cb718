"""Prometheus metrics of one API app: its own registry (no process globals, so several apps — and
tests — never share counters), request and stage timings, refusals, tokens, and the latest
faithfulness scores read from the interaction log at scrape time."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

# Request latencies span ~1 ms (fake generator, search) to minutes (a local model on CPU).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)
DECODE_BUCKETS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 60, 100, 200)


class FaithfulnessCollector:
    """`lore_faithfulness_latest` and `lore_faithfulness_mean_recent` from the scores table."""

    def __init__(self, interactions_db: Path, recent: int = 100):
        self.path = interactions_db
        self.recent = recent

    def collect(self):
        latest = GaugeMetricFamily("lore_faithfulness_latest", "faithfulness of the most recently scored answer (0..1)")
        mean = GaugeMetricFamily("lore_faithfulness_mean_recent", f"mean faithfulness of the last {self.recent} scored answers")
        scored = GaugeMetricFamily("lore_faithfulness_scored", "answers with a faithfulness score")
        rows = self._read()
        if rows is not None:
            values, total = rows
            if values:
                latest.add_metric([], values[0])
                mean.add_metric([], sum(values) / len(values))
            scored.add_metric([], total)
        yield latest
        yield mean
        yield scored

    def _read(self) -> tuple[list[float], int] | None:
        if not self.path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2)
            try:
                values = [r[0] for r in db.execute(
                    "SELECT value FROM scores WHERE metric='faithfulness' AND value IS NOT NULL ORDER BY ts DESC LIMIT ?", (self.recent,)
                )]
                total = db.execute("SELECT COUNT(*) FROM scores WHERE metric='faithfulness' AND value IS NOT NULL").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return None  # no scores table yet, or the file is busy: report nothing rather than fail the scrape
        return values, int(total)


class QueryCacheCollector:
    """`lore_query_cache_lookups_total{result=hit|miss}` and the cache's size, read at scrape time."""

    def __init__(self, info: Callable[[], dict[str, int] | None]):
        self.info = info

    def collect(self):
        info = self.info()
        if info is None:  # no assistant yet, or the cache is not in use
            return
        lookups = CounterMetricFamily("lore_query_cache_lookups", "query-embedding cache lookups", labels=["result"])
        lookups.add_metric(["hit"], info["hits"])
        lookups.add_metric(["miss"], info["misses"])
        yield lookups
        yield GaugeMetricFamily("lore_query_cache_entries", "query embeddings held in the cache", value=info["size"])


class ApiMetrics:
    def __init__(self, interactions_db: Path, query_cache: Callable[[], dict[str, int] | None] | None = None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("lore_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram("lore_http_request_seconds", "HTTP request latency", ["route", "method"], buckets=BUCKETS, registry=r)
        # Several server processes (api.workers): values live in files, the gauge adds up the living ones.
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.in_flight = Gauge("lore_http_requests_in_flight", "HTTP requests being served", registry=r, multiprocess_mode="livesum")
        self.retrieval = Histogram("lore_retrieval_seconds", "retrieval time per answer", buckets=BUCKETS, registry=r)
        self.generation = Histogram("lore_generation_seconds", "generation time per answer", buckets=BUCKETS, registry=r)
        self.first_token = Histogram("lore_first_token_seconds", "time to the first generated token", buckets=BUCKETS, registry=r)
        # measured inside the server, from the model's first token to its last: what the model writes, not
        # what a client on the same cores reads
        self.decode = Histogram("lore_decode_tokens_per_second", "tokens per second the model writes after its first",
                                buckets=DECODE_BUCKETS, registry=r)
        self.answers = Counter("lore_answers", "answers given", ["channel"], registry=r)
        self.refusals = Counter("lore_refusals", "answers that were refusals", ["channel"], registry=r)
        self.tokens = Counter("lore_tokens", "model tokens", ["kind"], registry=r)
        self.searches = Counter("lore_searches", "search requests", registry=r)
        self.collectors = [FaithfulnessCollector(interactions_db)]
        if query_cache is not None:
            self.collectors.append(QueryCacheCollector(query_cache))  # this process's cache only
        for collector in self.collectors:
            r.register(collector)

    def observe_answer(self, answer, channel: str = "api") -> None:
        t = answer.timings
        self.answers.labels(channel).inc()
        if answer.refused:
            self.refusals.labels(channel).inc()
        self.retrieval.observe(max(t.retrieve_ms, 0.0) / 1000)
        self.generation.observe(max(t.total_ms - t.retrieve_ms, 0.0) / 1000)
        if t.first_token_ms is not None:
            self.first_token.observe(max(t.first_token_ms, 0.0) / 1000)
        if (rate := (answer.details or {}).get("decode_tokens_per_s")) is not None:
            self.decode.observe(rate)
        self.tokens.labels("prompt").inc(answer.usage.prompt_tokens)
        self.tokens.labels("completion").inc(answer.usage.completion_tokens)

    def close(self) -> None:
        """This process stops serving: its live gauges no longer count (multiprocess mode)."""
        if self.multiprocess_dir:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(os.getpid(), self.multiprocess_dir)

    def render(self) -> bytes:
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        scrape = CollectorRegistry()
        MultiProcessCollector(scrape, path=self.multiprocess_dir)
        for collector in self.collectors:
            scrape.register(collector)
        return generate_latest(scrape)
