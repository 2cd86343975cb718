"""ragas 0.4 metrics through our judge wrapper against an OpenAI-compatible server on loopback that
returns canned structured replies: the "any OpenAI-compatible API" judge path, end to end."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.datasets import parse_score_line
from eval.judge import make_judge
from eval.scorer import Scorer

pytestmark = pytest.mark.integration


class CannedOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions by the requested schema: statements = the answer's sentences,
    NLI verdict 1 when the statement mentions 25 days, relevancy yes."""

    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        prompt = body["messages"][-1]["content"]
        title = schema.get("title", "")
        if title == "StatementGeneratorOutput":
            facts = ("Employees receive 25 days of vacation.", "Employees also get a free car.")
            reply = {"statements": [f for f in facts if f.split()[-2] in prompt.rsplit("answer", 1)[-1]]}
        elif title == "NLIStatementOutput":
            statements = json.loads(prompt.rsplit('"statements":', 1)[1].split("]", 1)[0] + "]")
            reply = {"statements": [{"statement": s, "reason": "canned", "verdict": int("25" in s)} for s in statements]}
        elif "supported" in json.dumps(schema):
            reply = {"supported": "yes" if "25 days" in prompt.split("Claim:", 1)[-1] else "no"}
        else:
            reply = {"relevant": "yes"}
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": json.dumps(reply)}, "finish_reason": "stop"}]}
        payload = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CannedOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    CannedOpenAI.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_ragas_faithfulness_through_an_api_judge(test_settings, server):
    settings = test_settings.model_copy(deep=True)
    settings.eval.judge = "openai"
    settings.eval.judge_api_base = server
    settings.eval.judge_model = "canned"
    judge = make_judge(settings)
    scorer = Scorer.from_settings(settings, judge)
    assert scorer.ragas is not None  # engine auto + API judge → ragas metrics
    line = json.dumps({"id": "a", "question": "How much vacation?", "contexts": ["Employees receive 25 days of paid vacation."],
                       "answer": "Employees receive 25 days of vacation. They also get a free car."})
    out = scorer.score(parse_score_line(line, 1))
    assert out.scores["faithfulness"] == 0.5, out.errors
    assert out.scores["answer_relevancy"] == 1.0
    titles = [r["response_format"]["json_schema"]["schema"].get("title") for r in CannedOpenAI.requests if "response_format" in r]
    assert "StatementGeneratorOutput" in titles and "NLIStatementOutput" in titles
    assert all(r["temperature"] == 0.0 and r["seed"] == 0 for r in CannedOpenAI.requests)
    # same inputs again: served from the judge cache, no new request
    before = len(CannedOpenAI.requests)
    assert scorer.score(parse_score_line(line, 1)).scores["faithfulness"] == 0.5
    assert len(CannedOpenAI.requests) == before


def test_lore_engine_with_an_api_judge_uses_object_schemas(test_settings, server):
    settings = test_settings.model_copy(deep=True)
    settings.eval.judge, settings.eval.engine = "openai", "lore"
    settings.eval.judge_api_base, settings.eval.judge_model = server, "canned"
    judge = make_judge(settings)
    assert not judge.compact
    line = json.dumps({"id": "a", "question": "q", "contexts": ["Employees receive 25 days of paid vacation."],
                       "answer": "Employees receive 25 days of vacation. They also get a free car."})
    out = Scorer.from_settings(settings, judge).score(parse_score_line(line, 1))
    assert out.scores["faithfulness"] == 0.5


def test_broken_api_reply_is_a_counted_null_or_raised(test_settings, server, monkeypatch):
    settings = test_settings.model_copy(deep=True)
    settings.eval.judge, settings.eval.engine = "openai", "lore"
    settings.eval.judge_api_base, settings.eval.judge_model = server, "canned"
    settings.eval.cache = False
    monkeypatch.setattr(CannedOpenAI, "do_POST", lambda self: (self.send_response(500), self.end_headers()))
    line = parse_score_line(json.dumps({"id": "a", "question": "q", "contexts": ["c"], "answer": "Employees receive 25 days."}), 1)
    out = Scorer.from_settings(settings, make_judge(settings)).score(line)
    assert out.scores["faithfulness"] is None and out.errors["faithfulness"].startswith("JudgeError")
    settings.eval.raise_exceptions = True
    with pytest.raises(Exception):
        Scorer.from_settings(settings, make_judge(settings)).score(line)
