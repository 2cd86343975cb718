"""The app's building blocks without Streamlit: the users file, identities from headers and OIDC
claims, upload checks, the conversation store, and the `lore users` command."""

from __future__ import annotations

import io
import json
import stat

import pytest

from app import auth
from app.auth import Identity, UsersFile
from app.conversations import ConversationStore, StoredMessage
from app.views import uploads
from app.views.common import location_label, percentile
from retrieval.errors import ConfigError, InputError

pytestmark = pytest.mark.unit


@pytest.fixture
def users(test_settings):
    return UsersFile(test_settings.users_path)


def test_users_file_stores_only_hashes_and_verifies_passwords(users):
    users.add("alice", ("all-staff", "finance"), "s3cret-password", rounds=4)
    text = users.path.read_text()
    assert "s3cret-password" not in text and "$2b$04$" in text
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.verify("alice", "s3cret-password").groups == ("all-staff", "finance")
    assert users.verify("alice", "wrong-password") is None
    assert users.verify("nobody", "s3cret-password") is None
    assert users.verify("alice", "x" * 100) is None  # over bcrypt's 72 bytes: refused, not cut


def test_users_file_keeps_the_password_when_only_groups_change(users):
    users.add("alice", ("all-staff",), "s3cret-password", rounds=4)
    users.add("alice", ("all-staff", "hr"), None)
    assert users.verify("alice", "s3cret-password").groups == ("all-staff", "hr")
    assert users.remove("alice") and not users.remove("alice")
    assert users.load() == {}


@pytest.mark.parametrize(
    ("user", "groups", "password", "message"),
    [
        ("alice", ("all-staff",), "short", "too short"),
        ("alice", ("all-staff",), "é" * 40, "too long"),
        ("../etc", ("all-staff",), "long-enough-pw", "invalid user name"),
        ("bad name", ("all-staff",), "long-enough-pw", "invalid user name"),
    ],
)
def test_users_file_rejects_bad_input(users, user, groups, password, message):
    with pytest.raises(InputError, match=message):
        users.add(user, groups, password, rounds=4)
    assert not users.path.exists()


def test_a_broken_users_file_is_a_config_error(users):
    users.path.parent.mkdir(parents=True, exist_ok=True)
    users.path.write_text("users: [oops", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        users.load()


@pytest.mark.parametrize(("text", "groups"), [("a, b,a", ("a", "b")), (["x"], ("x",)), ("", ()), (None, ())])
def test_parse_groups(text, groups):
    assert auth.parse_groups(text) == groups


@pytest.mark.parametrize("bad", ["has space", "comma,", "ümlaut", "-lead"])
def test_parse_groups_rejects_names_the_store_cannot_filter_on(bad):
    with pytest.raises(InputError):
        auth.parse_groups([bad])


def test_trusted_header_identity(test_settings, users):
    users.add("carol", ("hr",), None)
    headers = {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "finance, admin"}
    who = auth.identity_from_headers(headers, test_settings)
    assert who == Identity("dave", ("finance", "admin"), "trusted_header", "admin") and who.is_admin
    assert auth.identity_from_headers({"X-Forwarded-User": "carol"}, test_settings).groups == ("hr",)  # from the users file
    assert auth.identity_from_headers({"X-Forwarded-User": "erin"}, test_settings).groups == ("all-staff",)  # default
    assert auth.identity_from_headers({}, test_settings) is None
    with pytest.raises(InputError, match="invalid user name"):
        auth.identity_from_headers({"X-Forwarded-User": "a b"}, test_settings)


def test_oidc_identity_merges_claims_and_users_file(test_settings, users):
    users.add("frank@example.com", ("finance",), None)
    who = auth.identity_from_claims({"email": "frank@example.com", "groups": ["staff", "bad group"]}, test_settings)
    assert (who.user, who.groups, who.method) == ("frank@example.com", ("staff", "finance"), "oidc")
    assert auth.identity_from_claims({"sub": "123"}, test_settings).groups == ("all-staff",)
    assert auth.identity_from_claims({}, test_settings) is None


def test_anonymous_identity_has_the_default_groups(test_settings):
    who = auth.anonymous_identity(test_settings)
    assert (who.user, who.groups, who.anonymous, who.is_admin) == ("anonymous", ("all-staff",), True, False)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Q3 plan.DOCX", "Q3 plan.docx"),
        (".hidden.md", "hidden.md"),
        ("~$lock.docx", "lock.docx"),
        ("a<b>|c?.txt", "a_b_c.txt"),
        ("....", "document"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_file_name(name, safe):
    assert uploads.safe_file_name(name) == safe


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.md", b"# hi", None),
        ("deck.pptx", b"PK\x03\x04rest", None),
        ("tool.exe", b"MZ", "type .exe is not accepted"),
        ("noext", b"text", "type (none) is not accepted"),
        ("fake.pdf", b"hello", "not a .pdf file"),
        ("empty.txt", b"", "empty"),
        ("big.txt", b"x" * (2 * 1024 * 1024 + 1), "over the 2 MB limit"),
    ],
)
def test_check_upload(test_settings, name, data, reason):
    settings = test_settings.model_copy(update={"app": test_settings.app.model_copy(update={"upload_max_mb": 2.0})})
    result = uploads.check_upload(name, data, settings)
    assert (result is None) if reason is None else (reason in result)


