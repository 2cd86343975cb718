"""Contract suites: every generator backend, every embedder and every store passes the same tests.

Generators: fake; openai against an OpenAI-compatible server started here on loopback (it serves
the fake model over SSE); llama_cpp with the real GGUF (integration, slow). Embedders: hash; local
MiniLM (integration). Stores: embedded Chroma; a Chroma server (`chroma run`) via HttpClient
(integration, slow).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrieval.generators import DOC_BLOCK, FakeChatModel, make_chat_model
from retrieval.schema import ChatMessage, Chunk
from retrieval.settings import load_settings

pytestmark = pytest.mark.unit
slow_integration = [pytest.mark.integration, pytest.mark.slow]


# ---- a loopback OpenAI-compatible server ------------------------------------------------------------


@contextmanager
def openai_compatible_server(model: FakeChatModel) -> Iterator[tuple[str, list[dict]]]:
    """/v1/chat/completions (streaming SSE with a final usage chunk, or one JSON body) backed by `model`."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append(body)
            messages = [ChatMessage(m["role"], m["content"]) for m in body["messages"]]
            schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")  # structured outputs
            stream = model.stream(messages, max_tokens=body.get("max_tokens"), json_schema=schema)
            if not body.get("stream"):
                text = stream.read()
                self._json({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": stream.usage.prompt_tokens, "completion_tokens": stream.usage.completion_tokens,
                                      "total_tokens": stream.usage.prompt_tokens + stream.usage.completion_tokens}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for delta in stream:
                self._event({"choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            usage = stream.usage
            self._event({"choices": [], "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                                                  "total_tokens": usage.prompt_tokens + usage.completion_tokens}})
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, doc):
            doc = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake", **doc}
            self.wfile.write(f"data: {json.dumps(doc)}\n\n".encode())
            self.wfile.flush()

        def _json(self, doc):
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    finally:
        server.shutdown()
        server.server_close()


# ---- generators -----------------------------------------------------------------------------------


@contextmanager
def fake_backend(lore_home):
    yield make_chat_model(load_settings(overrides={"profile": "test"})), None


@contextmanager
def openai_backend(lore_home):
    with openai_compatible_server(FakeChatModel()) as (base, requests):
        settings = load_settings(overrides={"profile": "test", "models": {"generator": {"kind": "openai", "api_base": base, "model": "served-fake"}}})
        yield make_chat_model(settings), requests


@contextmanager
def llama_cpp_backend(lore_home):
    settings = load_settings(overrides={"models": {"generator": {"kind": "llama_cpp", "context_window": 1024}}})
    from retrieval.models import resolve_local

    if resolve_local(settings.models.generator.model, settings.models.dir, "generator") is None:
        pytest.skip("the default GGUF is not installed: run `lore models install`")
    yield make_chat_model(settings), None


GENERATORS = [
    pytest.param(fake_backend, id="fake"),
    pytest.param(openai_backend, id="openai-loopback"),
    pytest.param(llama_cpp_backend, id="llama_cpp", marks=slow_integration),
]

PROMPT = [
    ChatMessage("system", "Answer from the documents and cite them like [1]."),
    ChatMessage("user", '<documents>\n<document id="1" source="t.md">The office opens at 9 am. It closes at 6 pm.</document>\n</documents>\n\nQuestion: When does the office open?'),
]


@pytest.mark.parametrize("backend", GENERATORS)
def test_generator_streams_text_deltas_and_reports_usage(lore_home, backend):
    with backend(lore_home) as (model, requests):
        assert isinstance(model.name, str) and model.context_window >= 512
        model.warm_up()
        stream = model.stream(PROMPT, max_tokens=24, temperature=0.0)
        deltas = list(stream)
        assert len(deltas) >= 2 and all(isinstance(d, str) for d in deltas)  # really streamed
        assert "".join(deltas) == stream.text and stream.text.strip()
        assert stream.usage.completion_tokens >= 1 and stream.usage.prompt_tokens >= 10
        assert stream.usage.completion_tokens <= 24 + 1
        assert model.count_tokens("The office opens at 9 am.") > 0
        if requests is not None:  # what went over the wire
            assert requests[-1]["stream"] is True and requests[-1]["max_tokens"] == 24
            assert [m["role"] for m in requests[-1]["messages"]] == ["system", "user"]


@pytest.mark.parametrize("backend", GENERATORS)
def test_generator_answers_through_the_assistant_with_a_citation(lore_home, backend):
    from retrieval.assistant import build_assistant
    from retrieval.testing import seed

    with backend(lore_home) as (model, _):
        settings = load_settings(overrides={"profile": "test", "retrieval": {"answer_tokens": 48}})
        assistant = build_assistant(settings, chat_model=model)
        seed(assistant)
        tokens: list[str] = []
        answer = assistant.ask("How many days of paid vacation do employees receive per year?", groups=["all-staff"], on_token=tokens.append)
        assert "".join(tokens).strip() == answer.answer
        assert not answer.refused and "25" in answer.answer
        assert answer.citations and answer.citations[0].source == "hr/leave-policy.md"
        assert answer.usage.completion_tokens > 0 and answer.timings.first_token_ms is not None


@pytest.mark.parametrize("backend", GENERATORS)
def test_generator_scores_given_text_or_says_it_cannot(lore_home, backend):
    """text_logprobs, the LLM likelihood's input: a (token, log-probability <= 0) per token of the text
    that rebuilds the text, the passage's own words likelier after it than the same words alone and than
    words it does not hold — or None from a backend that cannot score text (an API)."""
    passage = "Document:\nThe office opens at 9 am. It closes at 6 pm.\n\nAn answer:\n"
    with backend(lore_home) as (model, requests):
        model.warm_up()
        supported = model.text_logprobs(passage, "The office opens at 9 am.")
        if requests is not None:
            assert supported is None
            return
        assert supported and "".join(t for t, _ in supported).strip() == "The office opens at 9 am."
        assert all(lp <= 0 for _, lp in supported)
        alone = model.text_logprobs("An answer:\n", "The office opens at 9 am.")
        changed = model.text_logprobs(passage, "The office opens at 7 pm.")
        assert sum(lp for _, lp in supported) > sum(lp for _, lp in alone)
        assert sum(lp for _, lp in supported) > sum(lp for _, lp in changed)


def test_openai_backend_surfaces_a_dead_server_as_one_line_error(lore_home):
    from retrieval.errors import ModelUnavailableError

    settings = load_settings(overrides={"models": {"generator": {"kind": "openai", "api_base": "http://127.0.0.1:9/v1", "timeout_s": 2}}})
    with pytest.raises(ModelUnavailableError, match="api_base"):
        make_chat_model(settings).stream(PROMPT, max_tokens=4).read()


def test_fake_backend_is_the_documented_deterministic_reply():
    assert FakeChatModel().stream(PROMPT).read() == "The office opens at 9 am. [1]"
    assert DOC_BLOCK.findall(PROMPT[1].content)[0][0] == "1"


# ---- embedders ------------------------------------------------------------------------------------

EMBEDDERS = [
    pytest.param({"kind": "hash"}, id="hash"),
    pytest.param({"kind": "local"}, id="local", marks=slow_integration),
]


@pytest.mark.parametrize("config", EMBEDDERS)
def test_embedder_contract(lore_home, config):
    from retrieval.embedders import make_embedder

    embedder = make_embedder(load_settings(overrides={"models": {"embedder": config}}))
    embedder.warm_up()
    texts = ["Employees receive 25 days of paid vacation.", "Paid vacation for employees is 25 days.", "The reverse proxy forwards requests."]
    vectors = embedder.embed_documents(texts)
    assert len(vectors) == 3 and all(len(v) == embedder.dim for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3) for v in vectors)
    query = embedder.embed_query(texts[0])
    cos = [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]
    assert cos[0] == pytest.approx(1.0, abs=1e-3) and cos[1] > cos[2]
    assert embedder.embed_documents([]) == []
    counts = embedder.count_tokens(texts)
    assert len(counts) == 3 and all(c > 0 for c in counts) and embedder.max_tokens > 0


@pytest.mark.integration
@pytest.mark.slow
def test_local_query_precisions_agree(lore_home):
    """bfloat16 query vectors (the default on CPUs with native bf16) match float32 ones and stay unit length."""
    from retrieval.embedders import make_embedder

    question = "How many days in advance must international travel be requested?"
    vectors = {}
    for dtype in ("float32", "bfloat16"):
        embedder = make_embedder(load_settings(overrides={"models": {"embedder": {"kind": "local", "query_dtype": dtype}}}))
        vectors[dtype] = embedder.embed_queries([question, "What is the lodging cap in London?"])
        assert embedder.embed_query(question) == pytest.approx(vectors[dtype][0], abs=1e-6)
    for a, b in zip(vectors["float32"], vectors["bfloat16"], strict=True):
        assert math.isclose(math.sqrt(sum(x * x for x in b)), 1.0, rel_tol=1e-5)
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.999


# ---- stores ---------------------------------------------------------------------------------------


@contextmanager
def embedded_store(lore_home, tmp_path):
    from retrieval.store import make_store

    yield make_store(load_settings(overrides={"profile": "test"}))


@contextmanager
def chroma_server_store(lore_home, tmp_path):
    from retrieval.store import make_store
    from tests.integration.lore_server import chroma_server

    with chroma_server(tmp_path / "chroma-data", tmp_path) as port:
        yield make_store(load_settings(overrides={"profile": "test", "store": {"kind": "http", "host": "127.0.0.1", "port": port}}))


STORES = [
    pytest.param(embedded_store, id="chroma-embedded"),
    pytest.param(chroma_server_store, id="chroma-http", marks=slow_integration),
]


@pytest.mark.parametrize("store_kind", STORES)
def test_store_contract(lore_home, tmp_path, store_kind):
    from retrieval.embedders import HashEmbedder
    from retrieval.retriever import Retriever
    from retrieval.testing import CORPUS, ids_where

    embedder = HashEmbedder(384)
    with store_kind(lore_home, tmp_path) as store:
        chunks = list(CORPUS)
        store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
        assert store.count() == len(chunks)
        vector = embedder.embed_query("Project Falcon acquisition price")
        assert store.query(vector, 3, ["board"])[0].chunk.id == "falcon-1"
        assert "falcon-1" not in {s.chunk.id for s in store.query(vector, 10, ["all-staff", "finance"])}
        assert store.query(vector, 10, []) == []
        got = store.get(["travel-1", "missing", "salary-1"])
        assert [c.id for c in got] == ["travel-1", "salary-1"]
        assert got[0] == next(c for c in CORPUS if c.id == "travel-1")  # metadata round-trips (page, section, groups)
        changed = Chunk(id="travel-1", text="Travel rules changed.", source="policies/travel.pdf", doc_id="policies/travel.pdf", groups=("all-staff",))
        store.upsert([changed], embedder.embed_documents([changed.text]))
        assert store.count() == len(chunks) and store.get(["travel-1"])[0].text == "Travel rules changed."
        assert sorted(ids_where(store, {"doc": "reports/annual.xlsx"})) == ["revenue-2022", "revenue-2023"]
        store.delete(ids_where(store, {"doc": "reports/annual.xlsx"}))
        store.delete(["leave-1"])
        assert store.count() == len(chunks) - 3
        assert {c.id for c in store.iter_chunks(batch=2)} == {"travel-1", "falcon-1", "salary-1"}
        from retrieval.settings import RetrievalSettings

        found = Retriever(RetrievalSettings(mode="dense"), store, embedder, None).retrieve("travel rules", ["all-staff"])
        assert found.chunks[0].chunk.id == "travel-1" and found.best_dense > 0
