"""Gates: --fail-under parsing, thresholds file, breach messages naming the metric."""

from __future__ import annotations

import pytest

from eval.gate import THRESHOLDS_FILE, Thresholds, check, load_thresholds, parse_fail_under
from retrieval.errors import ConfigError, InputError

pytestmark = pytest.mark.unit


def test_parse_fail_under():
    assert parse_fail_under(["faithfulness=0.8", " refusal_accuracy = 0.5"]) == {"faithfulness": 0.8, "refusal_accuracy": 0.5}
    for bad in ("faithfulness", "=0.8", "faithfulness=high"):
        with pytest.raises(InputError, match="METRIC=VALUE"):
            parse_fail_under([bad])


@pytest.mark.parametrize(
    "values, failures",
    [
        ({"faithfulness": 0.9, "judge_nan_rate": 0.0}, []),
        ({"faithfulness": 0.7, "judge_nan_rate": 0.0}, ["faithfulness 0.700 is below the threshold 0.8"]),
        ({"judge_nan_rate": 0.5}, ["faithfulness was not measured", "judge_nan_rate 0.500 is above the limit 0.1"]),
    ],
)
def test_check(values, failures):
    found = check(values, Thresholds({"faithfulness": 0.8}, {"judge_nan_rate": 0.1}))
    assert len(found) == len(failures)
    for message, expected in zip(found, failures):
        assert message.startswith(expected)


def test_an_unknown_metric_is_named_in_one_line_with_the_known_ones(tmp_path):
    with pytest.raises(InputError, match=r"unknown metric in --fail-under 'faithfullness': use one of faithfulness, "):
        parse_fail_under(["faithfullness=0.8"])
    bad = tmp_path / "thresholds.toml"
    bad.write_text("[fail_under]\nfaithfulness = 0.7\nrefusal_acc = 0.5\n")
    with pytest.raises(ConfigError, match=r"unknown metric 'refusal_acc'"):
        load_thresholds(bad)


def test_repository_thresholds_are_readable():
    thresholds = load_thresholds(THRESHOLDS_FILE)
    assert {"faithfulness", "refusal_accuracy"} <= set(thresholds.fail_under)
    assert all(0 < v <= 1 for v in thresholds.fail_under.values())
