"""The Streamlit app through AppTest, on the test profile (fake generator, hash embedder): a chat turn
with citations, refusal, follow-up, feedback, history across sessions, access control, admin pages,
uploads, and errors shown as messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth import UsersFile
from retrieval.interactions import InteractionLog
from retrieval.schema import Chunk

pytestmark = pytest.mark.unit
streamlit_testing = pytest.importorskip("streamlit.testing.v1")

SCRIPT = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")
PASSWORD = "correct horse battery"
TRAVEL_Q = "How many days in advance must international travel be requested?"
BUDGET_Q = "What is the finance budget for 2025?"
NONSENSE_Q = "Which zebra painted the moon purple?"

DOCS = [
    ("travel.pdf", 3, "Travel", ("all-staff",), "International travel must be requested 21 days in advance. Requests are approved by the line manager."),
    ("budget.xlsx", "Budget", "Totals", ("finance",), "The finance budget for 2025 is 4 million euros. It was approved by the board in March."),
    ("allhands.pptx", 2, "Meetings", ("all-staff",), "The quarterly all-hands meeting happens on the first Monday. Slides are shared afterwards."),
]


@pytest.fixture
def app_home(test_settings, monkeypatch, tmp_path):
    """LORE_HOME with three chunks (two for all-staff, one for finance), their files, and users."""
    from retrieval.assistant import build_assistant

    monkeypatch.setenv("LORE_PROFILE", "test")
    files = tmp_path / "files"
    files.mkdir()
    chunks = []
    for i, (name, page, section, groups, text) in enumerate(DOCS):
        path = files / name
        path.write_bytes(b"%PDF-1.4 test\n" if name.endswith(".pdf") else b"PK\x03\x04test")
        chunks.append(Chunk(id=f"chunk-{i}", text=text, source=name, doc_id=f"doc-{i}", page=page, section=section, groups=groups, path=str(path)))
    assistant = build_assistant(test_settings)
    assistant.index.upsert(chunks, assistant.embedder.embed_documents([c.text for c in chunks]))
    users = UsersFile(test_settings.users_path)
    users.add("alice", ("all-staff",), PASSWORD, rounds=4)
    users.add("bob", ("all-staff", "finance"), PASSWORD, rounds=4)
    users.add("root", ("admin", "all-staff"), PASSWORD, rounds=4)
    return test_settings


def app_as(user: str | None):
    at = streamlit_testing.AppTest.from_file(SCRIPT, default_timeout=60)
    if user:
        at.session_state["lore_login_user"] = user
    return at.run()


def ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_login_form_checks_the_password(app_home):
    at = app_as(None)
    assert not at.chat_input, "the chat must not be reachable before logging in"
    at.text_input[0].input("alice")
    at.text_input[1].input("wrong password!")
    at.button[0].click().run()
    assert any("wrong password" in e for e in texts(at.error))
    assert not at.chat_input
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.chat_input, "a correct password opens the chat"
    assert any("alice" in c for c in texts(at.sidebar.caption))


def test_repeated_wrong_passwords_lock_the_form(app_home):
    at = app_as(None)
    for _ in range(5):
        at.text_input[0].input("alice")
        at.text_input[1].input("wrong password!")
        at.button[0].click().run()
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert any("Too many failed attempts" in e for e in texts(at.error)) and not at.chat_input


def test_every_run_checks_the_sign_in_again(app_home):
    """The entry script (sign-in, admin check) runs before the page on every rerun, not only the first."""
    assert not (Path(SCRIPT).parent / "pages").exists(), "a pages/ folder makes Streamlit run pages without the entry script"
    at = app_as("bob")
    assert at.chat_input
    UsersFile(app_home.users_path).remove("bob")
    at.run()
    assert not at.chat_input and at.text_input[0].label == "User name"


def test_anonymous_use_only_when_enabled(app_home, monkeypatch):
    assert not app_as(None).chat_input
    monkeypatch.setenv("LORE_APP__ALLOW_ANONYMOUS", "true")
    at = ask(app_as(None), TRAVEL_Q)
    assert any("21 days" in m for m in texts(at.markdown))
    entry = InteractionLog(app_home.interactions_db).recent(1)[0]
    assert entry["user"] == "anonymous" and entry["groups"] == ["all-staff"] and entry["channel"] == "app"


def test_chat_turn_shows_answer_with_expandable_citation(app_home):
    at = ask(app_as("alice"), TRAVEL_Q)
    assert any("21 days in advance. [1]" in m for m in texts(at.markdown))
    labels = [e.label for e in at.expander]
    assert "[1] travel.pdf · page 3 · Travel" in labels
    passage = at.expander[labels.index("[1] travel.pdf · page 3 · Travel")]
    assert any("approved by the line manager" in m.value for m in passage.markdown)
    assert [b.label for b in passage.get("download_button")] == ["Download travel.pdf"]
    assert not at.warning and not at.error


def test_refusal_is_shown_as_not_found(app_home):
    at = ask(app_as("alice"), NONSENSE_Q)
    assert any("Not found in the documents" in w for w in texts(at.warning))
    assert not at.expander, "a refusal cites nothing"


def test_access_filter_follows_the_logged_in_user(app_home):
    at = ask(app_as("alice"), BUDGET_Q)  # alice is not in finance
    assert any("Not found in the documents" in w for w in texts(at.warning))
    assert not any("budget.xlsx" in e.label for e in at.expander)
    at = ask(app_as("bob"), BUDGET_Q)
    assert any("4 million euros" in m for m in texts(at.markdown))
    assert any(e.label.startswith("[1] budget.xlsx · sheet Budget") for e in at.expander)
    logged = InteractionLog(app_home.interactions_db).recent(2)
    assert {(r["user"], tuple(r["groups"])) for r in logged} == {("alice", ("all-staff",)), ("bob", ("all-staff", "finance"))}


def test_follow_up_question_uses_the_conversation(app_home):
    at = ask(app_as("alice"), TRAVEL_Q)
    at = ask(at, "Who approves them?")
    log = InteractionLog(app_home.interactions_db)
    first, second = sorted(log.recent(2), key=lambda r: r["ts"])
    assert first["conversation_id"] == second["conversation_id"]
    # the fake model cannot rewrite the follow-up, so the retriever gets it joined to the previous question
    assert second["query"].startswith(TRAVEL_Q) and "Who approves them?" in second["query"]
    assert len([m for m in at.chat_message if m.name == "user"]) == 2


def test_feedback_is_stored_with_the_interaction(app_home):
    at = ask(app_as("alice"), TRAVEL_Q)
    at.feedback[0].set_value(0).run()  # thumbs down
    [comment] = [t for t in at.text_input if t.label == "Comment (optional)"]
    comment.input("too short").run()
    log = InteractionLog(app_home.interactions_db)
    [row] = log.feedback()
    assert (row["user"], row["rating"], row["comment"]) == ("alice", -1, "too short")
    assert row["interaction_id"] == log.recent(1)[0]["id"]
    assert any("feedback was saved" in c for c in texts(at.caption))


def test_history_is_reloaded_in_a_new_session_for_its_owner_only(app_home):
    ask(app_as("alice"), TRAVEL_Q)
    at = app_as("alice")  # a new browser session (same store, as after a restart)
    titles = [b.label for b in at.sidebar.button if b.key and b.key.startswith("conv-")]
    assert titles == [TRAVEL_Q[:59] + "…"]
    at.sidebar.button(key=next(b.key for b in at.sidebar.button if b.key.startswith("conv-"))).click().run()
    assert TRAVEL_Q in texts(at.markdown)
    assert any(e.label.startswith("[1] travel.pdf") for e in at.expander)
    other = app_as("bob")
    assert not [b for b in other.sidebar.button if b.key and b.key.startswith("conv-")]


def test_admin_pages_are_hidden_from_non_admins(app_home):
    at = app_as("alice")
    for page in ("ingestion", "quality", "settings_view"):  # not registered at all for a non-admin
        with pytest.raises(ValueError, match=r"Known pages: \['[^,]*chat.py'\]"):
            at.switch_page(f"views/{page}.py")
    admin = app_as("root")
    admin.switch_page("views/ingestion.py").run()
    assert "Ingestion" in texts(admin.title)
    admin.switch_page("views/settings_view.py").run()
    assert "Settings" in texts(admin.title)


def test_quality_page_shows_scores_feedback_and_latency(app_home):
    at = ask(app_as("root"), TRAVEL_Q)
    log = InteractionLog(app_home.interactions_db)
    iid = log.recent(1)[0]["id"]
    log.save_score(iid, "faithfulness", 0.25, "fake")
    log.save_feedback(iid, "root", 1, "useful")
    at.switch_page("views/quality.py").run()
    assert not at.exception
    assert any("0.25" in e.label for e in at.expander), "the lowest-scored answer is listed"
    assert any(m.label == "Thumbs up" and m.value == "1" for m in at.metric)
    assert len(at.dataframe) == 2  # feedback list, latency percentiles


def test_upload_rejects_a_bad_type_and_ingests_a_good_one(app_home):
    at = app_as("root")
    at.switch_page("views/ingestion.py").run()
    at.text_input(key="upload_new_source").input("handbook")
    at.selectbox(key="upload_source").select("New source…")
    at.get("file_uploader")[0].set_value(("../../evil.exe", b"MZ\x90\x00", "application/octet-stream"))
    at.button[[b.label for b in at.button].index("Upload and ingest")].click().run()
    assert any("evil.exe: rejected: type .exe is not accepted" in e for e in texts(at.error))
    assert not (app_home.home / "uploads" / "handbook").exists()

    at.text_input(key="upload_new_source").input("handbook")
    at.selectbox(key="upload_source").select("New source…")
    at.get("file_uploader")[0].set_value(("parking rules.md", b"# Parking\n\nStaff park on level 2 of the garage.\n", "text/markdown"))
    at.button[[b.label for b in at.button].index("Upload and ingest")].click().run()
    assert not at.exception and not at.error, texts(at.error)
    saved = app_home.home / "uploads" / "handbook" / "parking rules.md"
    assert saved.is_file() and (saved.parent / "parking rules.md.acl").is_file()
    assert any(m.label == "Added" and m.value == "1" for m in at.metric)


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LORE_MODELS__GENERATOR__KIND": "llama_cpp", "LORE_MODELS__GENERATOR__MODEL": "/nonexistent/missing.gguf"}, "missing.gguf"),
        ({"LORE_STORE__KIND": "http", "LORE_STORE__HOST": "127.0.0.1", "LORE_STORE__PORT": "{port}"}, "Chroma"),
    ],
    ids=["model-missing", "store-down"],
)
def test_unavailable_model_or_store_is_a_message_not_a_traceback(app_home, monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(port=closed_port()))
    at = ask(app_as("alice"), TRAVEL_Q)
    assert not at.exception
    assert at.error and expected.lower() in at.error[0].value.lower(), texts(at.error)
    assert at.chat_input, "the app keeps running"
    monkeypatch.delenv("LORE_STORE__KIND", raising=False)
    for key in env:
        monkeypatch.delenv(key, raising=False)
    at = ask(at, TRAVEL_Q)  # the service is back: the same session answers
    assert any("21 days" in m for m in texts(at.markdown)), (texts(at.error), texts(at.markdown))
