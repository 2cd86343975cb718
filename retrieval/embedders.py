"""Embedding models behind one small Protocol; `make_embedder()` picks the backend.

Vectors are L2-normalised, so cosine similarity is a dot product and Chroma's cosine distance
is `1 - similarity`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from retrieval.errors import ConfigError, MissingDependencyError, ModelUnavailableError
from retrieval.models import packaged_embedder_path, resolve_local
from retrieval.settings import EmbedderSettings, Settings

WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int  # text past this many tokens is not embedded

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def warm_up(self) -> None: ...


class LocalEmbedder:
    """sentence-transformers on a local directory (default: the packaged MiniLM) or a hub id."""

    def __init__(self, config: EmbedderSettings, models_dir):
        self.config = config
        self.models_dir = models_dir
        self.name = config.model or "all-MiniLM-L6-v2"
        self.dim = 384
        self.max_tokens = 256
        self._model: Any = None
        self._bf16: Any = None  # the model queries run on (see _query_model)
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError("the local embedder", "sentence-transformers") from exc
            if self.config.model:
                path = resolve_local(self.config.model, self.models_dir, "embedder model", "models.embedder.model")
                source = str(path) if path else self.config.model
            else:
                source = str(packaged_embedder_path())
            device = self.config.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            try:
                model = SentenceTransformer(source, device=device)
            except OSError as exc:
                raise ModelUnavailableError(f"could not load embedder {source!r} ({exc}): check models.embedder.model") from exc
            self.dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension())
            self.max_tokens = int(model.max_seq_length)
            self._model = model

    @property
    def tokenizer(self) -> Any:
        self.warm_up()
        return self._model.tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.warm_up()
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts), batch_size=self.config.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        # One short text: torch's intra-op threads only add synchronisation here. Measured on 2 busy
        # cores: 51 ms with one thread, 1,200 ms with two (p50 over 30 queries).
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Queries (short texts) on one torch thread with the query model; unit vectors."""
        import torch

        if not texts:
            return []
        model = self._query_model()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            vectors = model.encode(list(texts), convert_to_tensor=True, show_progress_bar=False).float()
        finally:
            torch.set_num_threads(threads)
        return torch.nn.functional.normalize(vectors, dim=-1).tolist()  # normalised in float32

    def _query_model(self) -> Any:
        """The model that embeds queries: on a CPU with native bfloat16 (`query_dtype` auto), a
        bfloat16 copy — a short query then takes 8 ms instead of 14 (quiet 2-core machine), and its
        vector keeps a cosine of 0.9999 to the float32 one. Documents keep their own precision."""
        self.warm_up()
        if self._bf16 is None:
            import torch

            wanted = self.config.query_dtype
            on_cpu = self._model.device.type == "cpu"
            if on_cpu and (wanted == "bfloat16" or (wanted == "auto" and cpu_has_native_bf16())):
                if next(self._model.parameters()).dtype == torch.bfloat16:
                    self._bf16 = self._model
                else:
                    import copy

                    self._bf16 = copy.deepcopy(self._model).to(torch.bfloat16)
            else:
                self._bf16 = self._model
        return self._bf16


def cpu_has_native_bf16() -> bool:
    """avx512_bf16 or AMX: bfloat16 matrix products run natively (2x float32 for MiniLM here)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in (" avx512_bf16", " amx_bf16"))


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible server (OpenAI, vLLM, TEI, Ollama)."""

    def __init__(self, config: EmbedderSettings):
        if not config.model:
            raise ConfigError("the openai embedder needs models.embedder.model (e.g. text-embedding-3-small)")
        self.config = config
        self.name = config.model
        self.dim = 0  # known after the first call
        self.max_tokens = 8191
        self._client: Any = None

    def warm_up(self) -> None:
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError as exc:
                raise MissingDependencyError("the openai embedder", "openai") from exc
            key = self.config.api_key.get_secret_value() if self.config.api_key else "not-needed"
            self._client = OpenAI(base_url=self.config.api_base or None, api_key=key, max_retries=2)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.warm_up()
        import openai

        vectors: list[list[float]] = []
        size = self.config.batch_size
        try:
            for start in range(0, len(texts), size):
                response = self._client.embeddings.create(model=self.config.model, input=list(texts[start : start + size]))
                vectors.extend(_normalise(item.embedding) for item in response.data)
        except openai.APIError as exc:
            raise ModelUnavailableError(f"the embedding server failed ({exc}): check models.embedder.api_base") from exc
        if vectors:
            self.dim = len(vectors[0])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class HashEmbedder:
    """Deterministic bag-of-words vectors (hashed, signed, normalised) for unit tests: texts that
    share words are similar, so retrieval behaves sensibly without a model."""

    def __init__(self, dim: int = 384):
        self.name = f"hash-{dim}"
        self.dim = dim
        self.max_tokens = 256

    def warm_up(self) -> None:
        pass

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(WORD.findall(t)) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dim
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        return _normalise(vec)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def _normalise(vec: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def make_embedder(settings: Settings) -> Embedder:
    config = settings.models.embedder
    match config.kind:
        case "local":
            return LocalEmbedder(config, settings.models.dir)
        case "openai":
            return OpenAIEmbedder(config)
        case "hash":
            return HashEmbedder(config.dim)
        case other:
            raise ConfigError(f"unknown embedder kind {other!r}: use local, openai or hash")
