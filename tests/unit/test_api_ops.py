"""Models, search, ingest permissions, health, readiness, metrics and the OpenAPI schema."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from app.api import allowed_ingest_path, create_app
from retrieval.assistant import build_assistant
from retrieval.errors import AccessDenied, InputError, StoreError
from retrieval.testing import seed

pytestmark = pytest.mark.unit


@pytest.fixture
def api(test_settings):
    assistant = build_assistant(test_settings)
    seed(assistant)
    app = create_app(test_settings, assistant)
    keys = app.state.lore.keys
    staff, _ = keys.add("alice", ["all-staff"])
    admin, _ = keys.add("root", ["all-staff", "admin"])
    with TestClient(app) as client:
        yield client, {"staff": {"Authorization": f"Bearer {staff}"}, "admin": {"Authorization": f"Bearer {admin}"}}, assistant


def test_models_lists_lore_and_the_generator(api):
    client, keys, _ = api
    assert client.get("/v1/models").status_code == 401
    ids = [m["id"] for m in client.get("/v1/models", headers=keys["staff"]).json()["data"]]
    assert ids == ["lore", "fake"]
    asked = client.post("/v1/chat/completions", json={"model": "fake", "messages": [{"role": "user", "content": "travel"}]}, headers=keys["staff"])
    assert asked.status_code == 200


def test_search_is_filtered_by_the_keys_groups(api):
    client, keys, _ = api
    staff = client.post("/v1/search", json={"query": "Project Falcon acquisition price", "top_k": 10}, headers=keys["staff"]).json()
    assert staff["results"] and all(r["source"] != "board/falcon.docx" for r in staff["results"])
    assert set(staff["results"][0]) == {"id", "source", "page", "section", "score", "text"}
    one = client.post("/v1/search", json={"query": "vacation days", "top_k": 1}, headers=keys["staff"]).json()
    assert [r["id"] for r in one["results"]] == ["leave-1"]
    assert client.post("/v1/search", json={"query": ""}, headers=keys["staff"]).status_code == 400
    assert client.post("/v1/search", json={"query": "x", "top_k": 0}, headers=keys["staff"]).status_code == 400
    assert client.post("/v1/search", json={"query": "   "}, headers=keys["staff"]).status_code == 400


def test_ingest_needs_an_admin_key_and_a_path_inside_the_roots(api, test_settings, tmp_path):
    client, keys, _ = api
    assert client.post("/v1/ingest", json={"paths": ["a.md"]}, headers=keys["staff"]).status_code == 403
    outside = client.post("/v1/ingest", json={"paths": ["/etc/passwd"]}, headers=keys["admin"])
    assert outside.status_code == 403 and "api.ingest_roots" in outside.json()["error"]["message"]
    escape = client.post("/v1/ingest", json={"paths": ["../../etc"]}, headers=keys["admin"])
    assert escape.status_code == 403
    missing = client.post("/v1/ingest", json={"paths": ["nothing-here.md"]}, headers=keys["admin"])
    assert missing.status_code == 400 and "upload it" in missing.json()["error"]["message"]


def test_ingest_roots_resolution(test_settings, tmp_path):
    uploads = test_settings.home / "uploads"
    (uploads / "team").mkdir(parents=True)
    (uploads / "team" / "a.md").write_text("# A\n")
    assert allowed_ingest_path(test_settings, "team/a.md") == (uploads / "team" / "a.md").resolve()
    assert allowed_ingest_path(test_settings, str(uploads)) == uploads.resolve()
    (uploads / "link").symlink_to(tmp_path)  # a symlink out of the root is judged by its target
    with pytest.raises(AccessDenied):
        allowed_ingest_path(test_settings, "link")
    with pytest.raises(InputError):
        allowed_ingest_path(test_settings, "")


def test_ingest_runs_the_pipeline_and_reports(api, test_settings):
    pytest.importorskip("ingest.pipeline", reason="ingest.pipeline is not installed")
    client, keys, assistant = api
    uploads = test_settings.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "parking.md").write_text("# Parking\n\nStaff parking is in garage B, levels 2 and 3.\n")
    response = client.post("/v1/ingest", json={"paths": ["parking.md"], "acl_map": {"**": ["all-staff"]}}, headers=keys["admin"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == 1 and report["failed"] == [] and report["total_chunks"] == assistant.store.count()
    found = client.post("/v1/search", json={"query": "garage parking levels"}, headers=keys["staff"]).json()["results"]
    assert found[0]["source"].endswith("parking.md")


def test_health_readiness_and_openapi(api):
    client, _, _ = api
    assert client.get("/healthz").json()["status"] == "ok"
    deadline = time.monotonic() + 10  # the models load in the background: 503 "starting" until then
    while (ready := client.get("/readyz")).status_code == 503 and ready.json()["status"] == "starting" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.status_code == 200 and ready.json()["detail"]["chunks"] == 6
    schema = client.get("/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/search", "/v1/ingest", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    props = schema["components"]["schemas"]["ChatCompletion"]["properties"]
    assert {"citations", "refused", "lore"} <= set(props)


def test_readyz_reports_a_failed_warm_up(lore_home):
    from retrieval.settings import load_settings

    settings = load_settings(overrides={"profile": "test"})
    assistant = build_assistant(settings)

    def broken(**_):
        raise StoreError("cannot open the Chroma store at x: check store.* settings")

    assistant.warm_up = broken
    with TestClient(create_app(settings, assistant)) as client:
        for _ in range(100):
            ready = client.get("/readyz")
            if ready.json()["status"] != "starting":
                break
            time.sleep(0.02)
        assert ready.status_code == 503 and "store.*" in ready.json()["detail"]["error"]
        assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_answers_refusals_tokens_and_faithfulness(api):
    client, keys, assistant = api
    answered = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "How many vacation days do employees receive?"}]}, headers=keys["staff"]).json()
    client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Who won the 1966 World Cup?"}]}, headers=keys["staff"])
    client.get("/v1/models")
    assistant.log.save_score(answered["lore"]["interaction_id"], "faithfulness", 0.75, "fake")
    text = client.get("/metrics").text
    assert 'lore_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'lore_http_requests_total{method="GET",route="/v1/models",status="401"} 1.0' in text
    assert 'lore_answers_total{channel="api"} 2.0' in text
    assert 'lore_refusals_total{channel="api"} 1.0' in text
    assert 'lore_retrieval_seconds_count 2.0' in text and 'lore_generation_seconds_count 2.0' in text
    # the model's own writing speed, once per answer the model wrote (the refusal came before the model)
    assert 'lore_decode_tokens_per_second_count 1.0' in text
    completion = answered["usage"]["completion_tokens"]
    assert f'lore_tokens_total{{kind="completion"}} {float(completion)}' in text
    assert "lore_faithfulness_latest 0.75" in text and "lore_faithfulness_scored 1.0" in text
    assert 'lore_http_request_seconds_bucket{le="+Inf",method="POST",route="/v1/chat/completions"} 2.0' in text


def test_metrics_can_require_an_admin_key(lore_home):
    from retrieval.settings import load_settings

    settings = load_settings(overrides={"profile": "test", "api": {"metrics_public": False, "warm_up": False}})
    app = create_app(settings, build_assistant(settings))
    admin, _ = app.state.lore.keys.add("root", ["admin"])
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_metrics_report_the_query_cache(test_settings):
    app = create_app(test_settings)  # the app builds its own assistant: cached, batching embedder
    state = app.state.lore
    seed(state.assistant())
    staff, _ = state.keys.add("alice", ["all-staff"])
    question = {"messages": [{"role": "user", "content": "How many vacation days do employees receive?"}]}
    with TestClient(app) as client:
        for _ in range(3):
            assert client.post("/v1/chat/completions", json=question, headers={"Authorization": f"Bearer {staff}"}).status_code == 200
        text = client.get("/metrics").text
    assert 'lore_query_cache_lookups_total{result="hit"} 2.0' in text
    # the question once, and the warm-up's own query when it has run by now
    assert re.search(r'^lore_query_cache_lookups_total\{result="miss"\} [12]\.0$', text, re.M)


def test_fastapi_telemetry_stays_off(test_settings, monkeypatch):
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")  # would add OTLP exporters
    app = create_app(test_settings, build_assistant(test_settings))
    assert not app._native_telemetry.enabled()
    assert app._telemetry["auto_configure"] is False and app._telemetry["tracing"] is False
