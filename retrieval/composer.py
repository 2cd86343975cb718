"""Typed, checked answers (retrieval.answer_mode = "structured", the default): the question is
analysed (retrieval/questions.py), each part is retrieved on its own, the model fills the form for
the answer type (retrieval/structured.py), code checks it against the passages and writes the
answer. Parts stream as they are done; the caller sees progress before that.

The Assistant calls `Composer.answer`; the free-text path (answer_mode = "text") stays in
assistant.py for API models that write good prose themselves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.answering import REFUSAL, fit_contexts, render_documents
from retrieval.questions import QuestionPlan, plan
from retrieval.retriever import Retrieval
from retrieval.schema import Citation, ScoredChunk, Usage
from retrieval.structured import Checked, check, locate, messages_for, parse, render, schema_for

Emit = Callable[[str], None]
FORM_MIN_TOKENS = 160


@dataclass
class PartResult:
    label: str
    contexts: list[ScoredChunk]
    checked: Checked | None
    reason: str = ""  # why the part has no answer
    raw: str = ""


@dataclass
class Composed:
    text: str
    refused: bool
    citations: list[Citation]
    contexts: list[ScoredChunk]
    usage: Usage
    first_text_at: float | None
    details: dict[str, Any] = field(default_factory=dict)
    retrieve_ms: float = 0.0


class Composer:
    def __init__(self, assistant: Any):
        self.assistant = assistant
        self.config = assistant.config

    # ---- the plan ---------------------------------------------------------------------------------------

    def plan(self, question: str, groups: Sequence[str]) -> QuestionPlan:
        a = self.assistant
        names, lexical, c = a.names, a.lexical, self.config
        counts = lexical.count_matching if lexical is not None else None

        def named(text: str) -> list[str]:
            if names is None or not c.scope_docs:
                return []
            return names.named(text, groups, limit=c.scope_docs, ratio=c.scope_ratio, chunk_counts=counts)

        def name_terms(docs: Sequence[str]) -> set[str]:
            from retrieval.names import name_terms as terms

            return {t for d in docs for t in terms(names.get(d) or "")} if names is not None else set()

        def present(word: str) -> bool:
            return lexical is None or bool(lexical.search(word, 1, list(groups)))

        return plan(question, named=named, doc_name=names.get if names is not None else None, name_terms=name_terms, present=present)

    # ---- answering --------------------------------------------------------------------------------------

    def answer(self, question: str, query: str, groups: Sequence[str], top_k: int | None, emit: Emit,
               progress: Emit, started: float) -> Composed:
        a = self.assistant
        the_plan = self.plan(query, groups)
        details: dict[str, Any] = {"type": the_plan.kind, "topic": the_plan.topic, "parts": []}
        if the_plan.absent and not the_plan.named_docs and the_plan.absent[0] == _first_name(query):
            reason = f"no document available to you mentions {the_plan.absent[0]}"
            details["reason"] = reason
            return self._refusal(emit, started, details, [])
        kind = the_plan.kind
        if the_plan.split and kind in ("text", "list") and _asks_amount(query):
            kind = "number"
        budget = self.assistant._budget(self._answer_tokens())  # per part: each part is its own prompt
        usage, results, first_at, retrieve_ms = Usage(), [], None, 0.0
        order: list[tuple[int, int]] = []  # (part, prompt document) in order of first citation
        evidence: dict[tuple[int, int], str] = {}  # what the first sentence citing it took from it
        pieces: list[str] = []
        for index, part in enumerate(the_plan.parts):
            progress(f"searching {part.label or 'the documents'}")
            t_retrieve = time.perf_counter()
            found = self._retrieve(the_plan.topic, query, groups, top_k, part.docs)
            retrieve_ms += (time.perf_counter() - t_retrieve) * 1000.0
            if found.empty or found.best_dense < self.config.min_score:
                results.append(PartResult(part.label, [], None, "nothing relevant enough was found"))
                continue
            contexts = fit_contexts(found.chunks, budget, a.chat_model.count_tokens)
            sub_question = query if not part.label or not the_plan.split else f"{query} (Answer for {part.label} only.)"
            messages = messages_for(kind, sub_question, render_documents(contexts), a.prompts.typed, the_plan.yes_no_first)
            progress(f"reading {len(contexts)} passages{' of ' + part.label if part.label else ''}")
            stream = a.chat_model.stream(messages, max_tokens=self._answer_tokens(), temperature=0.0,
                                         json_schema=schema_for(kind, len(contexts), the_plan.yes_no_first))
            raw = stream.read()
            usage.prompt_tokens += stream.usage.prompt_tokens
            usage.completion_tokens += stream.usage.completion_tokens
            checked = check(parse(raw), contexts, query)
            result = PartResult(part.label, contexts, checked, "" if not checked.empty else "the model found no supported answer", raw)
            results.append(result)

            def cite(doc: int, said: str, index: int = index) -> int:
                if (index, doc) not in order:
                    order.append((index, doc))
                    evidence[(index, doc)] = said
                return order.index((index, doc)) + 1

            text = render(checked, cite, lead=part.label if the_plan.split else "")
            if text:
                piece = ("- " + text) if the_plan.split else text
                emit(("\n" if pieces else "") + piece)
                first_at = first_at if first_at is not None else time.perf_counter()
                pieces.append(piece)
        by_part = {i: r for i, r in enumerate(results)}
        details["parts"] = [_part_details(r) for r in results]
        contexts = [s for r in results for s in r.contexts]
        if not pieces:
            details["reason"] = "; ".join(r.reason for r in results if r.reason) or "no supported answer"
            composed = self._refusal(emit, started, details, contexts)
            composed.usage, composed.retrieve_ms = usage, retrieve_ms
            return composed
        citations = [_citation(by_part[i].contexts[doc - 1], evidence[(i, doc)]) for i, doc in order]
        return Composed("\n".join(pieces), False, citations, contexts, usage, first_at, details, retrieve_ms)

    def _retrieve(self, topic: str, query: str, groups: Sequence[str], top_k: int | None, docs) -> Retrieval:
        retriever = self.assistant.retriever
        found = retriever.retrieve(topic, list(groups), top_k, docs=docs)
        if docs is not None and (found.empty or found.best_dense < self.config.min_score):
            found = retriever.retrieve(query, list(groups), top_k)  # the names led nowhere: search everything
        return found

    def _answer_tokens(self) -> int:
        # A form cut short is unreadable: never less than FORM_MIN_TOKENS for it.
        return max(FORM_MIN_TOKENS, self.config.answer_tokens or self.assistant.settings.models.generator.max_new_tokens)

    def _refusal(self, emit: Emit, started: float, details: dict[str, Any], contexts: list[ScoredChunk]) -> Composed:
        emit(REFUSAL)
        return Composed(REFUSAL, True, [], contexts, Usage(), time.perf_counter(), details)


def _citation(scored: ScoredChunk, said: str, snippet_chars: int = 300) -> Citation:
    """A citation naming the page and section where `said` sits in the chunk (retrieval/structured.locate)."""
    chunk = scored.chunk
    offset = locate(said, chunk.text)
    page, section = chunk.located(offset)
    start = 0 if offset is None or len(chunk.text) <= snippet_chars else max(0, chunk.text.rfind("\n", 0, offset) + 1)
    text = chunk.text[start:]
    text = text if len(text) <= snippet_chars else text[:snippet_chars].rsplit(" ", 1)[0] + " …"
    return Citation(chunk.source, page, section, text, scored.score, chunk.id)


def _part_details(result: PartResult) -> dict[str, Any]:
    doc: dict[str, Any] = {"label": result.label, "passages": len(result.contexts)}
    if result.reason:
        doc["reason"] = result.reason
    if result.checked is not None:
        doc["dropped"] = result.checked.dropped
        doc["repaired"] = result.checked.repaired
    return doc


AMOUNT_WORDS = re.compile(r"\b(?:sales|revenue|revenues|income|margin|expenses?|costs?|cash|spending|expenditures?|inventor(?:y|ies)|debt|"
                          r"repurchases?|buybacks?|rate|earnings|profit|dividends?)\b", re.I)
REASON_WORDS = re.compile(r"\b(?:factors?|drivers?|reasons?|risks?|legal|proceedings|policies|policy|strateg\w+|why|explain)\b", re.I)


def _asks_amount(question: str) -> bool:
    """A question over several periods about an amount ("How has total net sales changed over time?")."""
    return bool(AMOUNT_WORDS.search(question)) and not REASON_WORDS.search(question)


def _first_name(question: str) -> str | None:
    from retrieval.questions import subject_names

    found = subject_names(question)
    return found[0] if found else None
