"""The admin ingestion page's configured sources (LORE_HOME/sources.yaml): each source with its kind,
location and last run; a run shows progress per source; a source that cannot be listed shows its
one-line reason (AppTest, test profile)."""

from __future__ import annotations

import socket

import pytest
import yaml

from tests.unit.test_app_chat import app_as, app_home  # noqa: F401 - app_home is a fixture

pytestmark = pytest.mark.unit


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_configured_sources_run_with_progress_and_reasons(app_home, tmp_path):  # noqa: F811 - the fixture
    port = closed_port()
    (tmp_path / "empty-share").mkdir()
    sources = {"sources": [
        {"name": "share", "root": str(tmp_path / "empty-share")},
        {"name": "intranet", "kind": "web", "urls": [f"http://127.0.0.1:{port}/"], "timeout_s": 2},
    ]}  # fmt: skip
    (app_home.home / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    at = app_as("root")
    at.switch_page("views/ingestion.py").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert list(table["source"]) == ["share", "intranet"] and list(table["kind"]) == ["folder", "web"]
    assert list(table["last run"]) == ["never", "never"]

    at.button(key="run_sources").click().run()
    assert not at.exception, at.exception
    labels = [p.proto.text for p in at.get("progress")]
    assert "share: done" in labels and "intranet: done" in labels and "parsing and embedding: done" in labels
    failed = [row for d in at.dataframe if "error" in d.value.columns for row in d.value.to_dict("records")]
    assert any(f"cannot reach 127.0.0.1:{port}" in r["error"] and "nothing from this source was deleted" in r["error"] for r in failed), failed

    at.switch_page("views/ingestion.py").run()  # the page again: the table has the last runs
    table = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert list(table["status"]) == ["ok", "failed"]
    assert any("intranet: 1 failure(s) in the last run" in e.label for e in at.expander)
