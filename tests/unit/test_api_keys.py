"""API keys: created once, stored hashed, looked up, listed, revoked; `lore keys` CLI contract."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.keys import KeyStore, keys_path, parse_groups
from retrieval.errors import InputError

pytestmark = pytest.mark.unit


def test_keys_are_random_hashed_and_map_to_user_and_groups(test_settings):
    store = KeyStore.for_settings(test_settings)
    key, record = store.add("alice", "all-staff, finance,all-staff")
    other, _ = store.add("alice", ["all-staff"])
    assert key != other and len(key) > 40
    assert record.groups == ("all-staff", "finance")
    found = store.lookup(key)
    assert found is not None and found.user == "alice" and found.groups == ("all-staff", "finance")
    assert store.lookup(key + "x") is None and store.lookup("") is None
    raw = keys_path(test_settings).read_bytes()
    assert key.encode() not in raw  # only the hash is stored


def test_revoke_by_id_or_user(test_settings):
    store = KeyStore.for_settings(test_settings)
    k1, r1 = store.add("alice", ["a"])
    k2, _ = store.add("alice", ["b"])
    k3, _ = store.add("bob", ["a"])
    assert [r.key_id for r in store.revoke(r1.key_id)] == [r1.key_id]
    assert store.lookup(k1) is None and store.lookup(k2) is not None
    assert len(store.revoke("alice")) == 1 and store.lookup(k2) is None
    assert store.lookup(k3) is not None
    assert [r.user for r in store.list()] == ["bob"] and len(store.list(include_revoked=True)) == 3
    assert store.revoke("nobody") == []


@pytest.mark.parametrize("groups", ["", " , ", "bad group", "x" * 200, "a;drop"])
def test_invalid_groups_are_refused(groups):
    with pytest.raises(InputError):
        if not parse_groups(groups):
            raise InputError("empty")


def test_admin_is_the_admin_group(test_settings):
    store = KeyStore.for_settings(test_settings)
    _, admin = store.add("root", ["admin", "all-staff"])
    _, user = store.add("alice", ["all-staff"])
    assert admin.is_admin(test_settings.app.admin_group) and not user.is_admin(test_settings.app.admin_group)


def test_cli_keys_add_list_revoke(test_settings, capsys):
    assert main(["keys", "add", "carol", "--groups", "hr,all-staff", "--json", "--profile", "test"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert set(added) >= {"key", "key_id", "user", "groups"} and added["groups"] == ["hr", "all-staff"]
    assert KeyStore.for_settings(test_settings).lookup(added["key"]).user == "carol"
    assert main(["keys", "list", "--json", "--profile", "test"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["user"] for k in listed["keys"]] == ["carol"] and "key" not in listed["keys"][0]
    assert main(["keys", "revoke", added["key_id"], "--json", "--profile", "test"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revoked": [added["key_id"]]}
    assert main(["keys", "revoke", added["key_id"], "--json", "--profile", "test"]) != 0
    assert "lore keys list" in json.loads(capsys.readouterr().out)["error"]
    assert main(["keys", "add", "dave", "--groups", "", "--json"]) != 0
