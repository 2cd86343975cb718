"""The chat page: conversations in the sidebar, streamed answers with expandable citations, a clear
"not found in the documents" state, thumbs up/down with a comment, and copy."""

from __future__ import annotations

import mimetypes
import queue
import threading
import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from app.auth import Identity
from app.conversations import ConversationStore, StoredMessage
from app.views import common
from retrieval.errors import LoreError
from retrieval.schema import Answer

CONVERSATION_KEY = "lore_conversation"
_DONE = object()


class _Status(str):
    """A progress line from the assistant (not part of the answer's text)."""


# ---- the sidebar ------------------------------------------------------------------------------


def _select(conversation_id: str | None) -> None:
    st.session_state[CONVERSATION_KEY] = conversation_id or uuid.uuid4().hex


def sidebar(store: ConversationStore, who: Identity, current: str, limit: int) -> None:
    with st.sidebar:
        st.button("New conversation", icon=":material/add:", on_click=_select, args=(None,), key="new_conversation", width="stretch")
        conversations = store.list(who.user, limit)
        if conversations:
            st.caption("Conversations")
        for conv in conversations:
            st.button(
                conv.title,
                key=f"conv-{conv.id}",
                on_click=_select,
                args=(conv.id,),
                type="secondary" if conv.id == current else "tertiary",
                width="stretch",
            )
        if store.get(current, who.user) is not None:
            st.button(
                "Delete this conversation",
                icon=":material/delete:",
                key="delete_conversation",
                type="tertiary",
                on_click=_delete,
                args=(store, current, who.user),
            )


def _delete(store: ConversationStore, conversation_id: str, user: str) -> None:
    store.delete(conversation_id, user)
    _select(None)


# ---- one answer -------------------------------------------------------------------------------


def _chunk_files(chunk_ids: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """chunk id → (file path, groups), looked up in the store (once per session and chunk)."""
    cache: dict[str, tuple[str, tuple[str, ...]]] = st.session_state.setdefault("lore_chunk_files", {})
    missing = [c for c in chunk_ids if c and c not in cache]
    if missing:
        try:
            for chunk in common.assistant(common.settings()).store.get(missing):
                cache[chunk.id] = (chunk.path, chunk.groups)
        except LoreError:
            pass  # no download button then; the citation text is still shown
    return cache


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def citations_block(citations: list[dict[str, Any]], who: Identity, key: str) -> None:
    files = _chunk_files([c.get("chunk_id", "") for c in citations])
    for n, cite in enumerate(citations, start=1):
        where = common.location_label(cite["source"], cite.get("page"))
        label = " · ".join(p for p in (f"[{n}] {cite['source']}", where, cite.get("section") or "") if p)
        with st.expander(label, icon=":material/description:"):
            st.markdown(common.escape_markdown(cite["text"]))
            path, groups = files.get(cite.get("chunk_id", ""), ("", ()))
            # The citation came from a query filtered by the user's groups; the file is offered only
            # when the chunk's groups still admit the user and the file is still where it was read.
            if path and set(groups) & set(who.groups) and Path(path).is_file():
                st.download_button(
                    f"Download {Path(path).name}",
                    data=lambda p=path: _read(p),
                    file_name=Path(path).name,
                    mime=mimetypes.guess_type(path)[0] or "application/octet-stream",
                    icon=":material/download:",
                    key=f"dl-{key}-{n}",
                    on_click="ignore",
                )


def _save_feedback(interaction_id: str, user: str) -> None:
    rating = st.session_state.get(f"fb-{interaction_id}")
    comment = st.session_state.get(f"fbc-{interaction_id}", "") or ""
    if rating is None:
        return
    common.interaction_log(common.settings()).save_feedback(interaction_id, user, 1 if rating == 1 else -1, comment)
    st.session_state[f"fb-saved-{interaction_id}"] = True


def _prefill_feedback(interaction_ids: list[str], user: str) -> None:
    """Show the rating and comment a user gave earlier (history reloaded after a restart)."""
    loaded: set[str] = st.session_state.setdefault("lore_feedback_loaded", set())
    todo = {i for i in interaction_ids if i and i not in loaded}
    if not todo:
        return
    for row in common.interaction_log(common.settings()).feedback(limit=2000):
        if row["interaction_id"] in todo and row["user"] == user:
            st.session_state.setdefault(f"fb-{row['interaction_id']}", 1 if row["rating"] > 0 else 0)
            st.session_state.setdefault(f"fbc-{row['interaction_id']}", row["comment"])
    loaded.update(todo)


def answer_block(message: StoredMessage, who: Identity, key: str) -> None:
    if message.refused:
        st.warning(f"**Not found in the documents.** {message.content}", icon=":material/search_off:")
    else:
        st.markdown(message.content)
    if message.citations:
        citations_block(message.citations, who, key)
    if not message.interaction_id:
        return
    iid = message.interaction_id
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):  # one row, also on a phone
        st.feedback("thumbs", key=f"fb-{iid}", on_change=_save_feedback, args=(iid, who.user))
        with st.popover("Copy", icon=":material/content_copy:"):
            st.code(message.content, language=None, wrap_lines=True)
    if st.session_state.get(f"fb-{iid}") is not None:
        st.text_input(
            "Comment (optional)",
            key=f"fbc-{iid}",
            on_change=_save_feedback,
            args=(iid, who.user),
            placeholder="What was good or wrong about this answer?",
        )
        if st.session_state.get(f"fb-saved-{iid}"):
            st.caption("Thank you: your feedback was saved.")


