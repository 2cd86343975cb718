"""The real server: `lore serve` (uvicorn) on a loopback port, driven by the official `openai`
client (streaming and not) and fuzzed by schemathesis from its own OpenAPI schema: no 500s."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.integration.lore_server import lore_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRAVEL = "How many days in advance must international travel be requested?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from retrieval.assistant import build_assistant
    from retrieval.settings import load_settings
    from retrieval.testing import seed
    from app.keys import KeyStore

    tmp = tmp_path_factory.mktemp("api")
    home = tmp / "home"
    settings = load_settings(overrides={"profile": "test", "home": str(home)})
    seed(build_assistant(settings))
    keys = KeyStore.for_settings(settings)
    staff, _ = keys.add("alice", ["all-staff"])
    admin, _ = keys.add("root", ["all-staff", "admin"])
    with lore_serve(home, tmp) as url:
        yield {"url": url, "staff": staff, "admin": admin}


@pytest.fixture
def client(server):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key=server["staff"], max_retries=0, timeout=30)


def test_openai_client_non_streaming(client):
    completion = client.chat.completions.create(model="lore", messages=[{"role": "user", "content": TRAVEL}])
    content = completion.choices[0].message.content
    assert "14 days" in content and "[1]" in content
    extra = completion.model_extra
    assert extra["refused"] is False
    assert extra["citations"][0]["source"] == "policies/travel.pdf" and extra["citations"][0]["page"] == 2
    assert completion.usage.completion_tokens > 0


def test_openai_client_streaming(client):
    stream = client.chat.completions.create(model="lore", messages=[{"role": "user", "content": TRAVEL}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3 and "14 days" in text and "[1]" in text
    final = chunks[-1].model_extra
    assert final["citations"][0]["source"] == "policies/travel.pdf" and final["refused"] is False
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_client_models_and_errors(client, server):
    import openai

    assert [m.id for m in client.models.list()] == ["lore", "fake"]
    bad = openai.OpenAI(base_url=server["url"] + "/v1", api_key="lore-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="lore", messages=[{"role": "user", "content": TRAVEL}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": TRAVEL}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="lore", messages=[{"role": "assistant", "content": "hello"}])


def test_metrics_after_traffic(server):
    text = httpx.get(server["url"] + "/metrics", timeout=10).text
    assert 'route="/v1/chat/completions"' in text and "lore_answers_total" in text


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzz_no_server_errors(server, mode):
    """Schema-driven requests (valid, then invalid) to every operation with an admin key: every
    response is < 500 and its status is one the schema documents."""
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import status_code_conformance

    schema = schemathesis.openapi.from_url(server["url"] + "/openapi.json")
    headers = {"Authorization": f"Bearer {server['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def fuzz(case):
            response = case.call_and_validate(headers=headers, timeout=30, checks=[not_a_server_error, status_code_conformance])
            calls.append(response.status_code)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode == "negative" and operation.method.upper() == "GET"  # nothing to make invalid
    assert calls and max(calls) < 500
