"""Access control: a user outside a document's groups never retrieves it, is never cited from it and
is never answered from it — through search, ask, chat follow-ups, the CLI and its batch forms."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from retrieval.text import REFUSAL
from retrieval.assistant import build_assistant
from retrieval.generators import DOC_BLOCK, FakeChatModel
from retrieval.schema import ChatMessage
from retrieval.testing import CORPUS, RESTRICTED_SECRET, seed

pytestmark = pytest.mark.unit

QUESTIONS = [
    "What is the Project Falcon acquisition price?",
    "Project Falcon acquisition price board",
    "Falcon",
]


@pytest.fixture
def assistant(test_settings):
    a = build_assistant(test_settings, chat_model=FakeChatModel(reply=_leaky_reply))
    seed(a)
    return a


def _leaky_reply(messages, json_schema=None):
    """A model that repeats every document it was shown: anything restricted in the prompt leaks
    (typed answers: every document becomes a point or a fact)."""
    if json_schema is None:
        return FakeChatModel.default_reply(messages) + " " + messages[-1].content
    form = json.loads(FakeChatModel.default_form(messages, json_schema))
    key = "points" if "points" in json_schema["properties"] else "facts"
    for doc, text in DOC_BLOCK.findall(messages[-1].content):
        item = {"doc": int(doc), "text": text} if key == "points" else {"doc": int(doc), "quote": text, "value": text[:60], "about": ""}
        form.setdefault(key, []).append(item)
    return json.dumps(form)


@pytest.mark.parametrize("question", QUESTIONS)
def test_search_never_returns_restricted_chunks(assistant, question):
    assert [s.chunk.id for s in assistant.search(question, groups=["board"])][:1] == ["falcon-1"]
    for groups in (["all-staff"], ["finance"], ["all-staff", "hr"], []):
        found = assistant.search(question, groups=groups, top_k=20)
        assert all(set(s.chunk.groups) & set(groups) for s in found)
        assert "falcon-1" not in {s.chunk.id for s in found}


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_never_cites_or_answers_from_restricted_chunks(assistant, question):
    tokens: list[str] = []
    answer = assistant.ask(question, user="eve", groups=["all-staff"], top_k=20, on_token=tokens.append)
    assert RESTRICTED_SECRET not in answer.answer and "Falcon" not in "".join(tokens)
    assert all(c.source != "board/falcon.docx" for c in answer.citations)
    assert all("board" not in s.chunk.groups or "all-staff" in s.chunk.groups for s in answer.contexts)
    prompts = "".join(m.content for call in assistant.chat_model.calls for m in call)
    assert RESTRICTED_SECRET not in prompts
    logged = assistant.log.get(answer.interaction_id)
    assert RESTRICTED_SECRET not in json.dumps(logged) and logged["user"] == "eve"


def test_board_member_is_answered_from_the_board_document(assistant):
    answer = assistant.ask(QUESTIONS[0], user="ceo", groups=["board"])
    assert not answer.refused and RESTRICTED_SECRET in answer.answer
    assert answer.citations[0].source == "board/falcon.docx"


def test_follow_up_cannot_reach_restricted_chunks(assistant):
    history = [ChatMessage("user", "How many vacation days do we get?"), ChatMessage("assistant", "25 days [1].")]
    answer = assistant.ask("and what about the Project Falcon acquisition price?", groups=["all-staff"], history=history, top_k=20)
    assert RESTRICTED_SECRET not in answer.answer
    assert "falcon-1" not in {s.chunk.id for s in answer.contexts}


def test_empty_groups_read_nothing(assistant):
    assert assistant.search("vacation days", groups=[]) == []
    answer = assistant.ask("How many vacation days?", groups=[])
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []


def test_stale_lexical_rows_outside_the_groups_are_dropped(assistant):
    """Even if the lexical index carried a wrong group, the chunk's own groups must admit the user."""
    falcon = next(c for c in CORPUS if c.id == "falcon-1")
    from dataclasses import replace

    assistant.lexical.upsert([replace(falcon, groups=("all-staff",))])  # lexical index out of sync
    found = assistant.search("Project Falcon acquisition price", groups=["all-staff"], top_k=20)
    assert "falcon-1" not in {s.chunk.id for s in found}


def _seeded_home(test_settings):
    seed(build_assistant(test_settings))


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", QUESTIONS[0], "--groups", "all-staff", "--json", "--top-k", "20"],
        ["ask", QUESTIONS[0], "--user", "eve", "--json"],
        ["search", QUESTIONS[0], "--groups", "all-staff,finance", "--json", "--top-k", "20"],
    ],
)
def test_cli_entry_points_do_not_leak(test_settings, capsys, argv):
    _seeded_home(test_settings)
    assert main([*argv, "--profile", "test"]) == 0
    out = capsys.readouterr().out
    assert RESTRICTED_SECRET not in out and "falcon" not in out.lower()
    json.loads(out)


def test_cli_batch_forms_apply_per_line_groups(test_settings, capsys, tmp_path):
    _seeded_home(test_settings)
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "text": QUESTIONS[1], "groups": ["all-staff"]}) + "\n"
        + json.dumps({"id": "b", "text": QUESTIONS[1], "groups": ["board"]}) + "\n"
    )
    assert main(["search", "--queries", str(batch), "--profile", "test", "--top-k", "20"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert "falcon-1" not in {r["id"] for r in rows[0]["results"]}
    assert rows[1]["results"][0]["id"] == "falcon-1"
    assert main(["ask", "--questions", str(batch), "--profile", "test"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert RESTRICTED_SECRET not in answers[0]["answer"] and RESTRICTED_SECRET in answers[1]["answer"]


def test_cli_known_user_reads_with_the_groups_of_the_users_file(test_settings, capsys):
    _seeded_home(test_settings)
    test_settings.users_path.write_text("users:\n  ceo: {groups: [board]}\n")
    assert main(["search", QUESTIONS[1], "--user", "ceo", "--json", "--profile", "test"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["id"] == "falcon-1"
    assert main(["search", QUESTIONS[1], "--user", "stranger", "--json", "--profile", "test", "--top-k", "20"]) == 0
    assert "falcon-1" not in {r["id"] for r in json.loads(capsys.readouterr().out)["results"]}


def test_a_copied_document_is_found_once(test_settings):
    """The same file in two folders (or ingested again from another path): its passage is retrieved
    once, not twice side by side, taking the place of another passage and citing the same words twice."""
    from dataclasses import replace

    a = build_assistant(test_settings, chat_model=FakeChatModel())
    leave = next(c for c in CORPUS if c.id == "leave-1")
    leave = replace(leave, file_hash="f00d")  # the file's content hash, as ingestion stores it
    copy = replace(leave, id="leave-copy-1", source="archive/hr/leave-policy.md", doc_id="archive/hr/leave-policy.md")
    seed(a, [*(c for c in CORPUS if c.id != "leave-1"), leave, copy])
    found = [s.chunk.id for s in a.search("How many vacation days do employees get?", groups=["all-staff"], top_k=5)]
    assert len({"leave-1", "leave-copy-1"} & set(found)) == 1
    assert len(found) == len(set(found))
    # a reader who may read only the copy still finds it
    only_copy = replace(copy, id="leave-copy-2", doc_id="hr-only/leave-policy.md", source="hr-only/leave-policy.md", groups=("hr-only",))
    seed(a, [only_copy])
    assert [s.chunk.id for s in a.search("How many vacation days do employees get?", groups=["hr-only"], top_k=5)] == ["leave-copy-2"]
