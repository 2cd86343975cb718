"""Request and response bodies of the HTTP API (they are also its OpenAPI schema).

Chat follows OpenAI's chat-completions format; Lore's extras are the top-level fields `citations`,
`refused` and `lore` (see docs/api.md). Unknown OpenAI fields in requests are accepted and ignored,
so stock clients work unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_lone_surrogates(text: str) -> str:
    # JSON may carry "\\udXXX" escapes that decode to lone surrogates: no file system, SQLite or
    # tokenizer accepts them, so they are refused here rather than failing deep inside a request.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains invalid Unicode (a lone surrogate)") from None
    return text


Text = Annotated[str, AfterValidator(_no_lone_surrogates)]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: Text = Field(max_length=100_000)


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Text | list[TextPart] | None = Field(default=None)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: Text = Field("lore", max_length=256, description="`lore` (or the generator's name, see /v1/models)")
    messages: list[ChatMessageIn] = Field(min_length=1, description="the last user message is the question; earlier turns are history")
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, description="accepted for compatibility; the server's generator settings apply")
    temperature: float | None = Field(None, ge=0, le=2, description="accepted for compatibility; the server's generator settings apply")
    user: Text | None = Field(None, max_length=256, description="ignored: the user is the API key's user")
    top_k: int | None = Field(None, ge=1, le=100, description="Lore extension: passages to retrieve")
    conversation_id: Text | None = Field(None, max_length=128, description="Lore extension: groups turns in the interaction log")


class CitationOut(BaseModel):
    source: str
    page: int | str | None = None
    section: str = ""
    text: str
    score: float


class LoreExtra(BaseModel):
    interaction_id: str = ""
    timings: dict[str, float | None] = Field(default_factory=dict)
    model: str = ""
    answer: str | None = Field(None, description="streaming only: the final answer text (it can differ from the streamed deltas when markers were repaired)")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class UsageOut(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    citations: list[CitationOut] = Field(description="citations[n-1] is what the marker [n] in the answer points to")
    refused: bool = Field(description="true when the documents do not contain the answer (fixed refusal text)")
    lore: LoreExtra


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "lore"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Text = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(None, ge=1, le=100)


class SearchResult(BaseModel):
    id: str
    source: str
    page: int | str | None = None
    section: str = ""
    score: float
    text: str


class SearchResponse(BaseModel):
    results: list[SearchResult]


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[Text] = Field(min_length=1, max_length=1000, description="files or folders inside an allowed root (LORE_HOME/uploads or api.ingest_roots)")
    acl_map: dict[Text, list[Text]] | None = Field(None, description="ordered glob → groups, as in `lore ingest --acl-map`")
    delete_missing: bool = Field(False, description="delete documents that are gone from the given folders")


class IngestResponse(BaseModel):
    added: int
    updated: int
    unchanged: int
    deleted: int
    failed: list[dict[str, str]]
    files: int
    chunks: int
    total_chunks: int
    seconds: float


class Health(BaseModel):
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "invalid request"),
        (401, "missing or invalid API key"),
        (403, "the key may not do this"),
        (404, "unknown model"),
        (409, "another ingest is running"),
        (413, "request body too large"),
        (503, "the store or the model is not available"),
        (504, "the answer took longer than api.request_timeout_s"),
    )
}
