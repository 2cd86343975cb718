"""The passage ranker: its features say where the asked thing is, the shipped weights load and put the
passage holding the asked figure first, and typed answers read the ranker's order when it is on."""

from __future__ import annotations

import json

import pytest

from retrieval.assistant import build_assistant
from retrieval.errors import ConfigError
from retrieval.generators import FakeChatModel
from retrieval.lexical import stem
from retrieval.passage_ranker import DEFAULT_WEIGHTS, FEATURES, PassageRanker, Query, features
from retrieval.schema import Chunk, ScoredChunk
from retrieval.testing import CORPUS, seed

pytestmark = pytest.mark.unit

WEIGHTS = {stem("operating"): 2.0, stem("cash"): 1.5, stem("flow"): 1.0}  # as term_weights keys them
PROSE = Chunk(id="prose", text="[q3 › Liquidity]\nOur operating plans depend on cash. We review liquidity every quarter.",
              source="q3.pdf", doc_id="q3.pdf", section="Liquidity", chunk_index=80)
TABLE = Chunk(id="table", text="[q3 › Cash flows]\n| (In millions) | 2023 | 2022 |\n| --- | --- | --- |\n"
              "| Net cash from operating activities | 28,560 | 24,977 |\n| Capital expenditures | (2,093) | (2,514) |",
              source="q3.pdf", doc_id="q3.pdf", section="Cash flows", chunk_index=12)


def column(rows, name):
    return [row[FEATURES.index(name)] for row in rows]


def test_features_tell_the_row_naming_the_topic_from_prose_using_its_words():
    candidates = [ScoredChunk(PROSE, 0.03, dense_score=0.55, lexical_score=9.0), ScoredChunk(TABLE, 0.0, dense_score=0.41)]
    rows = features(Query(WEIGHTS, figures=True), candidates, [1, None])
    assert all(len(row) == len(FEATURES) for row in rows)
    # "operating" and "cash" name the row; "net" says nothing of it (focus.ROW_FILLER; "activities" frames, focus.FRAMING)
    assert column(rows, "row") == [0.0, pytest.approx((2.0 + 1.5) / 4.5)]
    assert column(rows, "table") == [0.0, 1.0] and column(rows, "figures_x_table") == [0.0, 1.0]
    assert column(rows, "unranked") == [0.0, 1.0] and column(rows, "fused_rank")[1] == 1.0
    assert column(rows, "lexical") == [1.0, 0.0]
    assert column(rows, "row_top") == [0.0, 1.0]
    assert column(rows, "dense_gap") == [0.0, pytest.approx(0.41 - 0.55)]
    prose_only = features(Query(WEIGHTS, figures=False), candidates, [1, None])
    assert column(prose_only, "figures_x_row") == [0.0, 0.0]


def test_the_shipped_weights_load_and_put_the_row_holding_the_asked_figure_first():
    ranker = PassageRanker.load(DEFAULT_WEIGHTS)
    trained = json.loads(DEFAULT_WEIGHTS.read_text())["trained"]
    assert trained["split"] == "dev"  # fitted on the development half only
    ranked = ranker.rank(Query(WEIGHTS, figures=True),
                         [ScoredChunk(PROSE, 0.03, dense_score=0.55, lexical_score=9.0), ScoredChunk(TABLE, 0.0, dense_score=0.5)], [1, None])
    assert [s.chunk.id for s in ranked] == ["table", "prose"]


def test_weights_for_other_features_are_refused_with_the_command_that_retrains(tmp_path):
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps({"features": ["bias"], "weights": [0.0]}))
    with pytest.raises(ConfigError, match="eval.train_ranker"):
        PassageRanker.load(path)
    with pytest.raises(ConfigError, match="eval.train_ranker"):  # missing: one line that names the fix, not a traceback
        PassageRanker.load(tmp_path / "absent.json")


def test_typed_answers_read_the_passages_in_the_rankers_order(test_settings):
    prompts = []

    def reply(messages, json_schema=None):
        prompts.append(messages[-1].content)
        return json.dumps({"not_found": True})

    retrieval = test_settings.retrieval.model_copy(update={"passage_ranker": "learned"})
    assistant = build_assistant(test_settings.model_copy(update={"retrieval": retrieval}), chat_model=FakeChatModel(reply=reply))
    table = Chunk(id="table", text=TABLE.text, source="reports/q3.pdf", doc_id="reports/q3.pdf", section="Cash flows",
                  groups=("all-staff",))
    prose = Chunk(id="prose", text=PROSE.text + " Operating cash flow matters to our plans.", source="reports/q3.pdf",
                  doc_id="reports/q3.pdf", section="Liquidity", groups=("all-staff",))
    seed(assistant, [*CORPUS, prose, table])
    assert assistant.passage_ranker is not None
    assistant.ask("What was the net cash from operating activities?", user="u", groups=["all-staff"])
    assert prompts and "28,560" in prompts[-1]
    assert prompts[-1].index("28,560") < prompts[-1].find("Our operating plans") or "Our operating plans" not in prompts[-1]
