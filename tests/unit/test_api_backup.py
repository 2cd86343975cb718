"""Backup and restore of a LORE_HOME (test profile, embedded Chroma): counts, refusals to
overwrite, checksums, the ingest lock."""

from __future__ import annotations

import json

import pytest

from app.backup import MANIFEST, create_backup, home_counts, restore_backup
from app.keys import KeyStore
from retrieval.assistant import build_assistant
from retrieval.errors import InputError, LockedError
from retrieval.settings import load_settings
from retrieval.testing import seed

pytestmark = pytest.mark.unit


@pytest.fixture
def filled(test_settings):
    assistant = build_assistant(test_settings)
    seed(assistant)
    answer = assistant.ask("How many vacation days do employees receive?", user="alice", groups=["all-staff"])
    assistant.log.save_feedback(answer.interaction_id, "alice", 1, "good")
    assistant.log.save_score(answer.interaction_id, "faithfulness", 1.0, "fake")
    KeyStore.for_settings(test_settings).add("alice", ["all-staff"])
    (test_settings.home / "lore.toml").write_text('[retrieval]\ntop_k = 4\n')
    return test_settings, answer


def test_backup_and_restore_keep_counts_answers_and_settings(filled, tmp_path):
    settings, answer = filled
    manifest = create_backup(settings, tmp_path / "backup")
    assert manifest["store"]["chunks"] == 6
    assert manifest["counts"] == {"documents": None, "lexical_chunks": 6, "interactions": 1, "scores": 1, "feedback": 1, "api_keys": 1}
    assert "lore.toml" in manifest["files"] and (tmp_path / "backup" / MANIFEST).exists()
    assert json.loads((tmp_path / "backup" / "settings.json").read_text())["store"]["collection"] == "lore"

    target = load_settings(overrides={"profile": "test", "home": str(tmp_path / "new-home")})
    report = restore_backup(target, tmp_path / "backup")
    assert report["counts"]["chunks"] == 6 and report["counts"]["feedback"] == 1
    assert home_counts(target) == manifest["counts"]
    again = build_assistant(target).ask("How many vacation days do employees receive?", user="alice", groups=["all-staff"])
    assert (again.answer, [c.to_json() for c in again.citations]) == (answer.answer, [c.to_json() for c in answer.citations])
    assert (target.home / "lore.toml").read_text() == '[retrieval]\ntop_k = 4\n'


def test_restore_refuses_a_non_empty_home_without_force(filled, tmp_path):
    settings, _ = filled
    create_backup(settings, tmp_path / "backup")
    with pytest.raises(InputError, match="--force"):
        restore_backup(settings, tmp_path / "backup")
    report = restore_backup(settings, tmp_path / "backup", force=True)
    assert report["counts"]["chunks"] == 6


def test_backup_refuses_bad_destinations_and_waits_for_the_ingest_lock(filled, tmp_path):
    from ingest.lock import IngestLock

    settings, _ = filled
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        create_backup(settings, tmp_path / "full")
    with pytest.raises(InputError, match="inside LORE_HOME"):
        create_backup(settings, settings.home / "backups")
    with IngestLock(settings.home / "ingest.lock"), pytest.raises(LockedError):
        create_backup(settings, tmp_path / "locked", lock_wait_s=0)


def test_restore_checks_the_manifest_and_checksums(filled, tmp_path):
    settings, _ = filled
    target = load_settings(overrides={"profile": "test", "home": str(tmp_path / "t")})
    with pytest.raises(InputError, match="not a Lore backup"):
        restore_backup(target, tmp_path)
    create_backup(settings, tmp_path / "backup")
    damaged = tmp_path / "backup" / "interactions.sqlite"
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    with pytest.raises(InputError, match="checksum"):
        restore_backup(target, tmp_path / "backup")
    assert not target.home.exists() or not any(target.home.iterdir())  # nothing was written