def test_save_upload_writes_the_file_and_its_groups(test_settings):
    path = uploads.save_upload(test_settings, "handbook", "../Leave policy.md", b"# Leave", ("hr", "admin"))
    assert path == test_settings.home / "uploads" / "handbook" / "Leave policy.md"
    assert path.read_bytes() == b"# Leave"
    assert (path.parent / "Leave policy.md.acl").read_text().split() == ["-", "hr", "-", "admin"]
    assert uploads.upload_sources(test_settings) == ["handbook"]
    with pytest.raises(InputError, match="invalid source name"):
        uploads.save_upload(test_settings, "../x", "a.md", b"x", ("hr",))


def test_conversations_belong_to_their_user(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    cid = store.create("alice", "What is the travel policy for trips abroad that last longer than a week?")
    store.add(cid, "alice", StoredMessage("user", "q1"))
    store.add(cid, "alice", StoredMessage("assistant", "a1 [1]", "iid-1", False, [{"source": "t.pdf", "chunk_id": "c1"}]))
    assert [m.content for m in store.messages(cid, "alice")] == ["q1", "a1 [1]"]
    assert store.messages(cid, "alice")[1].citations == [{"source": "t.pdf", "chunk_id": "c1"}]
    assert store.list("alice")[0].title.endswith("…") and len(store.list("alice")[0].title) == 60
    assert store.messages(cid, "bob") == [] and store.list("bob") == [] and store.get(cid, "bob") is None
    with pytest.raises(KeyError):
        store.add(cid, "bob", StoredMessage("user", "sneaky"))
    store.delete(cid, "bob")  # not bob's: nothing happens
    assert store.get(cid, "alice") is not None
    store.delete(cid, "alice")
    assert store.list("alice") == [] and store.messages(cid, "alice") == []


@pytest.mark.parametrize(("source", "page", "label"), [("a.pdf", 3, "page 3"), ("d.pptx", 2, "slide 2"), ("b.xlsx", "Q1", "sheet Q1"), ("a.md", None, "")])
def test_location_label(source, page, label):
    assert location_label(source, page) == label


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99), percentile(values, 100)) == (50, 90, 99, 100)
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0


def test_lore_users_commands(test_settings, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "add", "gina", "--groups", "all-staff,hr", "--password-stdin", "--json", "--profile", "test"]) == 0
    assert json.loads(capsys.readouterr().out) == {"user": "gina", "groups": ["all-staff", "hr"], "password": True, "file": str(test_settings.users_path)}
    assert UsersFile(test_settings.users_path).verify("gina", "a-long-password") is not None
    assert main(["users", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": [{"user": "gina", "groups": ["all-staff", "hr"], "password": True}]}
    assert main(["users", "add", "hal", "--groups", "bad group", "--no-password"]) == 2
    assert "invalid group name" in capsys.readouterr().err
    assert main(["users", "remove", "nobody"]) == 2


def test_lore_app_command_line(test_settings):
    import argparse

    from app.cli import Context
    from app.commands.web import streamlit_command, streamlit_env

    ctx = Context(args=argparse.Namespace(config=None), settings=test_settings, json=False)
    cmd = streamlit_command(ctx)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app/streamlit_app.py")
    options = dict(zip(cmd[5::2], cmd[6::2]))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8501"
    assert options["--browser.gatherUsageStats"] == "false" and options["--server.headless"] == "true"
    assert options["--server.maxUploadSize"] == "50"
    env = streamlit_env(ctx)
    assert env["LORE_HOME"] == str(test_settings.home) and env["LORE_PROFILE"] == "test"
