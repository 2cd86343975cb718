"""The judge: claim splitting, lexical fake verdicts, constrained-reply parsing, cache, factory."""

from __future__ import annotations

import json

import pytest

from eval.cache import JudgeCache
from eval.judge import FakeJudge, JudgeError, LLMJudge, VERIFY_SCHEMA, faithfulness, make_judge, parse_json_reply, sentence_claims
from retrieval.generators import FakeChatModel

pytestmark = pytest.mark.unit

CONTEXT = "Employees receive 25 days of paid vacation per year. Unused vacation days expire on 31 March."


def test_sentence_claims_strip_markers_and_keep_short_answers():
    assert sentence_claims("Vacation is 25 days [1]. It expires in March [2].") == ["Vacation is 25 days.", "It expires in March."]
    assert sentence_claims("Yes [1].") == ["Yes."]
    assert sentence_claims("   ") == []


def test_fake_judge_supported_vs_invented():
    judge = FakeJudge()
    good = faithfulness(judge, [CONTEXT], "Employees receive 25 days of paid vacation [1].")
    bad = faithfulness(judge, [CONTEXT], "Employees get a company car and free lunches in Paris.")
    mixed = faithfulness(judge, [CONTEXT], "Employees receive 25 days of paid vacation. Employees get a company car and lunches.")
    assert good.score == 1.0 and bad.score == 0.0 and mixed.score == 0.5
    assert good.soft_score == 1.0 and 0.0 <= bad.soft_score < 0.6 and [c["p"] >= 0.6 for c in mixed.claims] == [True, False]
    assert [c["supported"] for c in mixed.claims] == [True, False]


def test_no_claims_is_null_not_zero():
    result = faithfulness(FakeJudge(), [CONTEXT], "")
    assert result.score is None and result.error


def test_no_context_means_unsupported():
    assert faithfulness(FakeJudge(), [], "Employees receive 25 days.").score == 0.0


@pytest.mark.parametrize(
    "text, ok",
    [
        ('{"supported": "yes"}', True),
        ('```json\n{"supported": "no"}\n```', True),
        ('{"supported": "maybe"}', False),
        ('{"other": 1}', False),
        ("yes", False),
    ],
)
def test_parse_json_reply(text, ok):
    if ok:
        assert parse_json_reply(text, VERIFY_SCHEMA)["supported"] in ("yes", "no")
    else:
        with pytest.raises(JudgeError):
            parse_json_reply(text, VERIFY_SCHEMA)


def scripted_model(verdict_for):
    """A chat model replying with JSON verdicts decided from the claim in the prompt."""

    def reply(messages):
        prompt = messages[-1].content
        if "Claim:" in prompt:
            claim = prompt.split("Claim:", 1)[1].split("\n", 1)[0]
            return json.dumps({"supported": verdict_for(claim)})
        return json.dumps({"relevant": "yes"})

    return FakeChatModel(reply=reply, name="scripted")


def test_llm_judge_uses_constrained_replies_and_caches(tmp_path):
    model = scripted_model(lambda claim: "yes" if "25" in claim else "no")
    judge = LLMJudge(model, cache=JudgeCache(tmp_path / "cache.sqlite"))
    first = faithfulness(judge, [CONTEXT], "Vacation is 25 days [1]. Vacation is 40 days [1].")
    assert first.score == 0.5
    calls = len(model.calls)
    assert calls == 2 and judge.stats.calls == 2
    again = LLMJudge(model, cache=JudgeCache(tmp_path / "cache.sqlite"))  # a new process: same cache file
    assert faithfulness(again, [CONTEXT], "Vacation is 25 days [1]. Vacation is 40 days [1].").score == 0.5
    assert len(model.calls) == calls and again.stats.cache_hits == 2
    assert judge.relevancy("How long is vacation?", "25 days.") == 1.0


def test_llm_judge_garbage_reply_raises_judge_error():
    judge = LLMJudge(FakeChatModel(reply=lambda m: "I think so", name="garbage"))
    with pytest.raises(JudgeError):
        faithfulness(judge, [CONTEXT], "Vacation is 25 days.")


def test_long_context_is_cut_to_the_window():
    judge = LLMJudge(FakeChatModel(), max_context_tokens=50)
    cut = judge.fit_context("word " * 1000)
    assert cut.endswith("[…]") and len(cut.split()) <= 52


def test_factory(test_settings):
    assert isinstance(make_judge(test_settings), FakeJudge)
    settings = test_settings.model_copy(deep=True)
    settings.eval.judge = "generator"
    judge = make_judge(settings, chat_model=FakeChatModel())
    assert isinstance(judge, LLMJudge) and judge.cache is not None


@pytest.mark.parametrize("text, schema, expected", [("true", {"type": "boolean"}, True), (" false", {"type": "boolean"}, False),
                                                    ('"partly"', {"type": "string", "enum": ["yes", "partly", "no"]}, "partly")])
def test_compact_replies_parse(text, schema, expected):
    assert parse_json_reply(text, schema) == expected


@pytest.mark.parametrize("text", ["tru", '"true"', "1"])
def test_compact_reply_must_be_a_boolean(text):
    with pytest.raises(JudgeError):
        parse_json_reply(text, {"type": "boolean"})


def test_compact_judge_asks_for_one_token_booleans():
    seen = []

    def reply(messages):
        seen.append(messages[-1].content)
        return "true" if "25 days" in messages[-1].content.split("Claim:")[1] else "false"

    model = FakeChatModel(reply=reply)
    judge = LLMJudge(model, compact=True)
    assert faithfulness(judge, [CONTEXT], "Vacation is 25 days. Vacation is 40 days.").score == 0.5
    assert all(p.startswith("<document>") and p.endswith("Reply true or false.") for p in seen)