# ---- asking -----------------------------------------------------------------------------------


def ask_streaming(question: str, who: Identity, history: list, conversation_id: str) -> Answer:
    """Run the (blocking) assistant in a thread and stream its tokens into the page as they come."""
    assistant = common.assistant(common.settings())
    tokens: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["answer"] = assistant.ask(
                question,
                user=who.user,
                groups=list(who.groups),
                history=history,
                conversation_id=conversation_id,
                channel="app",
                on_token=tokens.put,
                on_progress=lambda status: tokens.put(_Status(status)),
            )
        except BaseException as exc:  # handed to the page thread, which shows it
            outcome["error"] = exc
        finally:
            tokens.put(_DONE)

    status = st.empty()

    def stream():
        while (item := tokens.get()) is not _DONE:
            if isinstance(item, _Status):  # typed answers: what is happening before the text is written
                status.caption(f"{item}…")
                continue
            status.empty()
            yield item

    worker = threading.Thread(target=work, name="lore-ask", daemon=True)
    worker.start()
    live = st.empty()
    with live.container():
        st.write_stream(stream())
    worker.join()
    status.empty()
    live.empty()  # the final answer is drawn by answer_block, with its refusal state and citations
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def stored_answer(answer: Answer) -> StoredMessage:
    citations = [{**c.to_json(), "chunk_id": c.chunk_id} for c in answer.citations]
    return StoredMessage("assistant", answer.answer, answer.interaction_id, answer.refused, citations)


def handle_question(question: str, store: ConversationStore, who: Identity, conversation_id: str) -> None:
    history = [m.chat_message() for m in store.messages(conversation_id, who.user)]
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        try:
            answer = ask_streaming(question, who, history, conversation_id)
        except Exception as exc:  # the model or the store is down: say so, keep the app running
            common.show_error(exc)
            return
        if store.get(conversation_id, who.user) is None:
            store.create(who.user, question, conversation_id=conversation_id)
        store.add(conversation_id, who.user, StoredMessage("user", question))
        store.add(conversation_id, who.user, stored_answer(answer))
    # Draw the page again from the stored history: the answer gets its citations and feedback
    # widgets, and the sidebar lists the conversation (first in the list now).
    st.rerun()


# ---- the page ---------------------------------------------------------------------------------


def main() -> None:
    settings = common.settings()
    who = common.identity()
    store = common.conversation_store(settings)
    if CONVERSATION_KEY not in st.session_state:
        _select(None)
    current = st.session_state[CONVERSATION_KEY]
    sidebar(store, who, current, settings.app.history_conversations)

    messages = store.messages(current, who.user)
    if not messages:
        st.title("Ask Lore")
        st.caption("Answers come only from the documents you may read, with their sources. Follow-up questions keep the context.")
    _prefill_feedback([m.interaction_id for m in messages], who.user)
    for index, message in enumerate(messages):
        with st.chat_message(message.role):
            if message.role == "user":
                st.markdown(message.content)
            else:
                answer_block(message, who, message.interaction_id or f"{current}-{index}")

    question = st.chat_input("Ask a question about the documents")
    if question and question.strip():
        handle_question(question.strip(), store, who, current)
    else:
        # Load the models once the page is drawn, so the first question does not pay for it
        # (cached per process; a failure is shown and retried on the next run).
        try:
            common.assistant(settings)
        except Exception as exc:
            common.show_error(exc)


main()
