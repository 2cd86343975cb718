"""Privacy and offline defaults, applied before any third-party library is imported.

Telemetry of every library is off unless the user turned it on explicitly (setting `telemetry`),
and hub downloads are off unless a model is configured by hub id or URL.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

NO_TELEMETRY = {
    "ANONYMIZED_TELEMETRY": "False",  # chroma
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",  # unstructured
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "RAGAS_DO_NOT_TRACK": "true",  # ragas reads only "true"
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "STREAMLIT_SERVER_HEADLESS": "true",
    "TOKENIZERS_PARALLELISM": "false",
    # Not telemetry, but noise on stderr: model-loading bars and long-input warnings while counting tokens.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "LANGCHAIN_TRACING_V2": "false",
}

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _tiktoken_cache() -> str | None:
    """llama-index ships cl100k_base and o200k_base; point tiktoken there so nothing is downloaded."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return str(cache) if cache.is_dir() else None


def apply_privacy_defaults(*, offline: bool = True) -> None:
    """Set the environment defaults; values the user exported themselves win."""
    for key, value in NO_TELEMETRY.items():
        os.environ.setdefault(key, value)
    if offline:
        for key, value in OFFLINE.items():
            os.environ.setdefault(key, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ and (cache := _tiktoken_cache()):
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
