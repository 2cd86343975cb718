"""`/v1/chat/completions`: OpenAI's format in, an answer with citations out, streamed or not.

The assistant is blocking (and a local generator is not thread-safe: llama.cpp serialises on a
lock), so each answer runs on a bounded thread pool (`api.max_concurrency` workers); streamed
tokens cross from that thread to the event loop through an asyncio queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.api_schema import ChatCompletionRequest
from app.keys import ApiKey
from retrieval.errors import InputError, LoreError
from retrieval.schema import Answer, ChatMessage
from retrieval.settings import Settings

MODEL_ID = "lore"
log = logging.getLogger("lore.api")


class RequestTimeout(LoreError):
    """The answer was not ready within api.request_timeout_s."""

    http_status = 504


def question_and_history(request: ChatCompletionRequest, settings: Settings) -> tuple[str, list[ChatMessage]]:
    """The last user message is the question; earlier user/assistant turns are the history.
    System messages are ignored: Lore's own system prompt applies (documents are its only source)."""
    limits = settings.api
    if len(request.messages) > limits.max_messages:
        raise InputError(f"too many messages ({len(request.messages)}): send at most api.max_messages={limits.max_messages}")
    last = request.messages[-1]
    if last.role != "user":
        raise InputError("the last message must be the user's question (role 'user')")
    question = last.text().strip()
    if not question:
        raise InputError("the question is empty: put it in the last user message's content")
    if len(question) > limits.max_question_chars:
        raise InputError(f"the question is {len(question)} characters long: keep it under api.max_question_chars={limits.max_question_chars}")
    history = [ChatMessage(m.role, m.text()) for m in request.messages[:-1] if m.role in ("user", "assistant") and m.text().strip()]
    return question, history


def completion_id(answer: Answer | None = None) -> str:
    return "chatcmpl-" + (answer.interaction_id if answer and answer.interaction_id else uuid.uuid4().hex)


def usage_json(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.prompt_tokens + u.completion_tokens}


def lore_extra(answer: Answer, *, with_answer: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {"interaction_id": answer.interaction_id, "timings": answer.to_json()["timings"], "model": answer.model,
                             **answer.details_json()}
    if with_answer:
        extra["answer"] = answer.answer
    return extra


def completion_json(answer: Answer) -> dict[str, Any]:
    return {
        "id": completion_id(answer),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop"}],
        "usage": usage_json(answer),
        "citations": [c.to_json() for c in answer.citations],
        "refused": answer.refused,
        "lore": lore_extra(answer),
    }


class ChatRunner:
    """Runs `assistant.ask` on the bounded pool, with the request timeout."""

    def __init__(self, settings: Settings, get_assistant: Callable[[], Any], executor: ThreadPoolExecutor, on_answer: Callable[[Answer], None]):
        self.settings = settings
        self.get_assistant = get_assistant
        self.executor = executor
        self.on_answer = on_answer

    def _ask(self, key: ApiKey, question: str, history: list[ChatMessage], request: ChatCompletionRequest, on_token=None,
             on_progress=None) -> Answer:
        answer = self.get_assistant().ask(
            question,
            user=key.user,
            groups=list(key.groups),
            history=history,
            top_k=request.top_k,
            conversation_id=request.conversation_id,
            channel="api",
            on_token=on_token,
            on_progress=on_progress,
        )
        self.on_answer(answer)
        return answer

    async def complete(self, key: ApiKey, request: ChatCompletionRequest) -> dict[str, Any]:
        question, history = question_and_history(request, self.settings)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self._ask, key, question, history, request, None)
        try:
            answer = await asyncio.wait_for(future, self.settings.api.request_timeout_s)
        except TimeoutError:
            raise RequestTimeout(f"no answer within {self.settings.api.request_timeout_s:g} s: retry later or raise api.request_timeout_s") from None
        return completion_json(answer)

    def stream(self, key: ApiKey, request: ChatCompletionRequest) -> AsyncIterator[str]:
        """Validate now (errors become plain HTTP errors), then return the SSE event iterator."""
        question, history = question_and_history(request, self.settings)
        return self._events(key, question, history, request)

    async def _events(self, key: ApiKey, question: str, history: list[ChatMessage], request: ChatCompletionRequest) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

        def on_token(delta: str) -> None:  # called on the worker thread
            loop.call_soon_threadsafe(queue.put_nowait, ("delta", delta))

        def on_progress(status: str) -> None:  # typed answers: what the worker is doing before the text is written
            loop.call_soon_threadsafe(queue.put_nowait, ("progress", status))

        future = loop.run_in_executor(self.executor, self._ask, key, question, history, request, on_token, on_progress)
        # The future completes through call_soon_threadsafe too, so "done" is queued after every delta.
        future.add_done_callback(lambda _: queue.put_nowait(("done", "")))
        chunk_id, created = "chatcmpl-" + uuid.uuid4().hex, int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            doc = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(doc, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        deadline = loop.time() + self.settings.api.request_timeout_s
        streamed = ""
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                yield error_event(RequestTimeout(f"no answer within {self.settings.api.request_timeout_s:g} s: retry later"))
                yield "data: [DONE]\n\n"
                return
            if kind == "done":
                break
            if kind == "progress":  # no content: OpenAI clients ignore it, Lore's show it as a status
                yield chunk({}, lore={"status": value})
                continue
            streamed += value
            yield chunk({"content": value})
        try:
            answer = future.result()
        except Exception as exc:  # the stream has started: report the error inside it, as OpenAI does
            if not isinstance(exc, LoreError):
                log.exception("unexpected error while streaming an answer")
            yield error_event(exc)
            yield "data: [DONE]\n\n"
            return
        if answer.answer.startswith(streamed) and answer.answer != streamed:
            # Nothing streamed (a refusal before generation) or the final text grew: send the rest.
            yield chunk({"content": answer.answer[len(streamed):]})
        yield chunk(
            {}, "stop",
            usage=usage_json(answer),
            citations=[c.to_json() for c in answer.citations],
            refused=answer.refused,
            lore=lore_extra(answer, with_answer=True),
        )
        yield "data: [DONE]\n\n"


def error_event(exc: BaseException) -> str:
    message = " ".join(str(exc).split()) if isinstance(exc, LoreError) else "internal error while answering: see the server log"
    doc = {"error": {"message": message, "type": type(exc).__name__, "code": getattr(exc, "http_status", 500)}}
    return f"data: {json.dumps(doc)}\n\n"
