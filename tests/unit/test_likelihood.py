"""The LLM likelihood features: token scores read each set of passages once, the minima skip the first
token, passages are cut to the model's window, and a backend that cannot score text gives None."""

from __future__ import annotations

import pytest

from eval.likelihood import features, fit_context, likelihood, prompts, token_scores_many
from retrieval.generators import FakeChatModel

pytestmark = pytest.mark.unit


class Recording(FakeChatModel):
    def __init__(self):
        super().__init__()
        self.prefixes: list[str] = []

    def text_logprobs(self, prefix, text):
        self.prefixes.append(prefix)
        return super().text_logprobs(prefix, text)


def test_each_set_of_passages_is_read_once_for_all_its_answers():
    model = Recording()
    a, b = ("Tom bought milk.",), ("Ann sold a car.",)
    items = [(a, "Tom bought milk."), (b, "Ann sold a car."), (a, "Tom bought gold."), (b, "Ann sold a boat.")]
    scored = token_scores_many(model, items, "answer")
    pa, pb, alone = prompts(a)[0], prompts(b)[0], prompts(())[1]
    assert model.prefixes == [pa, pa, pb, pb, alone, alone, alone, alone]
    assert features(scored[0])["lm_min_pmi"] > features(scored[2])["lm_min_pmi"]  # "gold." is not in the passage


def test_minima_leave_out_the_first_token():
    tokens = [{"token": "X", "logprob": -9.0, "pmi": -9.0}, {"token": " a", "logprob": -1.0, "pmi": 1.0}, {"token": " b", "logprob": -2.0, "pmi": 0.5}]
    values = features(tokens)
    assert values["lm_min_pmi"] == 0.5 and values["lm_min_logprob"] == -2.0 and values["lm_mean_logprob"] == -4.0


def test_passages_are_cut_to_the_models_window():
    model = FakeChatModel()
    model.context_window = 100
    kept = fit_context(model, ["word " * 300, "short passage"])
    assert model.count_tokens("\n\n".join(kept)) <= 80 and kept[1] == "short passage"


def test_a_backend_that_cannot_score_text_gives_none():
    class Api(FakeChatModel):
        def text_logprobs(self, prefix, text):
            return None

    assert likelihood(Api(), ["Tom bought milk."], "Tom bought milk.") is None
    assert likelihood(object(), ["Tom bought milk."], "Tom bought milk.") is None
