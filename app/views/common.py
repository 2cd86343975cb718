"""What every page shares: the settings, the signed-in identity, and the long-lived resources
(one assistant per settings, the interaction log, the conversation store), plus small UI helpers.

Resources are cached with `st.cache_resource` keyed by the settings, so a change of LORE_HOME or of
the profile gets its own assistant and models load once per process, not once per browser tab.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import streamlit as st

from app.auth import Identity
from app.conversations import ConversationStore
from retrieval.errors import AccessDenied, LoreError
from retrieval.interactions import InteractionLog
from retrieval.settings import Settings, load_settings

log = logging.getLogger("lore.app")

IDENTITY_KEY = "lore_identity"
SETTINGS_KEY = "lore_settings"


def load_app_settings() -> Settings:
    """The settings tree, from the environment `lore app` passed (LORE_HOME, LORE_PROFILE, LORE_CONFIG)."""
    return load_settings()


def settings() -> Settings:
    return st.session_state[SETTINGS_KEY]


def identity() -> Identity:
    """The signed-in user; the entry script stops the run before any page when there is none."""
    return st.session_state[IDENTITY_KEY]


def require_admin() -> Identity:
    who = identity()
    if not who.is_admin:
        raise AccessDenied(f"this page is for the {who.admin_group} group only")
    return who


def conversations_path(settings: Settings) -> Path:
    return settings.home / "conversations.sqlite"


@st.cache_resource(show_spinner="Loading the models…", max_entries=4)
def _assistant(key: str, _settings: Settings) -> Any:
    from retrieval.assistant import build_assistant

    assistant = build_assistant(_settings)
    assistant.warm_up(long_running=True)
    return assistant


def assistant(settings: Settings) -> Any:
    """The answering core, built and warmed once per settings (a failure is not cached: retried next run)."""
    return _assistant(settings.model_dump_json(), settings)


@st.cache_resource(max_entries=8)
def _interaction_log(path: str) -> InteractionLog:
    return InteractionLog(Path(path))


def interaction_log(settings: Settings) -> InteractionLog:
    return _interaction_log(str(settings.interactions_db))


@st.cache_resource(max_entries=8)
def _conversation_store(path: str) -> ConversationStore:
    return ConversationStore(Path(path))


def conversation_store(settings: Settings) -> ConversationStore:
    return _conversation_store(str(conversations_path(settings)))


def show_error(exc: BaseException) -> None:
    """A clear one-line message in the page, never a stack trace (the details go to the server log)."""
    if isinstance(exc, LoreError):
        st.error(" ".join(str(exc).split()), icon=":material/error:")
    else:
        log.exception("unexpected error in the app")
        st.error(
            f"Something went wrong ({type(exc).__name__}). The app is still running: try again, "
            "and if it persists ask an administrator to check the server log.",
            icon=":material/error:",
        )


# ---- display helpers --------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def escape_markdown(text: str) -> str:
    """Document text shown as-is: no accidental headings, links or emphasis from the source file."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def location_label(source: str, page: Any) -> str:
    """'page 3' for PDFs, 'slide 3' for slide decks, 'sheet Budget' for workbooks."""
    if page is None or page == "":
        return ""
    suffix = Path(source).suffix.lower()
    if suffix in (".pptx", ".ppt", ".odp"):
        return f"slide {page}"
    if suffix in (".xlsx", ".xls", ".xlsm", ".ods", ".csv") or isinstance(page, str):
        return f"sheet {page}"
    return f"page {page}"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, None when there are none."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    rank = min(len(data), max(1, math.ceil(q / 100 * len(data))))
    return data[rank - 1]
