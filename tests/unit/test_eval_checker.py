"""The consistency checker: a tiny one trained in seconds separates a planted contradiction; the
calibrated score, evidence, fallbacks and the rules that make training pairs."""

from __future__ import annotations

import random
import re

import pytest

from eval.checker import ConsistencyChecker, Stack, evidence_sentence, features, word_overlap
from eval.checker_data import (
    Passage, antonym, change_date, change_number, data_hash, flip_negation, make_pairs, swap_pair, windows,
)
from eval.checker_data import Pair

pytestmark = pytest.mark.unit

SUBJECTS = ["The plant in Ohio", "Our Dublin office", "The retail segment", "The Austin team", "The new warehouse", "The legal department",
            "The cloud division", "The Berlin lab"]
VERBS = [("produced", "engines"), ("shipped", "units"), ("hired", "engineers"), ("opened", "stores"), ("sold", "licenses"), ("closed", "sites")]
MONTHS = ["March", "June", "October", "January"]


def planted(rng: random.Random, subject: str) -> tuple[str, str, str]:
    verb, noun = rng.choice(VERBS)
    fact = f"{subject} {verb} {rng.randint(20, 900)} {noun} in {rng.choice(MONTHS)}."
    filler = f"{subject} is managed by a team of {rng.randint(3, 40)} people."
    premise = f"{fact} {filler}" if rng.random() < 0.5 else f"{filler} {fact}"
    return premise, fact, fact.replace(f" {verb} ", f" did not {verb.replace('ed', '') if verb.endswith('ed') else verb} ", 1)


def wrong_figure(fact: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 7), fact, count=1)


def training_pairs(subjects, rng) -> list[Pair]:
    pairs = []
    for subject in subjects:
        for _ in range(2):
            premise, fact, negated = planted(rng, subject)
            changed = wrong_figure(fact)
            pairs += [Pair(premise, fact, 1, "copy", "test"), Pair(premise, negated, 0, "negation", "test"),
                      Pair(premise, changed, 0, "number", "test")]
    return pairs


@pytest.fixture(scope="module")
def tiny_checker(tmp_path_factory):
    """The shipped kind of checker (a head on frozen MiniLM features), fitted on 36 templated pairs."""
    pytest.importorskip("sentence_transformers")
    from eval.checker_features import SentenceVectors, fit_head, pair_features

    vectors = SentenceVectors(threads=1)
    pairs = training_pairs(SUBJECTS[:6], random.Random(0))
    head = fit_head(pair_features([(p.premise, p.claim) for p in pairs], vectors), [p.label for p in pairs])
    checker = ConsistencyChecker(tmp_path_factory.mktemp("checker"))
    checker.attach_head(head, vectors, {"window_words": 100, "windows_per_claim": 1, "data_hash": "tiny"})
    return checker


def test_tiny_checker_separates_a_planted_contradiction(tiny_checker):
    rng = random.Random(99)
    for subject in SUBJECTS[6:]:  # subjects never seen in training
        premise, fact, negated = planted(rng, subject)
        changed = wrong_figure(fact)
        supported, contradicted, bad_figure = tiny_checker.probabilities([(premise, fact), (premise, negated), (premise, changed)])
        assert supported > 0.5 > contradicted and supported > 0.5 > bad_figure, (fact, supported, contradicted, bad_figure)


@pytest.mark.slow
def test_cross_encoder_trainer_learns_a_planted_contradiction(tmp_path):
    """The alternative model (eval.train_checker --compare-cross): a cross-encoder from the packaged MiniLM."""
    pytest.importorskip("torch")
    from eval.train_checker import base_model, train

    pairs = training_pairs(SUBJECTS[:4], random.Random(0))
    model, tokenizer = base_model(seed=0)
    train(model, tokenizer, pairs, lr=1e-4, seed=0, max_length=64, batch_size=8, epochs=4)
    checker = ConsistencyChecker(tmp_path)
    checker.attach(model, tokenizer, {"max_length": 64})
    premise, fact, negated = planted(random.Random(5), SUBJECTS[7])
    supported, contradicted = checker.probabilities([(premise, fact), (premise, negated)])
    assert supported > contradicted


