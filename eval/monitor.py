"""Continuous scoring: judge every logged interaction not yet scored, store the score next to it.

Resumable by construction: the log's `unscored()` is the to-do list and each score is saved as soon
as it exists, so a killed run loses at most the answer in progress. A batch is bounded, so a cron
run ends; `--watch` repeats it. One monitor at a time (a lock file in LORE_HOME); the app and the API
keep writing to the same WAL-mode SQLite log meanwhile (transactions here are one row each).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eval.datasets import ScoreItem
from eval.registry import BY_NAME, names
from eval.scorer import Scorer
from retrieval.errors import LockedError

METRIC = "faithfulness"
# what is kept per interaction: the judged scores an answer gets without a reference
LIVE_METRICS = tuple(name for name in names(judged=True, reference="") if BY_NAME[name].per_answer)


@dataclass
class MonitorReport:
    scored: int = 0
    nulls: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)  # {"id","question","faithfulness"}
    remaining: int = 0  # unscored interactions left after this pass (0: caught up)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"scored": self.scored, "nulls": self.nulls, "flagged": self.flagged, "remaining": self.remaining, "seconds": round(self.seconds, 2)}


def interaction_item(row: dict[str, Any]) -> ScoreItem:
    return ScoreItem(
        id=row["id"],
        question=row["question"],
        contexts=tuple(c.get("text", "") for c in row["contexts"]),
        answer=row["answer"],
        refused=bool(row["refused"]),
        citations=tuple(row.get("citations") or ()),
    )


class Monitor:
    def __init__(self, log: Any, scorer: Scorer, *, flag_below: float, batch: int, lock_path=None):
        self.log = log
        self.scorer = scorer
        self.flag_below = flag_below
        self.batch = batch
        self.lock_path = lock_path

    def run_once(self, on_scored: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> MonitorReport:
        """Score at most one batch of unscored interactions."""
        started = time.perf_counter()
        report = MonitorReport()
        rows = self.log.unscored(METRIC, self.batch)
        for row in rows:
            scored = self.scorer.score(interaction_item(row))
            judge = self.scorer.name
            for metric, value in scored.scores.items():
                if metric in LIVE_METRICS:
                    detail = {"detail": scored.detail.get(metric), "error": scored.errors.get(metric)}
                    self.log.save_score(row["id"], metric, value, judge, detail)
            value = scored.scores.get(METRIC)
            if METRIC not in scored.scores:  # nothing was computed at all: still mark it, or it is retried forever
                self.log.save_score(row["id"], METRIC, None, judge, {"error": scored.errors})
            report.scored += 1
            if value is None:
                report.nulls += 1
            elif value < self.flag_below:
                report.flagged.append({"id": row["id"], "question": row["question"], METRIC: value})
            if on_scored:
                on_scored(row, scored.scores)
        report.remaining = len(self.log.unscored(METRIC, 1)) if rows else 0
        report.seconds = time.perf_counter() - started
        return report

    def watch(self, interval_s: float, stop: threading.Event, on_pass: Callable[[MonitorReport], None] | None = None) -> None:
        """Score until stopped: a full batch goes straight on to the next, an idle pass waits `interval_s`."""
        while not stop.is_set():
            report = self.run_once()
            if on_pass:
                on_pass(report)
            if report.remaining == 0:
                stop.wait(interval_s)


def monitor_lock(path):
    """A non-blocking file lock: a second monitor exits at once instead of double-scoring."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LockedError(f"another `lore monitor` is running (lock {path}): let it finish, or stop it first") from None
    return lock
