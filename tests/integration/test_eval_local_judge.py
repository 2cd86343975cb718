"""The real local judge (Qwen2.5-Coder-1.5B on llama.cpp, grammar-constrained verdicts) on cases whose
verdict is obvious, and `lore score` with it. Skipped when the model is not installed."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from eval.judge import LLMJudge, faithfulness, make_judge
from eval.scorer import Scorer
from eval.datasets import parse_score_line
from retrieval.settings import DEFAULT_GENERATOR_FILE, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLICY = (
    "Travel policy. International travel must be requested at least 21 days in advance through the travel portal. "
    "Domestic travel must be requested at least 7 days in advance. Economy class is required for flights under 6 hours."
)


@pytest.fixture(scope="module")
def local_settings(tmp_path_factory):
    settings = load_settings(overrides={"home": str(tmp_path_factory.mktemp("home")), "profile": "local"})
    if not (settings.models.dir / DEFAULT_GENERATOR_FILE).is_file():
        pytest.skip("the default generator is not installed: run `lore models install`")
    return settings


@pytest.fixture(scope="module")
def judge(local_settings):
    judge = make_judge(local_settings)
    judge.warm_up()
    return judge


def test_the_local_judge_is_compact_and_cached(judge):
    assert isinstance(judge, LLMJudge) and judge.compact and judge.cache is not None


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("International travel must be requested at least 21 days in advance [1].", 1.0),
        ("Economy class is required for flights under 6 hours [1].", 1.0),
        ("International travel must be requested 2 days in advance [1].", 0.0),
        ("Employees may fly first class to Hawaii every year [1].", 0.0),
    ],
)
def test_obvious_verdicts(judge, answer, expected):
    result = faithfulness(judge, [POLICY], answer)
    assert result.score == expected, result.claims
    # llama.cpp exposes the verdict's probability: a real number, on the verdict's side of 1/2
    assert result.soft_score is not None and 0.0 < result.soft_score < 1.0
    assert (result.soft_score > 0.5) == (expected == 1.0), result.claims


def test_mixed_answer_scores_in_between_and_cache_repeats_it(judge):
    answer = "Domestic travel must be requested at least 7 days in advance. The company pays for a yacht for every employee."
    first = faithfulness(judge, [POLICY], answer)
    hits = judge.stats.cache_hits
    again = faithfulness(judge, [POLICY], answer)
    assert first.score == again.score == 0.5
    assert judge.stats.cache_hits == hits + 2


def test_scorer_with_the_real_judge_has_no_nulls(judge):
    line = json.dumps({"id": "a", "question": "How early must international travel be requested?", "contexts": [POLICY],
                       "answer": "International travel must be requested at least 21 days in advance [1]."})
    out = Scorer(judge, raise_exceptions=True).score(parse_score_line(line, 1))
    assert out.scores["faithfulness"] == 1.0
    assert out.scores["citation_validity"] == 1.0
    assert out.scores["answer_relevancy"] in (0.5, 1.0)


def test_lore_score_cli_with_the_local_judge(local_settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LORE_HOME", str(local_settings.home))  # shares the judge cache filled above
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x", "question": "q", "contexts": [POLICY],
                               "answer": "Domestic travel must be requested at least 7 days in advance."}) + "\n")
    assert main(["score", str(src), "--json", "--profile", "local", "--faithfulness", "judge"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["scores"]["faithfulness"] == 1.0


def test_the_llm_likelihood_marks_the_changed_figure_and_reuses_the_passage(judge):
    """The real model's token log-probabilities (llama.cpp, one pass, logits of every answer token): the
    answer whose figure the passage does not hold has the weakest token, and it is that figure."""
    from eval.likelihood import features, token_scores_many

    model = judge.model
    faithful, changed = (
        "International travel must be requested at least 21 days in advance.",
        "International travel must be requested at least 45 days in advance.",
    )
    scored = token_scores_many(model, [([POLICY], faithful), ([POLICY], changed)])
    good, bad = features(scored[0]), features(scored[1])
    assert bad["lm_min_pmi"] < good["lm_min_pmi"] - 1.0, (good, bad)
    assert min(scored[1], key=lambda t: t["pmi"])["token"].strip() in ("4", "45")  # Qwen reads a figure digit by digit
    # the same text after the same passage: the same scores whether or not the passage was just read
    assert model.text_logprobs("Document:\n" + POLICY + "\n\nAn answer:\n", faithful) == model.text_logprobs("Document:\n" + POLICY + "\n\nAn answer:\n", faithful)
