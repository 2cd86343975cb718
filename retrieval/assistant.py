"""The Assistant facade: search and ask (retrieve → prompt → stream → cite → refuse → log), wired
once by `build_assistant(settings)`. The CLI, the app, the HTTP API and evaluation all use this.

Access control: `groups` is passed into both index queries; nothing outside the user's groups can
reach the prompt, the citations or the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from retrieval.answering import (
    CitationRewriter,
    Prompts,
    RepetitionGuard,
    accept_condensed,
    answer_messages,
    attributor,
    condense_messages,
    fit_contexts,
    recent_history,
    repeated_tail,
    stream_timing,
    verifier,
)
from retrieval.checks import check_sentences, renumber
from retrieval.composer import Composer
from retrieval.embedders import Embedder, make_embedder
from retrieval.errors import InputError
from retrieval.generators import ChatModel, make_chat_model
from retrieval.index import Index
from retrieval.interactions import InteractionLog
from retrieval.lexical import LexicalIndex
from retrieval.names import DocumentNames
from retrieval.passage_ranker import PassageRanker
from retrieval.retriever import Reranker, Retrieval, Retriever
from retrieval.schema import Answer, ChatMessage, ScoredChunk, Timings, Usage
from retrieval.settings import Settings
from retrieval.store import ChunkStore
from retrieval.text import REFUSAL, looks_like_refusal

MAX_QUESTION_CHARS = 4000
PROMPT_OVERHEAD_TOKENS = 64  # chat template tokens and the question's frame around the documents


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        index: Index,
        embedder: Embedder,
        chat_model: ChatModel,
        log: InteractionLog,
        reranker: Reranker | None = None,
        prompts: Prompts | None = None,
    ):
        self.settings = settings
        self.config = settings.retrieval
        self.index = index
        self.embedder = embedder
        self.chat_model = chat_model
        self.log = log
        self.reranker = reranker
        self.prompts = prompts or Prompts.load(self.config.prompts_dir)
        self.retriever = Retriever(self.config, index.store, embedder, index.lexical, reranker, index.names)
        self.passage_ranker = PassageRanker.load() if self.config.passage_ranker == "learned" else None
        self.composer = Composer(self)

    # what retrieval and the composer read: the parts of the index
    @property
    def store(self) -> ChunkStore:
        return self.index.store

    @property
    def lexical(self) -> LexicalIndex:
        return self.index.lexical

    @property
    def names(self) -> DocumentNames:
        return self.index.names

    def warm_up(self, long_running: bool = False) -> None:
        """Load the models and prefill the fixed system prompt, so the first question pays for neither.
        `long_running` (the API, the app): also hold a small store in memory (store.resident_max_chunks)."""
        self.embedder.warm_up()
        self.embedder.embed_query("warm up")
        self.store.count()  # opens the store (Chroma's first open costs a second or two)
        if long_running:
            self.store.keep_resident()
        self.chat_model.warm_up()
        if self.reranker is not None:
            self.reranker.warm_up()
        system = self.prompts.typed if self.config.answer_mode == "structured" else self.prompts.system
        self.chat_model.stream([ChatMessage("system", system), ChatMessage("user", "Hi")], max_tokens=1).read()

    # ---- search -----------------------------------------------------------------------------------

    def search(self, query: str, *, groups: list[str] | None, top_k: int | None = None) -> list[ScoredChunk]:
        """The best chunks for `query` readable by `groups`. `groups=None` means unfiltered and is for
        administrators and maintenance jobs only; a user's groups are always passed."""
        query = _clean(query, "query")
        return self.retriever.retrieve(query, groups, top_k).chunks

    # ---- ask --------------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        user: str = "anonymous",
        groups: list[str],
        history: Sequence[ChatMessage] = (),
        top_k: int | None = None,
        conversation_id: str | None = None,
        channel: str = "cli",
        on_token: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> Answer:
        """A cited answer. `on_token` receives the answer's text as it is written; `on_progress`
        short status lines before that ("searching …", "reading 5 passages")."""
        question = _clean(question, "question")
        if groups is None:
            raise InputError("ask needs the user's groups: pass groups=[...] (an empty list reads nothing)")
        started = time.perf_counter()
        emit = on_token or (lambda _text: None)
        query = self.condense(question, history)
        if self.config.answer_mode == "structured":
            answer = self._compose(question, query, list(groups), top_k, started, emit, on_progress or (lambda _text: None))
            self.log.record(answer, user=user, groups=list(groups), conversation_id=conversation_id, channel=channel)
            return answer
        t_retrieve = time.perf_counter()
        found = self.retriever.retrieve(query, list(groups), top_k)
        retrieve_ms = _ms(t_retrieve)
        if found.empty or found.best_dense < self.config.min_score:
            answer = self._refusal(question, query, found, retrieve_ms, started, emit)
        else:
            answer = self._generate(question, query, found, retrieve_ms, started, emit)
        self.log.record(answer, user=user, groups=list(groups), conversation_id=conversation_id, channel=channel)
        return answer

    def _compose(self, question: str, query: str, groups: list[str], top_k: int | None, started: float,
                 emit: Callable[[str], None], progress: Callable[[str], None]) -> Answer:
        """The typed, checked answer (retrieval/composer.py)."""
        composed = self.composer.answer(question, query, groups, top_k, emit, progress, started)
        first = (composed.first_text_at - started) * 1000.0 if composed.first_text_at is not None else None
        return Answer(
            answer=composed.text,
            refused=composed.refused,
            citations=composed.citations,
            timings=Timings(composed.retrieve_ms, first, _ms(started)),
            model=self.chat_model.name,
            usage=composed.usage,
            question=question,
            query=query,
            contexts=composed.contexts,
            kind=composed.details.get("type", ""),
            details=composed.details,
        )

    def condense(self, question: str, history: Sequence[ChatMessage]) -> str:
        """A standalone query for a follow-up question; the question itself when there is no history."""
        turns = recent_history(history, self.config.history_turns)
        if not any(m.role == "user" for m in turns):
            return question
        messages = condense_messages(self.prompts, turns, question)
        candidate = self.chat_model.stream(messages, max_tokens=self.config.condense_tokens, temperature=0.0, stop=["\n"]).read()
        return accept_condensed(candidate, question, turns)

    def _budget(self, answer_tokens: int) -> int:
        window = self.chat_model.context_window
        system = self.chat_model.count_tokens(self.prompts.system)
        room = window - answer_tokens - system - PROMPT_OVERHEAD_TOKENS
        return max(64, min(self.config.context_tokens, room))

    def _generate(
        self, question: str, query: str, found: Retrieval, retrieve_ms: float, started: float, emit: Callable[[str], None]
    ) -> Answer:
        answer_tokens = self.config.answer_tokens or self.settings.models.generator.max_new_tokens
        contexts = fit_contexts(found.chunks, self._budget(answer_tokens), self.chat_model.count_tokens)
        messages = answer_messages(self.prompts, question, contexts)
        rewriter = CitationRewriter(
            len(contexts),
            attribute=attributor(contexts) if self.config.attribute_uncited else None,
            verify=verifier(contexts) if self.config.verify_citations else None,
        )
        generating = time.perf_counter()
        stream = self.chat_model.stream(messages, max_tokens=answer_tokens)
        first_token_ms = first_delta = None
        guard = RepetitionGuard()
        for delta in stream:
            first_delta = first_delta or time.perf_counter()
            if guard.feed(delta):
                stream.stop()  # a loop: stop the model now instead of at max_tokens
                break
            out = rewriter.feed(delta)
            if out:
                first_token_ms = first_token_ms if first_token_ms is not None else _ms(started)
                emit(out)
        timing = stream_timing(generating, first_delta, time.perf_counter(), stream.usage.completion_tokens)
        if tail := rewriter.flush():
            first_token_ms = first_token_ms if first_token_ms is not None else _ms(started)
            emit(tail)
        text = rewriter.text.strip()
        if guard.tripped and (cut := repeated_tail(text)) is not None:
            text = text[:cut].rstrip()
        citations = rewriter.citations(contexts)
        removed: list[str] = []
        if self.config.check_numbers:  # the same rule as typed answers, sentence by sentence
            kept, removed = check_sentences(text, [contexts[n - 1] for n in rewriter.order], question)
            if removed:  # otherwise the text stays exactly as it was streamed
                text, citations = renumber(kept, citations)
        refused = looks_like_refusal(text, len(citations))
        usage = Usage(stream.usage.prompt_tokens, stream.usage.completion_tokens)
        return Answer(
            answer=REFUSAL if refused else text,
            refused=refused,
            citations=[] if refused else citations,
            timings=Timings(retrieve_ms, first_token_ms, _ms(started)),
            model=self.chat_model.name,
            usage=usage,
            question=question,
            query=query,
            contexts=contexts,
            dropped_markers=rewriter.dropped,
            details={**timing, **({"stopped": "repetition"} if guard.tripped else {}), **({"removed": removed} if removed else {})},
        )

    def _refusal(
        self, question: str, query: str, found: Retrieval, retrieve_ms: float, started: float, emit: Callable[[str], None]
    ) -> Answer:
        """Nothing relevant enough was retrieved: the fixed refusal, without calling the model."""
        emit(REFUSAL)
        return Answer(
            answer=REFUSAL,
            refused=True,
            citations=[],
            timings=Timings(retrieve_ms, _ms(started), _ms(started)),
            model=self.chat_model.name,
            usage=Usage(),
            question=question,
            query=query,
            contexts=found.chunks,
        )


def _clean(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InputError(f"the {what} is empty: give a {what} in words")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(f"the {what} is {len(text)} characters long: keep it under {MAX_QUESTION_CHARS}")
    return text


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


def make_reranker(settings: Settings, chat_model: ChatModel) -> Reranker | None:
    from retrieval.rerankers import make_reranker as factory

    return factory(settings, chat_model)


def build_assistant(
    settings: Settings,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
    index: Index | None = None,
    *,
    log: InteractionLog | None = None,
    reranker: Reranker | None = None,
) -> Assistant:
    """Wire everything once from the settings; any part can be injected (tests pass fakes)."""
    chat_model = chat_model or make_chat_model(settings)
    return Assistant(
        settings,
        index=index or Index.open(settings),
        embedder=embedder or make_embedder(settings),
        chat_model=chat_model,
        log=log or InteractionLog(settings.interactions_db),
        reranker=reranker or make_reranker(settings, chat_model),
    )
