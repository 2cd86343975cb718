"""ragas 0.4 metrics on our judge model.

`ChatModelRagasLLM` is a ragas `InstructorBaseRagasLLM` backed by any of our ChatModels: ragas asks
for a pydantic response model, we pass its JSON schema as `json_schema` (grammar-constrained decoding
on llama.cpp, `response_format` on an OpenAI-compatible API) and validate the reply with pydantic.
Replies go through the judge's cache. ragas' prompts expect a capable model, so this path is the
default for API judges (`eval.engine = "auto"`); the local default is lore's own constrained judge.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ragas.llms.base import InstructorBaseRagasLLM

from eval.datasets import ScoreItem
from eval.judge import JudgeError, LLMJudge
from retrieval.errors import ConfigError

T = TypeVar("T", bound=BaseModel)


class ChatModelRagasLLM(InstructorBaseRagasLLM):
    def __init__(self, judge: LLMJudge, max_tokens: int = 1024):
        self.judge = judge
        self.max_tokens = max_tokens

    def generate(self, prompt: str, response_model: type[T]) -> T:
        schema = response_model.model_json_schema()
        reply = self.judge.ask_json("", prompt, schema, max_tokens=self.max_tokens)
        try:
            return response_model.model_validate(reply)
        except ValidationError as exc:
            raise JudgeError(f"judge reply does not fit {response_model.__name__}: {exc.errors()[0]['msg']}") from exc

    async def agenerate(self, prompt: str, response_model: type[T]) -> T:
        # The local model runs one generation at a time anyway; a thread keeps the event loop free.
        return await asyncio.to_thread(self.generate, prompt, response_model)

    def __repr__(self) -> str:
        return f"ChatModelRagasLLM({self.judge.name})"


class RagasMetrics:
    """ragas faithfulness always; context precision and recall (LLM-judged) where a reference exists.
    ragas errors propagate (`raise_exceptions` semantics); the scorer turns them into counted nulls
    unless `eval.raise_exceptions` is set. A NaN from ragas (e.g. no statements) is a null too."""

    def __init__(self, judge: Any, raise_exceptions: bool = False):
        if not isinstance(judge, LLMJudge):
            raise ConfigError("ragas metrics need a model judge: set eval.judge to generator or openai (or eval.engine=lore)")
        from ragas.metrics.collections import ContextPrecisionWithReference, ContextRecall, Faithfulness

        self.llm = ChatModelRagasLLM(judge)
        self.raise_exceptions = raise_exceptions
        self.faithfulness = Faithfulness(llm=self.llm)
        self.context_precision = ContextPrecisionWithReference(llm=self.llm, name="context_precision")
        self.context_recall = ContextRecall(llm=self.llm)

    async def _ascore(self, item: ScoreItem) -> dict[str, float | None]:
        contexts = [c for c in item.contexts if c.strip()] or [""]
        question = item.question or "(no question given)"
        out = {"faithfulness": (await self.faithfulness.ascore(user_input=question, response=item.answer, retrieved_contexts=contexts)).value}
        if item.reference:
            out["context_precision"] = (
                await self.context_precision.ascore(user_input=question, reference=item.reference, retrieved_contexts=contexts)
            ).value
            out["context_recall"] = (
                await self.context_recall.ascore(user_input=question, retrieved_contexts=contexts, reference=item.reference)
            ).value
        return {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)) for k, v in out.items()}

    def score(self, item: ScoreItem, relevancy: bool = False) -> dict[str, float | None]:
        scores = asyncio.run(self._ascore(item))
        if scores.get("faithfulness") is None:
            raise JudgeError("ragas faithfulness is NaN (no statements extracted from the answer)")
        return scores
