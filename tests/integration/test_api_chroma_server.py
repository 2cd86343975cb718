"""The scale-out path: a Chroma server (`chroma run` on loopback, reached through HttpClient),
ingestion into it, two API replicas sharing it, and backup/restore through a collection export."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from tests.integration.lore_server import REPO, VENV_BIN, chroma_server, lore_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILES = ("it/password-requirements.md", "handbook/work-schedules.md")


@pytest.fixture
def chroma(tmp_path):
    if not (VENV_BIN / "chroma").exists():
        pytest.skip(f"the `chroma` CLI is absent from {VENV_BIN}: install chromadb into the virtualenv to test the Chroma-server path")
    with chroma_server(tmp_path / "chroma-server", tmp_path) as port:
        yield port


def http_settings(home, port):
    from retrieval.settings import load_settings

    return load_settings(overrides={"profile": "test", "home": str(home), "store": {"kind": "http", "host": "127.0.0.1", "port": port}})


def test_ingest_query_serve_and_restore_through_a_chroma_server(tmp_path, chroma):
    from app.backup import create_backup, restore_backup
    from app.keys import KeyStore
    from ingest.pipeline import Ingestor
    from retrieval.assistant import build_assistant

    corpus = tmp_path / "corpus"
    for rel in FILES:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "data" / "sample" / rel, corpus / rel)
    home = tmp_path / "home"
    settings = http_settings(home, chroma)
    report = Ingestor(settings).run([corpus])
    assert report.failed == [] and report.added == 2 and report.total_chunks > 0
    assert not (home / "chroma").exists()  # the vectors live in the server, not in LORE_HOME

    assistant = build_assistant(settings)
    assert assistant.store.count() == report.total_chunks
    hits = assistant.search("minimum password length", groups=["all-staff"], top_k=3)
    assert hits and hits[0].chunk.source.endswith("password-requirements.md")
    assert assistant.search("minimum password length", groups=["finance"], top_k=3) == []  # the ACL filter runs in the server

    key, _ = KeyStore.for_settings(settings).add("alice", ["all-staff"])
    env = {"LORE_STORE__KIND": "http", "LORE_STORE__HOST": "127.0.0.1", "LORE_STORE__PORT": str(chroma)}
    with lore_serve(home, tmp_path, **env) as one, lore_serve(home, tmp_path, **env) as two:
        for url in (one, two):  # two replicas, one store, one set of keys
            ready = httpx.get(f"{url}/readyz", timeout=10).json()
            assert ready["detail"]["chunks"] == report.total_chunks
            found = httpx.post(f"{url}/v1/search", json={"query": "minimum password length"}, timeout=30,
                               headers={"Authorization": f"Bearer {key}"}).json()["results"]
            assert found[0]["source"].endswith("password-requirements.md")

    before = [h.chunk.id for h in hits]
    manifest = create_backup(settings, tmp_path / "backup")
    assert manifest["store"]["exported"] == report.total_chunks
    assistant.store.connection.client.delete_collection(settings.store.collection)  # lose the server's data

    restored_home = tmp_path / "restored"
    restored = restore_backup(http_settings(restored_home, chroma), tmp_path / "backup")
    assert restored["imported_chunks"] == report.total_chunks and restored["counts"]["documents"] == 2
    again = build_assistant(http_settings(restored_home, chroma))
    assert [h.chunk.id for h in again.search("minimum password length", groups=["all-staff"], top_k=3)] == before
    print(json.dumps(restored))
