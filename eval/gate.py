"""Quality gates: `--fail-under METRIC=VALUE` flags and the thresholds kept in `eval/thresholds.toml`.

A gate compares the run's headline numbers (metric means, refusal accuracy, judge NaN rate) with
minimums (`fail_under`) and maximums (`fail_over`); every breach is one message naming the metric.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eval.registry import BY_NAME, known
from retrieval.errors import ConfigError, InputError

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.toml")


@dataclass
class Thresholds:
    fail_under: dict[str, float] = field(default_factory=dict)  # the metric must be at least this
    fail_over: dict[str, float] = field(default_factory=dict)  # the metric must be at most this


def parse_fail_under(specs: Iterable[str]) -> dict[str, float]:
    """`["faithfulness=0.8", "refusal_accuracy=0.75"]` → {"faithfulness": 0.8, ...}."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--fail-under {spec!r} is not METRIC=VALUE: write e.g. --fail-under faithfulness=0.8") from None
        known(name.strip(), "metric in --fail-under")
    return out


def load_thresholds(path: Path = THRESHOLDS_FILE) -> Thresholds:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read thresholds {path} ({exc}): fix or restore the file") from exc
    unknown = [k for section in ("fail_under", "fail_over") for k in doc.get(section, {}) if k not in BY_NAME]
    if unknown:
        raise ConfigError(f"{path} names unknown metric {unknown[0]!r}: use one of {', '.join(BY_NAME)}")
    return Thresholds(
        fail_under={k: float(v) for k, v in doc.get("fail_under", {}).items()},
        fail_over={k: float(v) for k, v in doc.get("fail_over", {}).items()},
    )


def check(values: Mapping[str, float | None], thresholds: Thresholds) -> list[str]:
    """Messages for every breached threshold; a metric the run did not produce is a breach too."""
    failures = []
    for name, minimum in thresholds.fail_under.items():
        value = values.get(name)
        if value is None:
            failures.append(f"{name} was not measured (needed >= {minimum:g}): check the metric name and the judge")
        elif value < minimum:
            failures.append(f"{name} {value:.3f} is below the threshold {minimum:g}")
    for name, maximum in thresholds.fail_over.items():
        value = values.get(name)
        if value is not None and value > maximum:
            failures.append(f"{name} {value:.3f} is above the limit {maximum:g}")
    return failures
