"""Lore's HTTP API: `create_app(settings)` builds a FastAPI app (served by `lore serve`).

Routes: OpenAI-compatible `POST /v1/chat/completions` (SSE streaming or not) and `GET /v1/models`,
`POST /v1/search`, `POST /v1/ingest` (admin keys), `GET /healthz`, `GET /readyz`, `GET /metrics`,
and the OpenAPI schema at `/openapi.json`. Every error is JSON in OpenAI's shape
`{"error": {"message", "type", "code"}}`; LoreErrors map to their `http_status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api_batching import BatchingEmbedder
from app.api_chat import MODEL_ID, ChatRunner
from app.api_metrics import ApiMetrics
from app.api_middleware import BodyLimitMiddleware, MetricsMiddleware
from app.api_schema import (
    ERROR_RESPONSES,
    ChatCompletion,
    ChatCompletionRequest,
    Health,
    IngestRequest,
    IngestResponse,
    ModelList,
    SearchRequest,
    SearchResponse,
)
from app.keys import ApiKey, KeyStore
from retrieval.errors import AccessDenied, InputError, LoreError, ModelUnavailableError
from retrieval.settings import Settings

log = logging.getLogger("lore.api")

NO_FASTAPI_TELEMETRY: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False, "auto_configure": False}


class Unauthorized(LoreError):
    http_status = 401


class UnknownModel(LoreError):
    http_status = 404


class ApiState:
    """What the routes share: settings, the (lazily built) assistant, keys, metrics, the answer pool."""

    def __init__(self, settings: Settings, assistant: Any = None, keys: KeyStore | None = None):
        self.settings = settings
        self._assistant = assistant
        self._lock = threading.Lock()
        self.keys = keys or KeyStore.for_settings(settings)
        self.metrics = ApiMetrics(settings.interactions_db, query_cache=self.query_cache_info)
        self.executor = ThreadPoolExecutor(max_workers=settings.api.max_concurrency, thread_name_prefix="lore-answer")
        self.ready = not settings.api.warm_up
        self.warm_error: str | None = None
        self.started = int(time.time())
        self.chat = ChatRunner(settings, self.assistant, self.executor, self.metrics.observe_answer)

    def assistant(self) -> Any:
        if self._assistant is None:
            with self._lock:
                if self._assistant is None:
                    from retrieval.assistant import build_assistant
                    from retrieval.embedders import make_embedder

                    api = self.settings.api
                    embedder = make_embedder(self.settings)
                    if api.batch_queries or api.query_cache_size:
                        embedder = BatchingEmbedder(embedder, max_batch=32 if api.batch_queries else 1, cache_size=api.query_cache_size)
                    assistant = build_assistant(self.settings, embedder=embedder)
                    assistant.retriever.limit_concurrency(retrieval_concurrency(self.settings))
                    self._assistant = assistant
        return self._assistant

    def query_cache_info(self) -> dict[str, int] | None:
        embedder = getattr(self._assistant, "embedder", None)
        return embedder.cache_info() if isinstance(embedder, BatchingEmbedder) else None

    def warm_up(self) -> None:
        try:
            self.assistant().warm_up(long_running=True)
            self.ready = True
        except LoreError as exc:
            self.warm_error = " ".join(str(exc).split())
            log.error("warm-up failed: %s", self.warm_error)
        except Exception as exc:  # keep serving /healthz and report the cause on /readyz
            self.warm_error = f"{type(exc).__name__}: {exc}"
            log.exception("warm-up failed")

    def generator_name(self) -> str:
        model = self._assistant.chat_model if self._assistant is not None else None
        return getattr(model, "name", "") or self.settings.models.generator.model


def retrieval_concurrency(settings: Settings) -> int:
    """How many retrievals one server process runs at once (api.retrieval_concurrency; 0: chosen)."""
    if settings.api.retrieval_concurrency:
        return settings.api.retrieval_concurrency
    # Against the embedded store, retrieval is CPU work, mostly Python, which one process runs on one
    # core at a time: a second retrieval beside it only adds switching (measured with 2 server
    # processes and 32 clients: 218 answers/s, p95 238 ms with 4 at once; 250/s, p95 175 ms with 1).
    # Against a Chroma server it mostly waits on the network, and answers may overlap freely.
    return 1 if settings.store.kind == "embedded" else settings.api.max_concurrency


def error_response(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON: send a JSON object with Content-Type: application/json"
    if where == "body":
        return f"the body must be a JSON object (Content-Type: application/json): {first.get('msg', 'invalid value')}"
    return f"invalid request at {where}: {first.get('msg', 'invalid value')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(exc), "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.exception_handler(LoreError)
    async def lore_error(_: Request, exc: LoreError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.warning("%s: %s", type(exc).__name__, exc)
        return error_response(status, " ".join(str(exc).split()), type(exc).__name__)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal error: see the server log", "internal_error")


def allowed_ingest_path(settings: Settings, raw: str) -> Path:
    """Resolve a requested path; it must lie inside LORE_HOME/uploads or one of api.ingest_roots."""
    uploads = settings.home / "uploads"
    roots = [uploads.resolve(), *(Path(r).expanduser().resolve() for r in settings.api.ingest_roots)]
    try:
        os.fsencode(raw)
    except UnicodeEncodeError:
        raise InputError("the path is not valid text for this server's file system: name an uploaded file") from None
    if "\x00" in raw or not raw.strip():
        raise InputError("empty or invalid path: name a file or folder inside LORE_HOME/uploads or api.ingest_roots")
    path = Path(raw)  # no `~` expansion: request paths name files under the roots, not home directories
    path = (path if path.is_absolute() else uploads / path).resolve()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise AccessDenied(f"{raw} is outside the ingest roots: put files in {uploads} or add the folder to api.ingest_roots")
    if not path.exists():
        raise InputError(f"{raw} does not exist on the server: upload it to {uploads} first")
    return path


def create_app(settings: Settings, assistant: Any = None, keys: KeyStore | None = None) -> FastAPI:
    state = ApiState(settings, assistant, keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if settings.api.warm_up:
            # Load models in the background: /healthz answers at once, /readyz once they are loaded.
            asyncio.get_running_loop().run_in_executor(None, state.warm_up)
        yield
        state.executor.shutdown(wait=False, cancel_futures=True)
        state.metrics.close()

    app = FastAPI(
        title="Lore API",
        version="1",
        description="Answers from your company's documents, with citations. OpenAI-compatible chat completions.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # FastAPI's own OpenTelemetry instrumentation is off unless `telemetry` is on, whatever the
        # environment says (FASTAPI_OTEL_AUTO_CONFIGURE adds OTLP exporters). Lore's metrics are /metrics.
        telemetry=None if settings.telemetry else NO_FASTAPI_TELEMETRY,
    )
    app.state.lore = state
    install_error_handlers(app)
    # The last added is the outermost: metrics see every response, the body limit's 413s included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)

    bearer = HTTPBearer(auto_error=False, description="an API key from `lore keys add`")

    def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiKey:
        if credentials is None:
            raise Unauthorized("missing API key: send Authorization: Bearer KEY (create one with `lore keys add USER --groups ...`)")
        key = state.keys.lookup(credentials.credentials)
        if key is None:
            raise Unauthorized("invalid or revoked API key: create one with `lore keys add USER --groups ...`")
        return key

    def require_admin(key: ApiKey = Depends(require_key)) -> ApiKey:
        if not key.is_admin(settings.app.admin_group):
            raise AccessDenied(f"this needs an admin key (a key whose groups include {settings.app.admin_group!r})")
        return key

    sse = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "the completion, or with stream=true a stream of chat.completion.chunk events"}}

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses=sse, tags=["openai"])
    async def chat_completions(body: ChatCompletionRequest, key: ApiKey = Depends(require_key)) -> Any:
        if body.model not in (MODEL_ID, state.generator_name()):
            raise UnknownModel(f"unknown model {body.model!r}: use {MODEL_ID!r} (GET /v1/models lists the models)")
        if body.stream:
            events = state.chat.stream(key, body)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return JSONResponse(await state.chat.complete(key, body))

    @app.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def models(_: ApiKey = Depends(require_key)) -> dict[str, Any]:
        ids = dict.fromkeys([MODEL_ID, state.generator_name()])
        return {"object": "list", "data": [{"id": i, "object": "model", "created": state.started, "owned_by": "lore"} for i in ids if i]}

    @app.post("/v1/search", response_model=SearchResponse, tags=["lore"])
    async def search(body: SearchRequest, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
        query = body.query.strip()
        if not query:
            raise InputError("the query is empty: send the words to search for")
        scored = await run_in_threadpool(state.assistant().search, query, groups=list(key.groups), top_k=body.top_k)
        state.metrics.searches.inc()
        return {"results": [
            {"id": s.chunk.id, "source": s.chunk.source, "page": s.chunk.page, "section": s.chunk.section, "score": round(s.score, 4), "text": s.chunk.text}
            for s in scored
        ]}

    @app.post("/v1/ingest", response_model=IngestResponse, tags=["admin"])
    async def ingest(body: IngestRequest, _: ApiKey = Depends(require_admin)) -> dict[str, Any]:
        paths = [allowed_ingest_path(settings, p) for p in body.paths]
        try:
            from ingest.pipeline import Ingestor
        except ImportError as exc:
            raise ModelUnavailableError("ingestion is not available in this installation: run `lore ingest` on the server") from exc
        a = state.assistant()
        ingestor = Ingestor(settings, a.index, a.embedder)
        report = await run_in_threadpool(ingestor.run, paths, acl_map=body.acl_map, delete_missing=body.delete_missing)
        return report.to_json()

    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "detail": {}}

    @app.get("/readyz", response_model=Health, tags=["ops"], responses={503: {"model": Health, "description": "not ready"}})
    async def readyz() -> JSONResponse:
        detail: dict[str, Any] = {"generator": state.generator_name()}
        if state.warm_error:
            return JSONResponse({"status": "failed", "detail": {**detail, "error": state.warm_error}}, status_code=503)
        if not state.ready:
            return JSONResponse({"status": "starting", "detail": {**detail, "message": "loading models"}}, status_code=503)
        try:
            detail["chunks"] = await run_in_threadpool(state.assistant().store.count)
        except LoreError as exc:
            return JSONResponse({"status": "unavailable", "detail": {**detail, "error": " ".join(str(exc).split())}}, status_code=503)
        return JSONResponse({"status": "ready", "detail": detail})

    metrics_auth: list[Callable[..., Any]] = [] if settings.api.metrics_public else [Depends(require_admin)]

    @app.get("/metrics", tags=["ops"], dependencies=metrics_auth,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}})
    async def metrics() -> Response:
        body = await run_in_threadpool(state.metrics.render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
