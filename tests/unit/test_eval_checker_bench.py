"""The checker benchmark's pieces: the shipped answer-style set follows its labelling rule, and
leave-one-domain-out never fits on the domain it measures."""

from __future__ import annotations

import random

import pytest

from eval.bench.answer_style import load_answer_set
from eval.bench.checker import lodo
from eval.checker_features import ANSWER_KINDS
from eval.metrics import split_sentences, strip_markers

pytestmark = pytest.mark.unit


def test_answer_style_set_follows_its_labelling_rule():
    items = load_answer_set()
    assert {i["split"] for i in items} == {"dev", "test"}
    assert {i["label"] for i in items} == {0, 1}
    assert all(i["source"].endswith("NVDA.pdf") and len(i["contexts"]) == 3 for i in items)
    for item in items:
        sentences = [strip_markers(s) for s in split_sentences(item["answer"])]
        verbatim = [s in item["contexts"][0] for s in sentences]
        if item["label"] == 0:  # one sentence carries an error: never all copied from the passage
            assert item["rule"] != "faithful" and not all(verbatim)
        else:
            assert item["rule"] == "faithful"
    dev_sources = {i["source"] for i in items if i["split"] == "dev"}
    assert dev_sources.isdisjoint({i["source"] for i in items if i["split"] == "test"})


def test_leave_one_domain_out_measures_only_the_test_half_of_an_unseen_domain():
    rng = random.Random(0)
    rows = []
    for domain in ("a", "b", "c", "d"):
        for half in ("tune", "test"):
            for n in range(20):
                label = n % 2
                signal = 1.5 if domain != "c" else -1.5  # domain c runs the other way: a fit on it would show
                rows.append({"id": f"{domain}{half}{n}", "domain": domain, "half": half, "label": label,
                             "min_logit": signal * (label - 0.5) + rng.gauss(0, 0.3), "mean_logit": rng.gauss(0, 1),
                             **dict.fromkeys(ANSWER_KINDS, 0.0)})
    out = lodo(rows)
    assert set(out["domains"]) == {"a", "b", "c", "d"} and out["n_test"] == 80
    assert out["domains"]["a"]["auroc"] > 0.9
    assert out["domains"]["c"]["auroc"] < 0.1  # fitted on a, b and d only: it cannot have learnt c's direction


def test_likelihood_cache_scores_once_and_reads_back(tmp_path):
    from eval.bench.checker import LikelihoodCache
    from retrieval.generators import FakeChatModel

    items = [(("Tom bought milk on Monday.",), "Tom bought milk."), (("Tom bought milk on Monday.",), "Tom bought gold bars.")]
    cache = LikelihoodCache(tmp_path / "lm.jsonl", FakeChatModel())
    first = cache.features(items, "answer")
    assert cache.computed == 2 and first[0]["lm_min_pmi"] > first[1]["lm_min_pmi"]
    again = LikelihoodCache(tmp_path / "lm.jsonl", FakeChatModel())
    assert again.features(items, "answer") == first and again.computed == 0
