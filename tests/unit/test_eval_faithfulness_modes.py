"""What `faithfulness` is: the checker alone, the judge alone, the two stacked, or word overlap when
neither is available; and the monitor scoring with the checker by default, loading no LLM."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from app.cli import main
from eval.checker import CHECKER_DIR, ConsistencyChecker, Stack
from eval.checker_data import overlap
from eval.datasets import ScoreItem
from eval.judge import FakeJudge
from retrieval.generators import FakeChatModel
from eval.scorer import Scorer

pytestmark = pytest.mark.unit

CONTEXT = "Employees receive 25 days of paid vacation per year. Requests go to the HR portal."
GOOD = "Employees receive 25 days of paid vacation per year. [1]"
BAD = "Employees receive 25 days of paid vacation per year. Staff get free yachts in Monaco. [1]"


class LexicalChecker(ConsistencyChecker):
    """The real checker's planning, evidence and stacking, with word overlap standing in for the model."""

    def __init__(self, stacks: dict | None = None):
        super().__init__(path=".", threads=1)
        self.meta = {"data_hash": "lexical0000000", "window_words": 100, "windows_per_claim": 1, "stacks": stacks or {}}

    def warm_up(self) -> None:
        pass

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [min(0.99, max(0.01, overlap(claim, premise))) for premise, claim in pairs]


def item(answer: str) -> ScoreItem:
    return ScoreItem(id="x", question="How much vacation?", contexts=(CONTEXT,), answer=answer, refused=False)


def test_checker_mode_scores_without_a_judge_and_keeps_evidence():
    scorer = Scorer(None, checker=LexicalChecker(), mode="checker")
    good, bad = scorer.score(item(GOOD)), scorer.score(item(BAD))
    assert good.scores["faithfulness"] > 0.9 > 0.3 > bad.scores["faithfulness"]
    claims = bad.detail["faithfulness"]["claims"]
    assert [c["supported"] for c in claims] == [True, False]
    assert claims[0]["evidence"] == "Employees receive 25 days of paid vacation per year."
    assert "answer_relevancy" not in good.scores  # no LLM: no relevancy
    assert good.scores["citation_validity"] == 1.0 and bad.scores["citation_validity"] == 0.0  # the checker verifies citations
    assert scorer.name == "checker:lexical00000"


def test_combined_mode_stacks_the_checker_with_the_judge():
    stacks = {"checker": Stack(("min_logit",), (1.0,), 0.0).to_json(),
              "combined": Stack(("min_logit", "judge_share"), (0.5, 4.0), -2.0).to_json()}
    scorer = Scorer(FakeJudge(), checker=LexicalChecker(stacks), mode="combined", relevancy=False)
    result = scorer.score(item(BAD))
    claims = result.detail["faithfulness"]["claims"]
    assert [c["judge_supported"] for c in claims] == [True, False]
    assert 0.0 < result.scores["faithfulness"] < 0.5
    assert scorer.name == "checker:lexical00000+fake"


def test_combined_stack_on_the_llm_likelihood_reads_the_model_and_writes_no_verdicts():
    class ModelJudge(FakeJudge):
        model = FakeChatModel()

    stacks = {"checker": Stack(("min_logit",), (1.0,), 0.0).to_json(),
              "combined": Stack(("min_logit", "lm_min_pmi"), (0.5, 1.0), -2.0).to_json()}
    judge = ModelJudge()
    scorer = Scorer(judge, checker=LexicalChecker(stacks), mode="combined", relevancy=False, citation_check=False)
    good, bad = scorer.score(item(GOOD)), scorer.score(item(BAD))
    assert judge.stats.calls == 0  # no verdicts asked for
    assert good.scores["faithfulness"] > 0.5 > bad.scores["faithfulness"]
    weakest = bad.detail["faithfulness"]["weakest_tokens"]
    assert {t["token"].strip() for t in weakest} & {"yachts", "Monaco.", "free"}


@pytest.mark.parametrize("mode, expected", [("judge", 0.5), ("combined", 0.5), ("checker", None)])
def test_without_a_checker_the_judge_or_word_overlap_scores(mode, expected):
    judge = None if mode == "checker" else FakeJudge()
    result = Scorer(judge, checker=None, mode=mode, relevancy=False).score(item(BAD))
    if expected is None:  # word overlap: share of the answer's words in the contexts
        assert 0.5 < result.scores["faithfulness"] < 1.0
    else:
        assert result.scores["faithfulness"] == expected


def test_score_without_a_trained_checker_says_how_to_train_it(lore_home, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LORE_MODELS__DIR", str(tmp_path / "models"))
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "question": "q", "contexts": [CONTEXT], "answer": GOOD}) + "\n")
    assert main(["score", str(src), "--profile", "test", "--faithfulness", "checker", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"]["faithfulness"] == 1.0
    assert main(["score", str(src), "--profile", "test", "--faithfulness", "checker"]) == 0
    err = capsys.readouterr().err
    assert "python -m eval.train_checker" in err and "word overlap" in err


def test_incomplete_checker_directory_is_not_trained(tmp_path):
    (tmp_path / CHECKER_DIR).mkdir()
    with pytest.raises(Exception, match="eval.train_checker"):
        ConsistencyChecker.from_models_dir(tmp_path)


def test_monitor_scores_with_the_checker_by_default_and_falls_back_to_overlap(lore_home, tmp_path, capsys, monkeypatch):
    from retrieval.assistant import build_assistant
    from retrieval.interactions import InteractionLog
    from retrieval.settings import load_settings
    from retrieval.testing import seed

    monkeypatch.setenv("LORE_EVAL__MONITOR_NICE", "0")
    monkeypatch.setenv("LORE_MODELS__DIR", str(tmp_path / "models"))  # no checker trained here
    monkeypatch.setenv("LORE_EVAL__MONITOR_FAITHFULNESS", "checker")  # the default outside the test profile
    monkeypatch.setenv("LORE_EVAL__JUDGE", "openai")  # would fail to load: proves no judge is built
    settings = load_settings(overrides={"profile": "test"})
    assistant = build_assistant(settings)
    seed(assistant)
    assistant.ask("How many days of paid vacation do employees get?", groups=["all-staff"])
    assert main(["monitor", "--profile", "test", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scored"] == 1
    assert "python -m eval.train_checker" in captured.err
    (score,) = InteractionLog(settings.interactions_db).scores("faithfulness")
    assert score["judge"] == "word-overlap" and 0.0 <= score["value"] <= 1.0
