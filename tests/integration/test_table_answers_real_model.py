"""Typed answers from tables, with real parts: a CSV, an Excel sheet and a 10-Q PDF table ingested by
the real pipeline, answered by the default GGUF under the answer form's grammar. The value must be
the table's, stated with a citation to the file it came from, and present in the cited passage."""

from __future__ import annotations

import re
import shutil

import pytest

from retrieval.facts import amount_in, quantities
from tests.conftest import SAMPLE_DATA

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILES = ("operations/meeting-rooms.csv", "operations/equipment-and-offices.xlsx", "finance/2023-Q1-NVDA-10Q.pdf")

CASES = [
    ("How many people does the Thames meeting room hold?", "operations/meeting-rooms.csv", r"\b14\b"),
    ("How many desks does the Berlin office have?", "operations/equipment-and-offices.xlsx", r"\b85\b"),
    ("What was NVIDIA's revenue for the first quarter of fiscal year 2024?", "finance/2023-Q1-NVDA-10Q.pdf", r"7,192|7\.19"),
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant
    from retrieval.models import resolve_local
    from retrieval.settings import load_settings

    root = tmp_path_factory.mktemp("tables")
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DATA / "sample" / rel, root / rel)
    settings = load_settings(overrides={"home": str(tmp_path_factory.mktemp("home")), "retrieval": {"answer_mode": "structured"}})
    if resolve_local(settings.models.generator.model, settings.models.dir, "generator") is None:
        pytest.skip("the default GGUF is not installed: run `lore models install`")
    report = Ingestor(settings).run([root])
    assert not report.failed and report.chunks > 0
    a = build_assistant(settings)
    a.warm_up()
    return a


@pytest.mark.parametrize(("question", "source", "value"), CASES, ids=["csv", "xlsx", "pdf"])
def test_a_table_value_is_answered_checked_and_cited(assistant, question, source, value):
    answer = assistant.ask(question, groups=["all-staff"])
    assert not answer.refused, answer.details.get("reason")
    assert answer.kind == "number"
    assert re.search(value, answer.answer), answer.answer
    assert answer.citations and answer.citations[0].source == source
    assert re.search(r"\[1\]", answer.answer), "the value carries its marker"
    by_id = {s.chunk.id: s.chunk.text for s in answer.contexts}
    cited = " ".join(by_id.get(c.chunk_id, c.text) for c in answer.citations)
    for stated in quantities(re.sub(r"\[\d+\]", "", answer.answer)):
        assert amount_in(stated, cited), f"{stated.text} is not in the cited passage"