def test_answer_score_keeps_claims_and_evidence(tiny_checker):
    premise = "The Berlin lab hired 42 engineers in June. The Berlin lab is managed by a team of 7 people."
    result = tiny_checker.faithfulness([premise], "The Berlin lab hired 42 engineers in June. [1]")
    assert 0.0 <= result.score <= 1.0
    (claim,) = result.claims
    assert claim["claim"] == "The Berlin lab hired 42 engineers in June."
    assert claim["evidence"] == "The Berlin lab hired 42 engineers in June."
    verdicts = tiny_checker.assess(["The Berlin lab hired 42 engineers in June."], premise)
    assert len(verdicts) == 1 and 0.0 <= verdicts[0].p <= 1.0


def test_stack_is_a_logistic_model_over_named_features():
    stack = Stack(("min_logit", "judge_share"), (1.0, 2.0), -1.0)
    assert stack.probability({"min_logit": 1.0, "judge_share": 0.0}) == pytest.approx(0.5)
    assert stack.probability({"min_logit": 3.0, "judge_share": 1.0}) > 0.98
    assert Stack.from_json(stack.to_json()) == stack


def test_features_take_the_weakest_claim_and_the_judge_when_given():
    from eval.judge import JudgeResult

    values = features([0.9, 0.1], JudgeResult(0.5, [], soft_score=0.6), ["a b c"], "a b d")
    assert values["min_logit"] < 0 < values["mean_logit"] + 3
    assert values["judge_share"] == 0.5 and values["judge_logit"] > 0
    assert values["overlap"] == pytest.approx(2 / 3)
    assert "judge_logit" not in features([0.9])


def test_evidence_is_the_sentence_sharing_most_words():
    window = "Revenue rose to $5 million. The board met twice. Costs fell by 3 percent."
    assert evidence_sentence("Costs fell by 3 percent in the year.", window) == "Costs fell by 3 percent."


def test_word_overlap():
    assert word_overlap(["the cat sat"], "the cat ran") == pytest.approx(2 / 3)
    assert word_overlap([], "") == 0.0


@pytest.mark.parametrize(
    "rule, claim, must_differ",
    [
        (change_number, "Revenue was $4,512 million in the quarter.", "4,512"),
        (change_date, "The agreement was signed in March 2023.", "March"),
        (flip_negation, "The company did not renew the lease.", "not"),
        (flip_negation, "The company will renew the lease.", None),
        (antonym, "Operating costs increased in the quarter.", "increased"),
        (swap_pair, "In the deal, Apple paid Intel 40 dollars.", None),
    ],
)
def test_error_rules_change_the_claim(rule, claim, must_differ):
    new = rule(claim, random.Random(1), ["Microsoft", "Amazon"])
    assert new and new != claim
    if must_differ:
        assert must_differ not in new or new.count(must_differ) != claim.count(must_differ)


def test_pairs_are_balanced_deterministic_and_hashed():
    text = ("Apple reported revenue of $81,797 million for the quarter ended July 1, 2023. Services revenue increased to $21,213 million. "
            "The company returned $24 billion to shareholders during the quarter. Greater China sales declined due to weaker currencies.")
    passages = [Passage(text, "sec10q", "AAPL:results", "2023 Q3 AAPL.pdf"),
                Passage(text.replace("81,797", "94,836").replace("July 1", "April 1"), "sec10q", "AAPL:results", "2023 Q2 AAPL.pdf")]
    first, second = make_pairs(passages, seed=3), make_pairs(passages, seed=3)
    assert first == second and data_hash(first) == data_hash(second)
    assert sum(p.label for p in first) * 2 == len(first)
    assert all(p.claim != p.premise for p in first if p.label == 0)


def test_windows_cover_the_text_with_overlap():
    text = " ".join(f"Sentence number {i} has six words." for i in range(60))
    parts = windows(text, 50)
    assert len(parts) > 1 and all(len(p.split()) <= 50 for p in parts)
    assert "Sentence number 59" in parts[-1] and "Sentence number 0 " in parts[0]
