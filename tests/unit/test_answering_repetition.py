"""A reply that loops is cut after its first round, the model is stopped at once, and the answer says
so ("stopped": "repetition") — in free-text and typed answers."""

from __future__ import annotations

import json

import pytest

from retrieval.answering import repeated_tail
from retrieval.assistant import build_assistant
from retrieval.generators import FakeChatModel
from retrieval.testing import seed

pytestmark = pytest.mark.unit

LOOP = "HR-related questions [1] - Legal-related questions - "


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Categories: " + LOOP * 6, "Categories: " + LOOP),
        ("Steps:\n1. Apply early\n2. Apply early\n3. Apply early\n", "Steps:\n1. Apply early\n"),
        ("Net sales were $82,959 million, $81,797 million, $94,836 million, $91,123 million.", None),
        ("| Products | 1,234 | 2,345 |\n| Services | 3,456 | 4,567 |\n| Total | 5,678 | 6,789 |\n", None),
        ("Travel must be booked 21 days ahead. " * 2, None),  # twice is not a loop
    ],
)
def test_a_loop_is_found_and_cut_after_its_first_round(text, kept):
    cut = repeated_tail(text)
    assert (text[:cut] if cut is not None else None) == kept


class CountingFake(FakeChatModel):
    """Counts the words it actually streamed: a stopped model streams far fewer than it was given."""

    def __init__(self, reply):
        super().__init__(reply=reply)
        self.streamed = 0

    def stream(self, messages, **kwargs):
        inner = super().stream(messages, **kwargs)
        deltas = inner._deltas

        def counted():
            for delta in deltas:
                self.streamed += 1
                yield delta

        inner._deltas = counted()
        return inner


def test_free_text_loop_is_stopped_and_flagged(test_settings):
    looping = "Questions go to: " + LOOP * 60
    model = CountingFake(lambda messages: looping)
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"answer_mode": "text", "answer_tokens": 2000})})
    assistant = build_assistant(settings, chat_model=model)
    seed(assistant)
    answer = assistant.ask("How many days of paid vacation do employees receive per year?", groups=["all-staff"])
    assert answer.to_json(details=True)["stopped"] == "repetition"
    assert answer.answer.count("Legal-related questions") == 1
    assert model.streamed < len(looping.split()) / 5  # stopped early, not at the token limit
    assert assistant.log.get(answer.interaction_id)["answer"] == answer.answer


def test_typed_answer_loop_keeps_what_came_before_it(test_settings):
    def reply(messages, json_schema=None):
        first = {"doc": 1, "text": "Employees receive 25 days of paid vacation per year."}
        return '{"points": [' + json.dumps(first) + ', {"doc": 1, "text": "' + "Vacation rules apply here. " * 80 + '"}]}'

    model = CountingFake(reply)
    assistant = build_assistant(test_settings, chat_model=model)
    seed(assistant)
    answer = assistant.ask("Why do employees receive paid vacation days?", groups=["all-staff"])
    assert answer.to_json(details=True)["stopped"] == "repetition"
    assert not answer.refused and "25 days" in answer.answer and "Vacation rules apply" not in answer.answer
    assert model.streamed < 80
