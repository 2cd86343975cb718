"""Typed, checked answers (retrieval.answer_mode = "structured", the default): the question is
analysed (retrieval/questions.py), each part is retrieved on its own, the model fills the form for
the answer type (retrieval/structured.py), code checks it against the passages and writes the
answer. The caller sees progress ("searching …", "reading 5 passages") before the text.

The Assistant calls `Composer.answer`; the free-text path (answer_mode = "text") stays in
assistant.py for API models that write good prose themselves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from retrieval.answering import read_guarded, render_documents, split_sentences, stream_timing
from retrieval.checks import NIL_VALUE, Checked, check, locate, nil_verdict, quarters, quoted_sentence, render, restated, said_key
from retrieval.facts import date_in, dates
from retrieval.focus import (
    FIGURE,
    YEAR,
    YEAR_TO_DATE,
    ASKS_CHANGE,
    TOTAL_FIRST,
    best_row,
    best_rows,
    cell_figure,
    current_value,
    dated_value,
    defined_label,
    NUMBER_CELL,
    table_headings,
    table_rows,
    passage_sentences,
    term_overlap,
    SECTION_SEPARATOR,
    ROW_FILLER,
    SHARE_ROW,
    excerpt,
    headings,
    latest_values,
    quarter_value,
    listed_items,
    named_column,
    row_label,
    named_heading,
    question_terms,
    relevance,
    row_holding,
    row_score,
    row_topic,
    search_text,
    side_terms,
    stated_as_change,
    table_intro,
    table_cells,
    term_weights,
    text_terms,
    total_row,
    uses_term,
)
from retrieval.instances import asked_any, heads, instance_sentences, names_instance
from retrieval.passage_ranker import Query
from retrieval.questions import EXPLANATION, ORDINAL_QUARTER, QuestionPlan, asks_against_past, plan, short_name, without_implication
from retrieval.retriever import Retrieval
from retrieval import segments
from retrieval.schema import Citation, ScoredChunk, Usage
from retrieval.statements import CHANGE_REASON, RELATED, STATED, Asked, asked
from retrieval.structured import Draft, Fact, FormReader, Point, messages_for, parse, schema_for
from retrieval.text import REFUSAL

Emit = Callable[[str], None]
FORM_MIN_TOKENS = 160
ROW_CANDIDATES = 60  # passages of the named documents scanned for a table row naming the topic
ROW_PASSAGES = 2  # of which this many join the ranked passages
SECTION_PASSAGES = 4  # at most this many passages of the best passage's section come first
NOTE_CANDIDATES = 200  # passages of the named documents a word search for a note's topic scans (its words are everywhere: "income taxes")
TABLE_RUN = 8  # passages a table may run over (Microsoft's "components of debt": six)
NOTE_TABLE_ROWS = 14  # rows of such a note's table an answer gives, for each part
STATING_PASSAGES = 4  # at most this many passages stating what a question asks (retrieval/statements.py) come first
EXCERPT_TOKENS = 200  # at most this much of one passage goes into the prompt (retrieval/focus.py)
PROMPT_CANDIDATES = 8  # ranked passages considered for the prompt (as many as fit as excerpts)
MIN_EXCERPT_TOKENS = 40
MIN_PART_TOKENS = 120  # a part of a question over several documents gets at least this much context
SCALE = re.compile(r"\b(?:thousand|million|billion)s?\b", re.I)
TABLE_ROW_MATCH = 0.5  # a part the form left empty is read from a table row naming this much of the topic
# Two amounts compared are read from rows whose own labels name them (a heading naming "operating
# expenses" above a "Research and development" row is not the operating expenses).
COMPARED_ROW_MATCH = 0.9
RANK_CANDIDATES = 40  # fused passages the passage ranker re-scores (retrieval.passage_ranker = "learned")
RANK_ROWS = 10  # and passages brought in for a table row naming the topic, unranked by fusion
RANK_ROW_MATCH = 0.3
FISCAL_CANDIDATES = 20  # passages the words of an asked fiscal quarter find, read for it
INSTANCES_SHOWN = 2  # sentences naming an instance shown per part for an existence question (retrieval/instances.py)


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

        def spelled_like(word: str) -> bool:
            return lexical is None or lexical.spelled_like(word, list(groups))

        return plan(question, named=named, doc_name=names.get if names is not None else None, name_terms=name_terms, present=present,
                    spelled_like=spelled_like)

    # ---- answering --------------------------------------------------------------------------------------

    def answer(self, question: str, query: str, groups: Sequence[str], top_k: int | None, emit: Emit,
               progress: Emit, started: float) -> Composed:
        """Retrieve each part on its own (cheap), then fill one form over all parts' passages (one
        prefill: on a CPU the prompt costs more than the answer), check it and write it, grouped by
        part when the question spans several documents."""
        a = self.assistant
        the_plan = self.plan(query, groups)
        details: dict[str, Any] = {"type": the_plan.kind, "topic": the_plan.topic, "parts": []}
        if the_plan.absent and the_plan.absent[0] == _first_name(query):  # "Salesforce's … in its Q2 2023 10-Q"
            details["reason"] = f"no document available to you mentions {the_plan.absent[0]}"
            return self._refusal(emit, started, details, [], Usage(), 0.0)
        if the_plan.missing_period:
            details["reason"] = f"no document available to you covers {the_plan.missing_period}"
            return self._refusal(emit, started, details, [], Usage(), 0.0)
        kind = the_plan.kind
        if the_plan.split and not the_plan.sides and kind in ("text", "list") and _asks_amount(query):  # parts of documents
            kind = "number"
        if kind == "number" or _asks_amount(query):
            the_plan = self._with_defined_labels(the_plan, groups, details)
        lexical = a.lexical
        weights = term_weights(the_plan.topic, lexical.document_frequencies, lexical.count_cached()) if lexical is not None else {}
        row_weights = weights  # what a table row's label names
        part_weights = [weights] * len(the_plan.parts)
        if lexical is not None:
            labels = [part.row_label or row_topic(part.topic or the_plan.topic) for part in the_plan.parts]
            part_weights = [term_weights(label, lexical.document_frequencies, lexical.count_cached()) if label != the_plan.topic else weights
                            for label in labels]
            row_weights = part_weights[0] if part_weights else weights
        gathered, owner, details["parts"], retrieve_ms = self.gather(the_plan, kind, query, groups, top_k, progress, weights)
        if not gathered:
            details["reason"] = "nothing relevant enough was found"
            return self._refusal(emit, started, details, [], Usage(), retrieve_ms)
        contexts = [scored for scored, _ in gathered]
        shown = [text for _, text in gathered]
        passages = [scored.chunk for scored in contexts]
        if the_plan.dates and not any(date_in(d, c.text) for c in passages for d in dates(" ; ".join(the_plan.dates))):
            details["reason"] = f"no passage available to you mentions {the_plan.dates[0]}"
            return self._refusal(emit, started, details, contexts, Usage(), retrieve_ms)
        if unknown := _unnamed(the_plan.unknown, passages):
            # "the procedure for requesting a sabbatical": no passage speaks of sabbaticals, nor is one's
            # document, section or sheet named for them ("IT equipment catalogue" is a sheet's name)
            details["reason"] = f"no passage available to you mentions {unknown[0]!r}"
            return self._refusal(emit, started, details, contexts, Usage(), retrieve_ms)
        if the_plan.fiscal and not self._names_fiscal_quarter(the_plan, groups, passages):
            # "the fourth quarter of fiscal year 2024": no passage of the documents speaks of that quarter
            quarter, year = the_plan.fiscal[0]
            details["reason"] = f"no passage available to you mentions Q{quarter} of fiscal {year}"
            return self._refusal(emit, started, details, contexts, Usage(), retrieve_ms)
        sides = the_plan.sides  # what the model says of one side of a relation answers it
        # a figure of one of two things listed ("gaming and professional GPU segments") answers it too
        items = listed_items(the_plan.topic, shown, weights) if kind == "number" and not sides else []
        # what an effect question's cause did answers it, however the filing names the cause; that the
        # accounting policies did not change answers whether they did, whatever else the question names
        wanted = _asked(the_plan, query)
        asks = list(wanted.spellings or [" ".join(wanted.words)]) if wanted is not None else []
        relevant = relevance(the_plan.topic, weights, lexical.document_frequencies, lexical.count_cached(), [*sides, *items, *asks]) if weights else None
        # the passages' own sentences stand in for an answer only when they speak to the question as a whole
        whole_topic = relevance(the_plan.topic, weights, lexical.document_frequencies, lexical.count_cached()) if weights and sides else relevant
        order: list[int] = []  # prompt documents in order of first citation
        evidence: dict[int, str] = {}

        def cite(doc: int, said: str) -> int:
            if doc not in order:
                order.append(doc)
                evidence[doc] = said
            return order.index(doc) + 1

        # a relation question's sides read one note: its sentences answer both ("- Debt instruments: …" once)
        stated_plan, stated_owner = (replace(the_plan, parts=the_plan.parts[:1]), [0] * len(owner)) if sides else (the_plan, owner)
        if wanted is not None and (stated := _statements(contexts, stated_owner, wanted, len(stated_plan.parts))):
            # the filing states what was asked in figures: its own sentences are the answer, checked part
            # by part (two filings may state it in the same words: "There have been no material changes …")
            checked = Checked()
            for part in dict.fromkeys(stated_owner[p.doc - 1] for p in stated):
                one = check(Draft(points=[p for p in stated if stated_owner[p.doc - 1] == part]), contexts, query, relevant=relevant, shown=shown)
                checked.points += one.points
                checked.dropped += one.dropped
                checked.repaired += one.repaired
            checked.verdict = wanted.verdict if checked.points else None
            if wanted.polar and wanted.changed([[p.text for p in checked.points if stated_owner[p.doc - 1] == part] for part in set(stated_owner)]):
                checked.verdict = "yes"  # the note says what the company did: "we issued … senior notes"
            if text := self._write(checked, cite, stated_plan, stated_owner):
                details["checks"] = {"dropped": checked.dropped, "repaired": checked.repaired}
                details["stated"] = len(checked.points)
                emit(text)
                citations = [_citation(contexts[doc - 1], evidence[doc]) for doc in order]
                return Composed(text, False, citations, contexts, Usage(), time.perf_counter(), details, retrieve_ms)
        topic_row = _topic_row(contexts, row_weights) if kind == "number" and row_weights else None

        def check_item(draft: Draft) -> Checked:
            one = check(draft, contexts, query, relevant=relevant, shown=shown)
            if topic_row is not None:
                self._prefer_topic_row(one, topic_row, contexts, shown, row_weights, query, relevant)
            return one

        live = _LiveText(emit, cite, check_item)
        # one part: its items are shown as they are written (several: the lines follow the parts' order)
        share = the_plan.share and not the_plan.split
        compared = bool(the_plan.compared) and not the_plan.split and (kind == "number" or _asks_amount(query))
        # "were there any acquisitions …" over named documents: the form's yes/no is weighed against the instances they name
        asked = asked_any(query) if kind == "yes_no" and all(part.docs for part in the_plan.parts) else None
        # table rows that answer beside what the model writes, each part's after its items (read before the form:
        # the passages holding them join the prompt's documents, to be cited, not the prompt): each segment's figure for
        # "revenue distribution across its business segments" (retrieval/segments.py), and the rows of a note that is
        # a table for "What details were provided about changes in Microsoft's debt …"
        extra, extra_notes = self._segment_rows(the_plan, self._segments_asked(the_plan, query, groups), query, contexts, shown, owner, groups)
        if wanted is not None and wanted.in_order and (tables := self._note_tables(the_plan, wanted, groups)):
            rows, notes = self._note_table_rows(tables, query, contexts, shown, owner, groups)
            for index, facts in rows.items():
                extra.setdefault(index, []).extend(facts)
            extra_notes += notes
        # a share (its figure and the total), two amounts compared and an existence are read together, after the form
        whole = share or compared or asked is not None
        # several parts: each part's line is shown once the model has gone on to a later part
        by_part = _LiveParts(emit, cite, lambda index, items, first: self._part_line(
            index, items, first, the_plan, owner, contexts, shown, part_weights, query, relevant, extra), owner,
            [part.label for part in the_plan.parts]) if the_plan.split and not whole else None
        on_item = by_part.add if by_part is not None else None if the_plan.split or whole else live.add
        raw, usage = self._fill(kind, query, the_plan, gathered, progress, details, on_item=on_item,
                                on_start=by_part.starting if by_part is not None else None)
        if by_part is not None and by_part.finish(parse(raw).verdict):
            details["checks"] = {"dropped": by_part.checked.dropped, "repaired": by_part.checked.repaired + extra_notes}
            citations = [_citation(contexts[doc - 1], evidence[doc]) for doc in order]
            return Composed("\n".join(by_part.pieces), False, citations, contexts, usage, by_part.first_at, details, retrieve_ms)
        # "what was the effective tax rate, and how does it align with previous tax rates?": the reason it changed
        reasons = kind == "number" and not the_plan.split and asks_against_past(query)
        if live.pieces:
            for point in _change_reasons(live.checked.facts, contexts, weights) if reasons else []:
                live.add(point, None)
            live.extend(_beside(live.checked.facts, extra.get(0, []), contexts))
            details["checks"] = {"dropped": live.checked.dropped, "repaired": live.checked.repaired + extra_notes}
            citations = [_citation(contexts[doc - 1], evidence[doc]) for doc in order]
            return Composed(" ".join(live.pieces), False, citations, contexts, usage, live.first_at, details, retrieve_ms)
        checked = check(parse(raw), contexts, query, relevant=relevant, shown=shown)
        if the_plan.split:
            self._own_periods(checked, contexts, shown, query, relevant)
        if the_plan.split or kind == "number":  # a figure the form left out or got wrong is read from a row naming the topic
            self._read_empty_parts(checked, the_plan, owner, contexts, shown, part_weights, query, relevant)
            if checked.unbacked and checked.facts:  # the form's yes/no had no evidence of its own; the rows are its evidence
                checked.verdict = checked.unbacked
                checked.repaired.append(f"{checked.unbacked!r}: backed by the table rows read")
        if kind == "name" and not the_plan.split and not checked.facts and not checked.points:
            self._read_named_cell(checked, contexts, shown, row_weights, query, relevant)
        if share:
            self._read_share(checked, contexts, shown, weights, query, groups)
        elif compared:
            self._read_compared(checked, the_plan.compared, contexts, shown, query)
        if kind == "yes_no" and not checked.facts and not checked.points and checked.verdict != "yes" and relevant is not None:
            if found := _stated_none(contexts, relevant):
                checked.verdict = "no"
                checked.facts.append(Fact(found[0], found[1], found[1]))
                checked.repaired.append(f"no: the passage says so ({found[1][:60]!r})")
        for index, facts in extra.items():
            checked.facts += _beside([f for f in checked.facts if owner[f.doc - 1] == index], facts, contexts)
        checked.repaired += extra_notes
        none_named = None
        if asked is not None:
            none_named = self._read_instances(checked, the_plan, asked, query, contexts, shown, owner, groups)
        if reasons and (found := _change_reasons(checked.facts, contexts, weights)):
            checked.points += check(Draft(points=found), contexts, query, relevant=relevant, shown=shown).points
        details["checks"] = {"dropped": checked.dropped, "repaired": checked.repaired}
        text = none_named or self._write(checked, cite, the_plan, owner)
        if not text and kind in ("text", "list") and whole_topic is not None and EXPLANATION.search(query):
            # nothing the model wrote held up: the passages' own sentences that speak most to the
            # question, said to be the closest the documents come, rather than a refusal
            closest = Checked(points=_closest_sentences(contexts, owner, whole_topic, per_part=1 if the_plan.split else CLOSEST_SENTENCES))
            if closest.points:
                text = self._write(closest, cite, the_plan, owner)
                text = f"{CLOSEST_LEAD}\n{text}" if the_plan.split else f"{CLOSEST_LEAD} {text}"
                details["closest"] = len(closest.points)
        if not text:
            details["reason"] = "no answer the passages support" + (f" ({checked.dropped[0]})" if checked.dropped else "")
            return self._refusal(emit, started, details, contexts, usage, retrieve_ms)
        emit(text)
        first_at = time.perf_counter()
        citations = [_citation(contexts[doc - 1], evidence[doc]) for doc in order]
        return Composed(text, False, citations, contexts, usage, first_at, details, retrieve_ms)

    def _fill(self, kind: str, query: str, the_plan: QuestionPlan, gathered: list[tuple[ScoredChunk, str]], progress: Emit,
              details: dict[str, Any], on_item: Callable[[Fact | Point, str | None], None] | None = None,
              on_start: Callable[[int, str | None], None] | None = None) -> tuple[str, Usage]:
        """The model fills the form over the excerpts; where the time went goes into `details`.
        `on_item` receives each fact or point of the form as soon as it is written, with the yes/no
        verdict written before it; `on_start` the document number of each item as soon as the model
        has written it, before the rest of the item (with the verdict)."""
        a = self.assistant
        shown = [replace(scored, chunk=replace(scored.chunk, text=text)) for scored, text in gathered]
        ask = query
        if the_plan.sides:
            ask += f" Answer each separately: {'; '.join(part.label for part in the_plan.parts)}."
        elif the_plan.split:
            ask += " Give the answer for each document separately."
        messages = messages_for(kind, ask, render_documents(shown, short=True), a.prompts.typed, the_plan.yes_no_first)
        progress(f"reading {len(shown)} passages")
        started = time.perf_counter()
        stream = a.chat_model.stream(messages, max_tokens=self._answer_tokens(), temperature=0.0,
                                     json_schema=schema_for(kind, len(shown), the_plan.yes_no_first))
        first: list[float] = []
        form = FormReader()

        def on_delta(delta: str) -> None:
            if not first:
                first.append(time.perf_counter())
            if on_item is not None:
                for item in form.feed(delta):
                    on_item(item, form.verdict)
                if on_start is not None and form.writing is not None:
                    on_start(form.writing, form.verdict)

        raw, looped = read_guarded(stream, on_delta, fold_digits=False)
        details.update(stream_timing(started, first[0] if first else None, time.perf_counter(), stream.usage.completion_tokens))
        if looped:
            details["stopped"] = "repetition"
        return raw, Usage(stream.usage.prompt_tokens, stream.usage.completion_tokens)

    def gather(self, the_plan: QuestionPlan, kind: str, query: str, groups: Sequence[str], top_k: int | None,
               progress: Emit, weights: dict[str, float]) -> tuple[list[tuple[ScoredChunk, str]], list[int], list[dict[str, Any]], float]:
        """The prompt's passages: each part's best, as excerpts within its share of the context
        budget (the sides of a relation question take turns, so a passage both find is one side's
        and each side keeps its best). Returns ((passage, excerpt) pairs, the part of each, what each
        part found, retrieval ms)."""
        a = self.assistant
        share = max(MIN_PART_TOKENS, a._budget(self._answer_tokens()) // len(the_plan.parts))
        figures = kind == "number" or _asks_amount(query)  # the answer lives in a table row
        contexts: list[tuple[ScoredChunk, str]] = []
        owner: list[int] = []
        parts: list[dict[str, Any]] = []
        retrieve_ms = 0.0
        lexical = a.lexical
        wanted = _asked(the_plan, query)
        ranked: list[tuple[int, list[ScoredChunk], dict[str, float], bool]] = []  # (part, its passages, its words, tables first)
        for index, part in enumerate(the_plan.parts):
            progress(f"searching {part.label or 'the documents'}")
            t_retrieve = time.perf_counter()
            topic, mine, tables = the_plan.topic, weights, figures
            if part.topic:  # one side of a relation question: searched, and excerpted, for its own words
                topic, tables = part.topic, kind == "number" or _asks_amount(part.topic)
                mine = term_weights(topic, lexical.document_frequencies, lexical.count_cached(), side=True) if lexical is not None else weights
            if a.passage_ranker is not None:
                found = self._ranked(the_plan, topic, query, groups, part.docs, mine, tables)
            else:
                found = self._retrieve(topic, query, groups, top_k or PROMPT_CANDIDATES, part.docs)
                if tables and not found.empty:
                    found = self._with_rows(found, part.row_label or topic, groups, part.docs)
                elif not found.empty:
                    found = self._with_section(found, topic, side=bool(part.topic))
                if wanted is not None and not found.empty:
                    found = self._with_statements(found, wanted, groups, part.docs)
            retrieve_ms += (time.perf_counter() - t_retrieve) * 1000.0
            if found.empty or found.best_dense < self.config.min_score:
                parts.append({"label": part.label, "passages": 0, "reason": "nothing relevant enough was found"})
                continue
            if figures and the_plan.compared:
                found = self._with_compared_rows(found, the_plan.compared, groups, part.docs)
            ranked.append((index, found.chunks, mine, tables))
            parts.append({"label": part.label, "passages": 0})
        if the_plan.sides:
            picked = self._taking_turns(ranked, share)
        else:
            picked = [(index, kept) for index, chunks, mine, tables in ranked
                      for kept in self._excerpts(chunks, mine, share, prefer_tables=tables, wanted=wanted)]
        for index, kept in picked:
            contexts.append(kept)
            owner.append(index)
            parts[index]["passages"] += 1
        return contexts, owner, parts, retrieve_ms

    def _taking_turns(self, ranked: list[tuple[int, list[ScoredChunk], dict[str, float], bool]],
                      share: int) -> list[tuple[int, tuple[ScoredChunk, str]]]:
        """Each part's next best passage not yet taken, part after part, while its share lasts;
        grouped by part. (One search after the other would let the first side take the passage the
        second side ranks first, and label it as the first side's.)"""
        left = {index: share for index, *_ in ranked}
        queues = {index: (iter(chunks), mine, tables) for index, chunks, mine, tables in ranked}
        taken: set[str] = set()
        picked: list[tuple[int, tuple[ScoredChunk, str]]] = []
        turned = True
        while turned:
            turned = False
            for index, (chunks, mine, tables) in queues.items():
                for scored in chunks:
                    if left[index] < MIN_EXCERPT_TOKENS:
                        break
                    if scored.chunk.id in taken or (got := self._excerpt(scored, mine, left[index], tables)) is None:
                        continue
                    taken.add(scored.chunk.id)
                    picked.append((index, (scored, got[0])))
                    left[index] -= got[1]
                    turned = True
                    break
        return sorted(picked, key=lambda pick: pick[0])

    def _with_section(self, found: Retrieval, topic: str, side: bool = False) -> Retrieval:
        """The section the best passage belongs to, when its heading names the topic: a question
        about "legal proceedings" is answered by what stands under "Item 1. Legal Proceedings" (the
        Epic Games case), while the passage ranked first is often its closing boilerplate ("The
        Company is subject to other legal proceedings …"). The section's passages, in document
        order from its first, come before the rest of the ranking. (`side`: the topic is one side of
        a relation question, named by its side_terms.)"""
        top = found.chunks[0].chunk
        wanted = set(side_terms(topic) if side else question_terms(topic))
        depth = named_heading(top.section or "", wanted, side)
        if depth is None:
            return found
        path = headings(top.section)
        ancestry = path[: depth + 1]
        store = self.assistant.store

        def within(chunk) -> bool:
            return headings(chunk.section or "")[: depth + 1] == ancestry

        section = {top.chunk_index: top}
        for step in (-1, 1):
            index = top.chunk_index + step
            while len(section) < SECTION_PASSAGES and index >= 0:
                got = store.get(store.ids_at(top.doc_id, index))
                if not got or not within(got[0]):
                    break
                section[index] = got[0]
                index += step
        if len(section) == 1:
            return found
        best = found.chunks[0]
        ordered = [ScoredChunk(_tagged(section[i], path[depth:]), best.score, dense_score=best.dense_score) for i in sorted(section)]
        ids = {c.chunk.id for c in ordered}
        return Retrieval([*ordered, *(s for s in found.chunks if s.chunk.id not in ids)], found.best_dense)

    def _with_statements(self, found: Retrieval, wanted: Asked, groups: Sequence[str], docs) -> Retrieval:
        """For a question a filing answers in a sentence of its own (retrieval/statements.py: "How did
        foreign exchange rates affect Apple's financial performance?"), the passages of the named
        documents that state it ("Weakness in foreign currencies … had an unfavorable impact on the
        Company's total net sales, which decreased 1% or $1.2 billion"), those stating a figure first,
        then in the order of a word search for it, before the ranked ones (mostly how the company
        hedges it). When some state a figure, only those: given the hedging passages beside them, the
        model wrote about those instead. Unchanged when a passage says it was not done."""
        lexical = self.assistant.lexical
        if lexical is None:
            return found
        hits = lexical.search(wanted.search, NOTE_CANDIDATES if wanted.in_order else ROW_CANDIDATES, list(groups), docs=docs)
        chunks = self._readable([cid for cid, _ in hits], groups)
        done = wanted.done([chunk.text for chunk in chunks])
        if any(wanted.refuted(chunk.text, done) for chunk in chunks):
            return found
        scored = [(wanted.score(chunk.text), chunk) for chunk in chunks]
        best = max((score for score, _ in scored), default=0.0)
        if not best:
            return found
        ranked = {s.chunk.id: s for s in found.chunks}
        if wanted.in_order:  # each note's opening first, in the document's order
            if _table_opening(wanted, chunks)[0] is not None:
                # a note opening with its table ("Long-Term Debt"): the model reads the passages ranked for
                # the question, and the table's rows answer beside it (Composer._note_table_rows)
                return found
            opening: dict[str, int] = {}  # each note's first passage stating it
            for score, chunk in sorted(scored, key=lambda sc: sc[1].chunk_index):
                if score and (note := wanted.note(chunk.text)) is not None:
                    opening.setdefault(note, chunk.chunk_index)
            order = lambda rank, chunk: (chunk.chunk_index not in opening.values(), chunk.chunk_index)  # noqa: E731
        else:
            order = lambda rank, chunk: rank  # noqa: E731
        # (the rank breaks ties: two documents' passages may share a place in their documents)
        stating = [chunk for *_, chunk in sorted((-score, order(rank, chunk), rank, chunk) for rank, (score, chunk) in enumerate(scored) if score)]
        lead = [ranked.pop(chunk.id, None) or ScoredChunk(chunk, 0.0) for chunk in stating[:STATING_PASSAGES]]
        if best >= STATED:  # the filing states it in figures: that is the answer
            return Retrieval(lead, found.best_dense)
        return Retrieval([*lead, *ranked.values()], found.best_dense)

    def _excerpts(self, chunks: Sequence[ScoredChunk], weights: dict[str, float], budget: int,
                  prefer_tables: bool = False, wanted: Asked | None = None) -> list[tuple[ScoredChunk, str]]:
        """Passages in rank order, each with its excerpt for the topic (retrieval/focus.py), while
        the excerpts fit `budget` tokens; for a question a filing answers in a sentence of its own
        (`wanted`: retrieval/statements.py), a passage stating it is excerpted to those sentences."""
        kept: list[tuple[ScoredChunk, str]] = []
        left = budget
        for scored in chunks:
            if left < MIN_EXCERPT_TOKENS:
                break
            if (got := self._excerpt(scored, weights, left, prefer_tables, wanted)) is not None:
                kept.append((scored, got[0]))
                left -= got[1]
        return kept

    def _excerpt(self, scored: ScoredChunk, weights: dict[str, float], left: int, prefer_tables: bool,
                 wanted: Asked | None = None) -> tuple[str, int] | None:
        """A passage's excerpt for the topic and its cost in prompt tokens, or None when it does not
        fit in `left` or says nothing on its own."""
        if table_intro(scored.chunk.text):
            return None  # it says nothing without its table, a passage of its own
        count = self.assistant.chat_model.count_tokens
        text = (wanted is not None and wanted.excerpt(scored.chunk.text)) or scored.chunk.text
        text = excerpt(text, weights, min(left - 12, EXCERPT_TOKENS), count, prefer_tables=prefer_tables)
        cost = count(text) + 12  # the fence and its attributes
        return (text, cost) if cost <= left else None

    def _part_line(self, index: int, items: Sequence[Fact | Point], first: bool, the_plan: QuestionPlan, owner: list[int],
                   contexts: list[ScoredChunk], shown: list[str], part_weights: list[dict[str, float]], query: str, relevant,
                   extra: dict[int, list[Fact]]) -> Checked:
        """One part's items, checked as the whole form's are: its figures in its filing's own period,
        and, the first time the part is written, its table row read when the model left it empty, and
        the table rows read for it (`extra`: a segment's, a note's) after them."""
        one = check(Draft(facts=[i for i in items if isinstance(i, Fact)], points=[i for i in items if isinstance(i, Point)]),
                    contexts, query, relevant=relevant, shown=shown)
        self._own_periods(one, contexts, shown, query, relevant)
        if first:
            self._read_empty_parts(one, the_plan, owner, contexts, shown, part_weights, query, relevant, only=index)
            one.facts += _beside(one.facts, extra.get(index, []), contexts)
        return one

    @staticmethod
    def _read_empty_parts(checked: Checked, the_plan: QuestionPlan, owner: list[int], contexts: list[ScoredChunk],
                          shown: list[str], part_weights: list[dict[str, float]], query: str, relevant, only: int | None = None) -> None:
        """A part the form left empty (or whose figures the checks dropped) gets the latest period's
        figure of its passages' table row that names the topic, checked like the model's. Over several
        documents the model often answers one or two of four, or none when the question also asks why
        ("…? If so, what are the key drivers?"); for one figure it often copies the wrong passage's row
        (the "Net sales" row for "gross margin") while the right row is in the prompt. The rows are there."""
        answered = {owner[f.doc - 1] for f in checked.facts} | {owner[p.doc - 1] for p in checked.points}
        facts: list[Fact] = []
        for index in range(len(the_plan.parts)):
            if index in answered or only not in (None, index):
                continue
            mine = the_plan.parts[index].docs  # a passage of another document (a search that fell back to all) is not this part's

            def its_own(doc: int, index: int = index, mine=mine) -> bool:
                return owner[doc - 1] == index and (contexts[doc - 1].chunk.doc_id in mine if mine else not the_plan.split)

            found = _topic_row(contexts, part_weights[index], its_own)
            if found and found[0] >= TABLE_ROW_MATCH and (fact := _row_fact(contexts, found[2], found[1], part_weights[index])):
                facts.append(fact)
        if facts:
            read = check(Draft(facts=facts), contexts, query, relevant=relevant, shown=shown)
            checked.facts += read.facts
            checked.repaired += [f"{f.value!r}: read from the table row {f.about!r}" for f in read.facts]

    @staticmethod
    def _read_named_cell(checked: Checked, contexts: list[ScoredChunk], shown: list[str], weights: dict[str, float], query: str,
                         relevant) -> None:
        """A name the form left out (or gave as the question's own words) is read from the table row
        that names the topic, under the column whose heading names the rest of it: "Who is the office
        manager of the London headquarters?" → the "Office manager" cell of the "London (headquarters)"
        row. Checked like the model's; left as it was when no row or column names the topic."""
        found = _topic_row(contexts, weights)
        if found is None or found[0] < TABLE_ROW_MATCH:
            return
        _, row, doc = found
        if (name := named_column(contexts[doc - 1].chunk.text, row, weights, figures=False)) is None:
            return
        label = row_label(table_cells(row))
        read = check(Draft(facts=[Fact(doc, row, name, label)]), contexts, query, relevant=relevant, shown=shown)
        if read.facts:
            checked.facts = read.facts
            checked.repaired.append(f"{name!r}: read from the table row {label!r}, under the column its heading names")

    @staticmethod
    def _own_periods(checked: Checked, contexts: list[ScoredChunk], shown: list[str], query: str, relevant) -> None:
        """Over several filings each part's figure is its filing's own period: a figure the form copied
        from an earlier column of its row (Amazon's tables put the year-ago quarter first) is read again
        from the row's latest one, unless the question names a year; one copied from the year to date's
        column is read from the quarter's beside it (Intel's "YTD 2022" beside "Q3 2022"), unless the
        question asks for the year to date or the form states the quarter's figure of the row too."""
        if YEAR.search(query):
            return
        to_date = bool(YEAR_TO_DATE.search(query))

        def read_again(n: int, fact_read: Fact | None, why: str) -> None:
            """Fact n replaced by `fact_read`, when that passes the checks."""
            read = check(Draft(facts=[fact_read]), contexts, query, relevant=relevant, shown=shown) if fact_read else None
            if read is not None and read.facts:
                checked.repaired.append(f"{checked.facts[n].value!r} → {read.facts[0].value!r}: {why}")
                checked.facts[n] = read.facts[0]

        for n, fact in enumerate(checked.facts):
            text = contexts[fact.doc - 1].chunk.text
            if (row := row_holding(text, fact.value)) is None or not (latest := latest_values(text, row)):
                continue
            stated = {cell_figure(f) for f in FIGURE.findall(fact.value)}
            quarter = None if to_date else quarter_value(text, row)
            if (quarter is not None and not stated & {cell_figure(quarter)}
                    and not any(other.doc == fact.doc and cell_figure(quarter) in FIGURE.findall(other.value) for other in checked.facts)):
                read_again(n, Fact(fact.doc, row, quarter, row_label(table_cells(row))), "the filing's own quarter, its row's latest")
            elif not stated & {cell_figure(c) for c in latest}:  # not the latest date's column (the quarter's, or the year to date's)
                read_again(n, _row_fact(contexts, fact.doc, row), "the filing's own period, its row's latest column")

    @staticmethod
    def _prefer_topic_row(checked: Checked, topic_row: tuple[float, str, int], contexts: list[ScoredChunk], shown: list[str],
                          weights: dict[str, float], query: str, relevant) -> None:
        """A figure the form copied from a table row that names the topic less well than `topic_row`, the
        prompt's best (the cash flow statement's "Inventories", the quarter's change, beside the balance
        sheet's), is replaced by that row's figure for the latest period. Figures from sentences stay,
        unless they state a change ("revenue increased $3.9 billion") where the question asks the amount."""
        score, line, doc = topic_row
        if not checked.facts or score < TABLE_ROW_MATCH:
            return
        texts = [contexts[f.doc - 1].chunk.text for f in checked.facts]
        held = [row_holding(text, f.value) for text, f in zip(texts, checked.facts, strict=True)]
        if line in held:
            return
        from_sentences = [f for f, row in zip(checked.facts, held, strict=True) if row is None]
        if from_sentences and (ASKS_CHANGE.search(query) or not all(stated_as_change(f.quote, f.value) for f in from_sentences)):
            return  # a sentence's figure stays, unless it is the change of the amount asked for
        if max((row_score(text, row, weights) for text, row in zip(texts, held, strict=True) if row is not None), default=0.0) >= score - TOTAL_FIRST:
            return
        fact = _row_fact(contexts, doc, line, weights)
        read = check(Draft(facts=[fact]), contexts, query, relevant=relevant, shown=shown) if fact else None
        if read is not None and read.facts:
            checked.repaired.append(f"{checked.facts[0].value!r} → {read.facts[0].value!r}: the row {table_cells(line)[0]!r} names the topic better")
            checked.facts = read.facts

    def _read_share(self, checked: Checked, contexts: list[ScoredChunk], shown: list[str], weights: dict[str, float], query: str,
                    groups: Sequence[str]) -> None:
        """A share question ("What percentage of total revenue did Services contribute?") is answered
        with the two figures it is made of: the table row naming the topic and the "Total …" row of
        the same table (in the next passage of the document when the table continues there). The
        share itself is not computed: an answer states no number its passages do not hold. Left as
        the form had it when no total is found."""
        found = _topic_row(contexts, weights)
        if found is None or found[0] < TABLE_ROW_MATCH:
            return
        _, line, doc = found
        chunk = contexts[doc - 1].chunk
        pool, pool_shown = list(contexts), list(shown)
        total, total_doc = total_row(chunk.text, line), doc
        if total is None and chunk.text.rstrip().endswith("|") and (after := self._next_passage(chunk, groups)) is not None:
            if (total := total_row(after.text, None)) is not None:
                pool.append(ScoredChunk(after, 0.0))
                pool_shown.append(after.text)
                total_doc = len(pool)
        if total is None:
            return
        facts = []
        for at, row in ((doc, line), (total_doc, total)):
            if fact := _row_fact(pool, at, row):
                facts.append(fact)
        read = check(Draft(facts=facts), pool, query, shown=pool_shown)  # the total names the whole, not the topic
        if len(read.facts) == 2 and not (SCALE.search(read.facts[0].value) and not SCALE.search(read.facts[1].value)):
            # (a total whose passage does not state the table's unit, "(In millions)" above the split, is left out:
            # "$18,120" would read as dollars, and the unit is not in the passage it would cite)
            contexts.extend(pool[len(contexts):])
            shown.extend(pool_shown[len(shown):])
            checked.facts = read.facts
            checked.verdict = None
            checked.repaired.append(f"a share: {read.facts[0].value!r} of {read.facts[1].value!r}, read from their table rows")

    def _read_instances(self, checked: Checked, the_plan: QuestionPlan, asked: str, query: str, contexts: list[ScoredChunk],
                        shown: list[str], owner: list[int], groups: Sequence[str]) -> str | None:
        """An existence question over named documents ("were there any significant acquisitions or
        divestitures reported by Apple in the Q2 2023 10-Q?", retrieval/instances.py). The form's
        answer stands when its evidence names an instance, or says "no" with evidence of its own (the
        filing's "there were no …", a nil cell). Otherwise the sentences of each part's documents that
        name an instance answer "yes" (at most INSTANCES_SHOWN a part, brought into the prompt's
        documents to be cited) in place of what the form gave ("In January 2023 we announced the third
        phase of our OpenAI strategic partnership", asked about acquisitions); when none of the
        documents names one, the answer is "no", said as what was searched, and that text is
        returned. The form's unbacked "no" with instances found is left as it was."""
        head_terms = heads(asked)
        if checked.verdict == "no" and (checked.facts or checked.points):
            return None
        evidence = [(f.quote or f.value, row_holding(contexts[f.doc - 1].chunk.text, f.value)) for f in checked.facts]
        evidence += [(p.text, None) for p in checked.points]
        if any(names_instance(text, head_terms, query, table_cells(row)[0] if row else None) for text, row in evidence):
            return None
        found = [instance_sentences(self._using_topic(asked, groups, part.docs), head_terms, query, INSTANCES_SHOWN)
                 for part in the_plan.parts]
        gave = f" (the form gave {len(evidence)} piece(s) of evidence naming none)" if evidence else ""
        if not any(found):
            checked.repaired.append(f"no: no passage of the named documents names an instance of {asked!r}{gave}")
            checked.facts, checked.points, checked.verdict = [], [], "no"
            return f"No. No passage of {self._document_labels(the_plan)} reports any {asked}."
        if checked.unbacked == "no":
            return None
        ids = [s.chunk.id for s in contexts]
        checked.facts, checked.points = [], []
        for index, sentences in enumerate(found):
            for chunk, sentence in sentences:
                if chunk.id not in ids:
                    contexts.append(ScoredChunk(chunk, 0.0))
                    shown.append(chunk.text)
                    owner.append(index)
                    ids.append(chunk.id)
                checked.points.append(Point(ids.index(chunk.id) + 1, sentence))
        checked.verdict = "yes"
        checked.repaired.append(f"yes: {sum(map(len, found))} sentence(s) of the named documents name an instance of {asked!r}{gave}")
        return None

    def _segments_asked(self, the_plan: QuestionPlan, query: str, groups: Sequence[str]) -> list[tuple[int, tuple[str, ...], list[segments.Segment]]]:
        """For a question over the segments as a whole (retrieval/segments.py): each part that asks it
        (a relation question's side that speaks of the segments), with the measures it asks and its
        filing's segments; [] for any other question."""
        if self.assistant.lexical is None or segments.asked(query) is None:
            return []
        found = []
        for index, part in enumerate(the_plan.parts):
            if the_plan.sides and "segment" not in part.topic.lower():
                continue
            measures = segments.asked(query, part.topic if the_plan.sides else None)
            docs = part.docs or the_plan.named_docs or None
            named = segments.names(c.text for c in self._in_order(self._using_topic("segments reportable operating segment", groups, docs)))
            if measures is not None and segments.widened(query, named):
                found.append((index, measures, named))
        return found

    def _segment_rows(self, the_plan: QuestionPlan, by_segment: Sequence[tuple[int, tuple[str, ...], list[segments.Segment]]],
                      query: str, contexts: list[ScoredChunk], shown: list[str], owner: list[int],
                      groups: Sequence[str]) -> tuple[dict[int, list[Fact]], list[str]]:
        """For a question over the segments as a whole ("revenue distribution across its business segments",
        one side of "how does the operating expenses section relate to the segment reporting"): each
        segment's figure for each measure asked, read from the latest period of the table row that gives
        it (retrieval/segments.py), checked like the model's, named by segment ({part: facts}, and what was
        read). The passages holding the rows join the prompt's documents, to be cited. A part whose filing
        names no segments, or whose tables give none of them a figure, gets none."""
        found: dict[int, list[Fact]] = {}
        notes: list[str] = []
        for index, measures, named in by_segment:
            docs = the_plan.parts[index].docs or the_plan.named_docs or None
            rows: dict[tuple[str, str], tuple[Any, segments.SegmentRow]] = {}
            wanted = " ".join([*(s.name for s in named), *measures])
            for chunk in self._in_order(self._using_topic(wanted, groups, docs)):
                for row in segments.figures(chunk.text, named, measures):
                    if row.value(chunk.text) is not None:
                        rows.setdefault((row.segment.name, row.measure), (chunk, row))
            kept: list[Fact] = []
            for segment in named:
                for measure in measures:
                    if (at := rows.get((segment.name, measure))) is None:
                        continue
                    chunk, row = at
                    fact = Fact(_context_of(chunk, index, contexts, shown, owner), row.row, row.value(chunk.text) or "", "")
                    # checked one by one: a row names its segment, not the whole topic, and two segments may share a row (its columns)
                    for read in check(Draft(facts=[fact]), contexts, query, shown=shown).facts:
                        said = " — ".join(x for x in (segment.name if segment.named_in(read.about) is None else "",
                                                      measure if segments.measure_of(read.about) is None else "") if x)
                        kept.append(replace(read, about=", ".join(x for x in (said, read.about) if x)))
            if kept := [f for f in kept if owner[f.doc - 1] == index]:
                found[index] = kept
                notes.append(f"segments: {len(kept)} figure(s) of {', '.join(s.name for s in named)} read from their table rows")
        return found, notes

    def _note_tables(self, the_plan: QuestionPlan, wanted: Asked, groups: Sequence[str]) -> dict[int, tuple[Any, str]]:
        """For a question a note answers (retrieval/statements.py), the first passage of the note that opens
        with its table and the table's heading line, for each part whose filing has one ({part: (passage,
        heading)}; a relation question's sides
        read the one note: its first side). A filing with no note headed by the topic may give it as a
        table of another note, captioned by it (Intel's "Inventories (In Millions)" in "Other Financial
        Statement Details"): its first such table."""
        lexical = self.assistant.lexical
        found: dict[int, tuple[Any, str]] = {}
        for index, part in enumerate(the_plan.parts[:1] if the_plan.sides else the_plan.parts):
            hits = lexical.search(wanted.search, NOTE_CANDIDATES, list(groups), docs=part.docs or None) if lexical is not None else []
            chunks = self._readable([cid for cid, _ in hits], groups)
            table, noted = _table_opening(wanted, chunks)
            if table is not None:
                found[index] = (table, table_headings(table.text)[0])
            elif not noted and (captioned := next(((c, heading) for c in sorted(chunks, key=lambda c: c.chunk_index)
                                                   if (heading := wanted.captioned(c.text))), None)):
                found[index] = captioned
        return found

    def _note_table_rows(self, tables: dict[int, tuple[Any, str]], query: str, contexts: list[ScoredChunk], shown: list[str],
                         owner: list[int], groups: Sequence[str]) -> tuple[dict[int, list[Fact]], list[str]]:
        """A note the filing gives as a table (NVIDIA's "Long-Term Debt": each note, its maturity, its rate
        and its carrying value; Microsoft's "components of debt") answers with its rows too: each row's
        figure for the latest date, labelled by its row, from the table's first passage (its first rows)
        and its last (its totals), at most NOTE_TABLE_ROWS a part, each checked like the model's ({part:
        facts}, and what was read). The form reads the passages ranked for the question (the interest
        expense rows), and often writes nothing of the note ("The management discussion … mentions that
        NVIDIA's debt instruments are classified as available-for-sale"). The table's passages join the
        prompt's documents, to be cited."""
        found: dict[int, list[Fact]] = {}
        notes: list[str] = []
        for part, (opening, heading) in tables.items():
            run = self._table_run(opening, heading, groups)
            read: list[Fact] = []
            for chunk in dict.fromkeys([run[0], run[-1]]):
                doc = _context_of(chunk, part, contexts, shown, owner)
                figures = False
                for line in table_rows(chunk.text, heading):  # that table's, not the next one's in the passage
                    if not any(NUMBER_CELL.search(cell) for cell in table_cells(line)[1:]):
                        if figures:
                            break  # a heading after its rows: the next table ("| Interest and Other, Net |") runs on without a line between
                        continue
                    figures = True
                    if len(read) >= NOTE_TABLE_ROWS or (value := dated_value(chunk.text, line)) is None:
                        continue
                    read += check(Draft(facts=[Fact(doc, line, value, row_label(table_cells(line)))]), contexts, query, shown=shown).facts
            if read := [f for f in read if owner[f.doc - 1] == part]:
                found[part] = read
                notes.append(f"a note's table: {len(read)} row(s) read")
        return found, notes

    @staticmethod
    def _in_order(chunks: Sequence) -> list:
        """Passages in their document's order (a table's first passage before its continuation)."""
        return sorted(chunks, key=lambda c: (c.doc_id, c.chunk_index))

    def _table_run(self, chunk, heading: str, groups: Sequence[str]) -> list:
        """The passages the table `heading` heads in `chunk` runs over (each continuation repeats its
        heading), up to TABLE_RUN: a note given as a table is read from its first passage (its first rows)
        and its last (its totals)."""
        run = [chunk]
        while len(run) < TABLE_RUN and (after := self._next_passage(run[-1], groups)) is not None and heading in after.text.split("\n"):
            run.append(after)
        return run

    def _document_labels(self, the_plan: QuestionPlan) -> str:
        """The named documents as the answer names them ("2023 Q2 AAPL"; several: "A, B or C")."""
        names = self.assistant.names
        labels = [part.label for part in the_plan.parts if part.label] or [
            short_name(names.get(d) or d) if names is not None else d for d in the_plan.named_docs]
        return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"

    def _next_passage(self, chunk, groups: Sequence[str]):
        """The passage that follows `chunk` in its document, when the reader may see it."""
        ids = self.assistant.store.ids_at(chunk.doc_id, chunk.chunk_index + 1)
        return next(iter(self._readable(ids, groups)), None)

    def _names_fiscal_quarter(self, the_plan: QuestionPlan, groups: Sequence[str], found: Sequence) -> bool:
        """Does a passage found, or one of the named documents' (or of everything readable) that
        the words of the quarter find, name a fiscal quarter the question asks for? A table of "Three
        Months Ended April 30, 2023" is NVIDIA's first quarter of fiscal 2024; the text around it says so."""
        asked = set(the_plan.fiscal)
        if any(asked & quarters(chunk.text) for chunk in found):
            return True
        if self.assistant.lexical is None:
            return True
        ordinal = {int(label[1]): word for word, label in ORDINAL_QUARTER.items()}  # 4 → "fourth"
        words = " ".join(f"{ordinal[q]} quarter fiscal {y}" for q, y in asked)
        hits = self.assistant.lexical.search(words, FISCAL_CANDIDATES, list(groups), docs=the_plan.named_docs or None)
        return any(asked & quarters(chunk.text) for chunk in self._readable([cid for cid, _ in hits], groups))

    def _using_topic(self, topic: str, groups: Sequence[str], docs) -> list:
        """The passages of the named documents that use the topic's words most (BM25), up to ROW_CANDIDATES."""
        found = self.assistant.lexical.search(search_text(topic), ROW_CANDIDATES, list(groups), docs=docs)
        return self._readable([cid for cid, _ in found], groups)

    def _readable(self, ids: Sequence[str], groups: Sequence[str]) -> list:
        """The stored chunks of `ids` that `groups` may read (a lexical row out of step with the store never widens access)."""
        readable = set(groups)
        return [c for c in self.assistant.store.get(ids) if readable & set(c.groups)]

    def _write(self, checked: Checked, cite, the_plan: QuestionPlan, owner: list[int]) -> str:
        """One text, or one line per part (in the order of the parts) for a question over several
        documents; a yes/no verdict leads the lines once ("Yes." then what each document says)."""
        if not the_plan.split:
            return render(checked, cite)
        lines = []
        for index, part in enumerate(the_plan.parts):
            mine = Checked(
                facts=[f for f in checked.facts if owner[f.doc - 1] == index],
                points=[p for p in checked.points if owner[p.doc - 1] == index],
            )
            if mine.facts or mine.points:
                lines.append("- " + render(mine, cite, lead=part.label))
        if lines and checked.verdict in ("yes", "no"):
            lines.insert(0, checked.verdict.capitalize() + ".")
        return "\n".join(lines)

    def _retrieve(self, topic: str, query: str, groups: Sequence[str], top_k: int | None, docs) -> Retrieval:
        retriever = self.assistant.retriever
        found = retriever.retrieve(topic, list(groups), top_k, docs=docs)
        if docs is not None and (found.empty or found.best_dense < self.config.min_score):
            found = retriever.retrieve(query, list(groups), top_k)  # the names led nowhere: search everything
        return found

    def candidates(self, topic: str, query: str, groups: Sequence[str], docs) -> tuple[Retrieval, list[int | None]]:
        """What the passage ranker re-scores: the first RANK_CANDIDATES fused passages, then up to
        RANK_ROWS passages of the named documents whose table row names the topic (None: no fused
        rank). Each with its cosine to the topic."""
        found = self._retrieve(topic, query, groups, RANK_CANDIDATES, docs)
        ranks: list[int | None] = list(range(1, len(found.chunks) + 1))
        lexical, store = self.assistant.lexical, self.assistant.store
        if found.empty or lexical is None:
            return found, ranks
        seen = {s.chunk.id for s in found.chunks}
        extra = [c for c in self._using_topic(topic, groups, docs) if c.id not in seen]
        rows = best_rows(row_topic(topic), extra, lexical.document_frequencies, lexical.count_cached(), k=RANK_ROWS, min_match=RANK_ROW_MATCH)
        if not rows:
            return found, ranks
        vector = self.assistant.embedder.embed_query(topic)
        stored = store.fetch([c.id for c in rows])
        added = [ScoredChunk(c, 0.0, dense_score=float(np.dot(vector, stored[c.id][1])) if c.id in stored else None) for c in rows]
        return Retrieval([*found.chunks, *added], found.best_dense), ranks + [None] * len(added)

    def _ranked(self, the_plan: QuestionPlan, topic: str, query: str, groups: Sequence[str], docs, weights: dict[str, float],
                figures: bool) -> Retrieval:
        """The candidates for `topic` re-ordered by the passage ranker (retrieval/passage_ranker.py)."""
        found, ranks = self.candidates(topic, query, groups, docs)
        if found.empty:
            return found
        ranked = self.assistant.passage_ranker.rank(Query(weights, figures, the_plan.kind == "yes_no"), found.chunks, ranks)
        return Retrieval(ranked, found.best_dense)

    def _with_defined_labels(self, the_plan: QuestionPlan, groups: Sequence[str], details: dict[str, Any]) -> QuestionPlan:
        """Each part's line item that its documents count the topic under, when none of their rows names
        the topic itself and one of their passages defines the item as covering it ("Technology and
        infrastructure costs include … research and development …": Amazon's R&D; its older filings
        say "Technology and content"). The part's rows are then read under that label, and the topic
        names the labels too, so that their rows are searched and count as on topic."""
        lexical = self.assistant.lexical
        if lexical is None:
            return the_plan
        topic = row_topic(the_plan.topic)
        parts = []
        for part in the_plan.parts:
            candidates = self._using_topic(topic, groups, part.docs)
            label = None
            if not best_rows(topic, candidates, lexical.document_frequencies, lexical.count_cached(), k=1):
                label = defined_label(topic, candidates)
            parts.append(replace(part, row_label=label) if label else part)
        labels = list(dict.fromkeys(p.row_label for p in parts if p.row_label))
        if not labels:
            return the_plan
        details["defined_as"] = labels
        return replace(the_plan, parts=tuple(parts), topic="; ".join([the_plan.topic, *labels]))

    def _with_rows(self, found: Retrieval, topic: str, groups: Sequence[str], docs) -> Retrieval:
        """The passages whose table row names the topic (retrieval/focus.py), among the passages of
        the named documents that use its words, then the other ranked ones: a figure is read from its
        row, and a part of a question over several documents has room for one passage or two.
        (On the dev half, rows first against rows after the first ranked passage: golden 0.862 against
        0.793, sec10q one question lost: docs/retrieval.md.)"""
        lexical = self.assistant.lexical
        if lexical is None:
            return found
        candidates = self._using_topic(topic, groups, docs)
        rows = best_rows(row_topic(topic), candidates, lexical.document_frequencies, lexical.count_cached(), k=ROW_PASSAGES)
        if not rows:
            return found
        ranked = {s.chunk.id: s for s in found.chunks}
        lead = [ranked.pop(c.id, None) or ScoredChunk(c, 0.0) for c in rows]
        return Retrieval([*lead, *ranked.values()], found.best_dense)

    def _with_compared_rows(self, found: Retrieval, sides: Sequence[str], groups: Sequence[str], docs) -> Retrieval:
        """For "how did X compare to Y": the passage holding the row that names X and the one holding
        Y's lead the ranked passages (one passage when both rows are in it). Unchanged unless both
        are found: the question then compares amounts the filing does not tabulate."""
        lexical = self.assistant.lexical
        if lexical is None:
            return found
        lead: dict[str, ScoredChunk] = {}
        ranked = {s.chunk.id: s for s in found.chunks}
        for side in sides:
            rows = best_rows(side, self._using_topic(side, groups, docs), lexical.document_frequencies, lexical.count_cached(), k=1,
                             min_match=COMPARED_ROW_MATCH)
            if not rows:
                return found
            lead.setdefault(rows[0].id, ranked.get(rows[0].id) or ScoredChunk(rows[0], 0.0))
        return Retrieval([*lead.values(), *(s for cid, s in ranked.items() if cid not in lead)], found.best_dense)

    def _read_compared(self, checked: Checked, sides: Sequence[str], contexts: list[ScoredChunk], shown: list[str], query: str) -> None:
        """"How did X compare to Y": each side's figure is read from the table row of the passages that
        names it best (the latest period's column), checked like the model's, and the two replace what
        the form wrote. Left as the form had it unless both rows are found and pass the checks."""
        lexical = self.assistant.lexical
        if lexical is None:
            return
        facts = []
        for side in sides:
            weights = term_weights(side, lexical.document_frequencies, lexical.count_cached())
            found = _topic_row(contexts, weights)
            fact = _row_fact(contexts, found[2], found[1], weights) if found and found[0] >= COMPARED_ROW_MATCH else None
            if fact is None:
                return
            facts.append(fact)
        if share := _share_row(contexts, facts[0], sides[1]):
            facts.append(share)
        read = check(Draft(facts=facts), contexts, query, shown=shown)  # each row names one side, not the whole topic
        if len(read.facts) != len(facts):
            return
        checked.facts = read.facts
        checked.points = []
        checked.verdict = None
        checked.repaired.append("compared: " + ", ".join(f"{f.value!r} ({f.about})" for f in read.facts) + ", read from their table rows")

    def _answer_tokens(self) -> int:
        # A form cut short is unreadable: never less than FORM_MIN_TOKENS for it.
        return max(FORM_MIN_TOKENS, self.config.answer_tokens or self.assistant.settings.models.generator.max_new_tokens)

    def _refusal(self, emit: Emit, started: float, details: dict[str, Any], contexts: list[ScoredChunk], usage: Usage,
                 retrieve_ms: float) -> Composed:
        emit(REFUSAL)
        return Composed(REFUSAL, True, [], contexts, usage, time.perf_counter(), details, retrieve_ms)


class _LiveText:
    """An answer shown item by item: each fact or point is checked on its own as the model closes
    it (the checks of one never depend on the others) and, when it survives and says something
    new, rendered with its marker and emitted, a yes/no verdict before the first. The first item
    reaches the reader while the rest of the form is still being written."""

    def __init__(self, emit: Emit, cite, check_draft: Callable[[Draft], Checked]):
        self.emit, self.cite, self.check_draft = emit, cite, check_draft
        self.checked = Checked()
        self.pieces: list[str] = []
        self.said: set[str] = set()  # each item's sentence as shown, without its marker
        self.quoted: list[str] = []  # the documents' own sentences shown (checks.quoted_sentence)
        self.first_at: float | None = None

    def add(self, item: Fact | Point, verdict: str | None) -> None:
        # checked without the verdict: one item's drop is not the answer's; the verdict leads the first item kept
        one = self.check_draft(Draft(facts=[item]) if isinstance(item, Fact) else Draft(points=[item]))
        self.checked.dropped += one.dropped
        self.checked.repaired += one.repaired
        values = {f.value for f in self.checked.facts}  # one figure from two passages (the same row twice) is said once
        fresh = Checked(facts=[f for f in one.facts if f.value not in values and _said(f) not in self.said and not restated(f, self.quoted)],
                        points=[p for p in one.points if _said(p) not in self.said],  # one sentence as a value and a point: once
                        verdict=_yes_no(verdict) if one.facts and not self.pieces else None)
        if (nil := nil_verdict(fresh.verdict, fresh.facts)) != fresh.verdict:
            self.checked.repaired.append(f"{fresh.verdict!r} → {nil!r}: the asked period's cells are nil")
            fresh.verdict = nil
        self.said |= {_said(item) for item in [*fresh.facts, *fresh.points]}
        self.quoted += [sentence for f in fresh.facts if (sentence := quoted_sentence(f))]
        piece = render(fresh, self.cite) if fresh.facts or fresh.points else ""
        if not piece:
            return
        self.checked.facts += fresh.facts
        self.checked.points += fresh.points
        self.emit((" " if self.pieces else "") + piece)
        self.pieces.append(piece)
        if self.first_at is None:
            self.first_at = time.perf_counter()


    def extend(self, facts: Sequence[Fact]) -> None:
        """Facts checked already (table rows read beside the model's items), shown after them."""
        fresh = Checked(facts=[f for f in facts if _said(f) not in self.said])
        if not fresh.facts:
            return
        self.said |= {_said(f) for f in fresh.facts}
        self.checked.facts += fresh.facts
        piece = render(fresh, self.cite)
        self.emit((" " if self.pieces else "") + piece)
        self.pieces.append(piece)


class _LiveParts:
    """An answer over several documents shown part by part: the model writes the parts in order, so
    when it begins an item of a later part (its "doc" is written) the earlier parts are complete; each is then checked
    (`check_part`), written as its line and emitted. An item the model writes for a part already
    shown (it went back) gets a line of its own after the others, under the part's label, unless it
    says what an earlier line said. The form's yes/no verdict leads the lines, as in the answer
    written after the form: it stands only on a fact, and a "yes" whose every fact is the asked
    period's nil is a "no" — so the lines wait until a fact that is not nil has been shown (or the
    form ends: then the verdict is weighed on all of them)."""

    def __init__(self, emit: Emit, cite, check_part: Callable[[int, list, bool], Checked], owner: list[int], labels: list[str]):
        self.emit, self.cite, self.check_part, self.owner, self.labels = emit, cite, check_part, owner, labels
        self.items: dict[int, list[Fact | Point]] = {}
        self.late: dict[int, list[Fact | Point]] = {}
        self.shown_upto = 0  # the parts before this one are written
        self.checked = Checked()
        self.pieces: list[str] = []
        self.said: set[tuple[int, str]] = set()  # (part, each item's sentence as shown, without its marker)
        self.first_at: float | None = None
        self.verdict: str | None = None  # the form's yes/no, once written
        self.held: list[str] = []  # lines written while the verdict that leads them is undecided
        self.opened = False  # the lines are flowing (the verdict, if any, emitted)

    def add(self, item: Fact | Point, verdict: str | None) -> None:
        self.verdict = _yes_no(verdict)
        # an item citing no prompt passage belongs to the part being written (its check says why it is dropped)
        index = self.owner[item.doc - 1] if 1 <= item.doc <= len(self.owner) else self.shown_upto
        if index < self.shown_upto:
            self.late.setdefault(index, []).append(item)
            return
        self.items.setdefault(index, []).append(item)
        self._show(upto=index)

    def starting(self, doc: int, verdict: str | None) -> None:
        """The model has begun an item of prompt document `doc`: the parts before its part are complete."""
        self.verdict = _yes_no(verdict)
        if 1 <= doc <= len(self.owner):
            self._show(upto=self.owner[doc - 1])

    def finish(self, verdict: str | None) -> bool:
        """Write the parts not yet shown, then the late items; whether anything was shown. `verdict`:
        the form's yes/no as finally written."""
        self.verdict = _yes_no(verdict)
        self._show(upto=len(self.labels))
        while self.late:
            index = min(self.late)
            self._line(index, self.late.pop(index), first=False)
        if not self.opened and self.held:
            verdict = nil_verdict(self.verdict, self.checked.facts) if self.checked.facts else None
            self._open(verdict)
        return bool(self.pieces)

    def _show(self, upto: int) -> None:
        while self.shown_upto < upto:
            self._line(self.shown_upto, self.items.pop(self.shown_upto, []), first=True)
            self.shown_upto += 1

    def _line(self, index: int, items: list[Fact | Point], first: bool) -> None:
        one = self.check_part(index, items, first)
        self.checked.dropped += one.dropped
        self.checked.repaired += one.repaired
        # an item whose quote the checks found in another part's passage (its citation repaired) is that part's
        for item in [*one.facts, *one.points]:
            if (other := self.owner[item.doc - 1]) != index:
                (self.items if other >= self.shown_upto else self.late).setdefault(other, []).append(item)
        # (what two filings both say, each says: the same sentence is left out only within one part)
        fresh = Checked(facts=[f for f in one.facts if self.owner[f.doc - 1] == index and (index, _said(f)) not in self.said],
                        points=[p for p in one.points if self.owner[p.doc - 1] == index and (index, _said(p)) not in self.said])
        if not (fresh.facts or fresh.points):
            return
        self.said |= {(index, _said(item)) for item in [*fresh.facts, *fresh.points]}
        self.checked.facts += fresh.facts
        self.checked.points += fresh.points
        piece = "- " + render(fresh, self.cite, lead=self.labels[index])
        if self.opened:
            self._emit(piece)
            return
        self.held.append(piece)
        if self.verdict is None or any(f.value != NIL_VALUE for f in fresh.facts):
            self._open(self.verdict)

    def _open(self, verdict: str | None) -> None:
        self.opened = True
        for piece in [*([verdict.capitalize() + "."] if verdict else []), *self.held]:
            self._emit(piece)
        self.held = []

    def _emit(self, piece: str) -> None:
        self.emit(("\n" if self.pieces else "") + piece)
        self.pieces.append(piece)
        if self.first_at is None:
            self.first_at = time.perf_counter()


def _table_opening(wanted: Asked, chunks: Sequence) -> tuple[Any, bool]:
    """The first passage, in the document's order, of the first note on the topic that opens with its
    table (rows, and no sentence stating it: NVIDIA's "Long-Term Debt"), or None; and whether any
    passage belongs to a note on the topic at all."""
    seen: set[str] = set()
    for chunk in sorted(chunks, key=lambda c: c.chunk_index):
        if (note := wanted.note(chunk.text)) is None:
            continue
        if note not in seen and not wanted.score(chunk.text) and wanted.tabled(chunk.text):
            return chunk, True
        seen.add(note)
    return None, bool(seen)


def _context_of(chunk, part: int, contexts: list[ScoredChunk], shown: list[str], owner: list[int]) -> int:
    """The prompt document number of `chunk` as a passage of `part`, added to the prompt's documents (to
    be cited, not shown to the model) when it is not one yet; a passage another part holds (the sides of a
    relation question take turns at the passages) is added again, as this part's."""
    at = next((doc for doc, scored in enumerate(contexts, start=1) if scored.chunk.id == chunk.id and owner[doc - 1] == part), None)
    if at is None:
        contexts.append(ScoredChunk(chunk, 0.0))
        shown.append(chunk.text)
        owner.append(part)
        at = len(contexts)
    return at


def _beside(facts: Sequence[Fact], rows: Sequence[Fact], contexts: Sequence[ScoredChunk]) -> list[Fact]:
    """The table `rows` read for a part (a segment's, a note's) that say what its `facts` (the model's)
    do not: not a figure of the same passage the model stated, nor a row the model read."""
    said = {(f.doc, f.value) for f in facts} | {(f.doc, row_holding(contexts[f.doc - 1].chunk.text, f.value)) for f in facts}
    return [row for row in rows if (row.doc, row.value) not in said and (row.doc, row.quote) not in said]


def _yes_no(verdict: str | None) -> str | None:
    """The form's verdict when it is a yes or a no ("not stated" and none: None)."""
    return verdict if verdict in ("yes", "no") else None


def _said(item: Fact | Point) -> str:
    """An item's sentence as the answer shows it, without marker, case and spacing: the same
    sentence given twice (as a value and as a point) compares equal."""
    return said_key(render(Checked(facts=[item]) if isinstance(item, Fact) else Checked(points=[item]), lambda doc, said: 0))


def _topic_row(contexts: Sequence[ScoredChunk], weights: dict[str, float], keep: Callable[[int], bool] = lambda doc: True,
               ) -> tuple[float, str, int] | None:
    """The table row of the prompt's passages (those `keep` accepts, by prompt number) that names the
    weighted topic best: (score, row, prompt number)."""
    rows = [(found, doc) for doc in range(1, len(contexts) + 1) if keep(doc) and (found := best_row(contexts[doc - 1].chunk.text, weights))]
    if not rows:
        return None
    (score, line), doc = max(rows, key=lambda r: r[0][0])
    return score, line, doc


def _row_fact(contexts: Sequence[ScoredChunk], doc: int, row: str, weights: dict[str, float] | None = None) -> Fact | None:
    """A fact for a table row of prompt passage `doc`: the figure under the column whose heading names
    the weighted topic, else its latest period's figure; labelled by the row."""
    text = contexts[doc - 1].chunk.text
    value = (named_column(text, row, weights) if weights else None) or current_value(text, row)
    return Fact(doc, row, value, row_label(table_cells(row))) if value else None


def _share_row(contexts: Sequence[ScoredChunk], fact: Fact, whole: str) -> Fact | None:
    """The row under `fact`'s row that states it as a share of the other side ("| Total operating
    expenses | $ 2,508 | … |" followed by "| % of net revenue | 34.9 % | … |"): how the two compare,
    in the filing's own figure. None when the next row is no such share, or a share of something else."""
    text = contexts[fact.doc - 1].chunk.text
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line == fact.quote), None)
    if at is None or at + 1 >= len(lines) or not lines[at + 1].startswith("|"):
        return None
    below = lines[at + 1]
    m = SHARE_ROW.match(table_cells(below)[0])
    if not m or not (set(question_terms(m.group("whole"))) & set(question_terms(whole))) - ROW_FILLER:  # "net" alone names no whole
        return None
    value = current_value(text, below)
    return Fact(fact.doc, below, value, f"{fact.about}, {m.group(0)}") if value else None


def _citation(scored: ScoredChunk, said: str, snippet_chars: int = 300) -> Citation:
    """A citation naming the page and section where `said` sits in the chunk (retrieval/structured.locate)."""
    chunk = scored.chunk
    offset = locate(said, chunk.text)
    page, section = chunk.located(offset)
    start = 0 if offset is None or len(chunk.text) <= snippet_chars else max(0, chunk.text.rfind("\n", 0, offset) + 1)
    text = chunk.text[start:]
    text = text if len(text) <= snippet_chars else text[:snippet_chars].rsplit(" ", 1)[0] + " …"
    return Citation(chunk.source, page, section, text, scored.score, chunk.id)


AMOUNT_WORDS = re.compile(r"\b(?:sales|revenue|revenues|income|margin|expenses?|costs?|cash|spending|expenditures?|inventor(?:y|ies)|debt|"
                          r"repurchases?|buybacks?|rate|earnings|profit|dividends?)\b", re.I)
REASON_WORDS = re.compile(r"\b(?:factors?|drivers?|reasons?|risks?|legal|proceedings|policies|policy|strateg\w+|why|explain)\b", re.I)


def _tagged(chunk, named: list[str]):
    """The passage with the named section's heading in its tag ("[2023 Q2 AAPL › Epic Games]" →
    "[2023 Q2 AAPL › Item 1. Legal Proceedings › Epic Games]"): what the passage is about, for
    the model and the checks."""
    first, _, rest = chunk.text.partition("\n")
    if not (first.startswith("[") and first.endswith("]")) or named[0] in first:
        return chunk
    document = first[1:-1].split(SECTION_SEPARATOR)[0]
    own = headings(chunk.section or "")
    return replace(chunk, text=f"[{SECTION_SEPARATOR.join([document, *dict.fromkeys([named[0], *own[-1:]])])}]\n{rest}")


def _asks_amount(question: str) -> bool:
    """A question over several periods about an amount ("How has total net sales changed over time?"),
    not about its reasons (a closing "what might this suggest about their strategy" asks for no reasons
    the documents give)."""
    return bool(AMOUNT_WORDS.search(question)) and not REASON_WORDS.search(without_implication(question))


# A passage saying there was none: "There have been no material changes to our accounting policies."
STATED_NONE = re.compile(
    r"\bthere (?:have|has|had) been no\b|\bthere (?:were|was|are|is) no\b|\b(?:we|the company) (?:did|do|does|have|has) not\b"
    r"|^\s*no (?:material|significant|new)\b",
    re.I,
)
REASON_MATCH = 0.5  # the reason's sentence names this much of the topic


def _change_reasons(facts: Sequence[Fact], contexts: Sequence[ScoredChunk], weights: dict[str, float]) -> list[Point]:
    """For figures stated in a passage's own sentence, the sentence right after it there (in any
    prompt passage holding it) when that one gives the reason the figure changed and names the
    topic: what "how does it align with previous tax rates" asks beyond the rates."""
    found: list[Point] = []
    for fact in facts:
        if not (stated := quoted_sentence(fact)):
            continue
        key = said_key(stated)
        for doc, scored in enumerate(contexts, start=1):
            said = passage_sentences(scored.chunk.text)
            at = next((i for i, sentence in enumerate(said) if said_key(sentence) == key), None)
            if at is None or at + 1 == len(said):
                continue
            reason = said[at + 1]
            if CHANGE_REASON.search(reason) and term_overlap(reason, weights) >= REASON_MATCH:
                found.append(Point(doc, reason))
                break
    return found


NONE_RELEVANCE = 0.6  # a "there was none" sentence must speak to this much of the topic


def _stated_none(contexts: Sequence[ScoredChunk], relevant: Callable[[str], float]) -> tuple[int, str] | None:
    """For a yes/no question the form left without an answer: the passage sentence that says there
    was none of what the question asks about (the filing's own "no"), as (prompt document, sentence)."""
    best: tuple[float, int, str] | None = None
    for doc, scored in enumerate(contexts, start=1):
        for sentence in split_sentences(scored.chunk.text):
            sentence = sentence.strip()
            if "|" in sentence or len(sentence) > 300 or not STATED_NONE.search(sentence):
                continue
            share = relevant(sentence)
            if share >= NONE_RELEVANCE and (best is None or share > best[0]):
                best = (share, doc, sentence)
    return (best[1], best[2]) if best else None


# A question that asks for an explanation or a relation (questions.EXPLANATION: "how does the
# segment reporting relate to operating expenses?") whose form held nothing the passages support is
# answered with the passages' own sentences that speak to this much of its topic, at most
# CLOSEST_SENTENCES of them (one per document for a question over several), under CLOSEST_LEAD: the
# reader sees what the documents say nearest to the question. A question for one thing ("what was
# the wafer yield at its Arizona fab?") that no form answered is refused, as before.
CLOSEST_RELEVANCE = 0.5
CLOSEST_SENTENCES = 2
STATED_SENTENCES = 3  # sentences stating what a question asks (retrieval/statements.py), for one document
STATED_PER_PART = 2  # for each of several documents
RELATED_SENTENCES = 1  # sentences a stating passage adds about what was asked (retrieval/statements.py)
NOTED_SENTENCES = 4  # a note's opening sentences stating figures (retrieval/statements.py), for one document
NOTED_PER_PART = 2  # for each of several documents
CLOSEST_LEAD = "Nothing answers this in so many words; the passages closest to it say:"


def _closest_sentences(contexts: Sequence[ScoredChunk], owner: Sequence[int], relevant: Callable[[str], float],
                       per_part: int) -> list[Point]:
    """The prose sentences of the passages that speak most to the topic, best first, at most
    `per_part` from each part's passages (`owner[i]`: the part of prompt document i + 1)."""
    scored: list[tuple[float, int, str]] = []
    for doc, passage in enumerate(contexts, start=1):
        for sentence in split_sentences(passage.chunk.text):
            sentence = " ".join(sentence.split())
            if "|" in sentence or "[" in sentence or "]" in sentence or not 40 <= len(sentence) <= 400 or len(sentence.split()) < 6:
                continue  # a table row, (the end of) a heading path, a fragment
            if (share := relevant(sentence)) >= CLOSEST_RELEVANCE:
                scored.append((share, doc, sentence))
    taken: dict[int, int] = {}
    points: list[Point] = []
    for _share, doc, sentence in sorted(scored, key=lambda s: -s[0]):
        part = owner[doc - 1]
        if taken.get(part, 0) >= per_part or any(p.text == sentence for p in points):
            continue
        taken[part] = taken.get(part, 0) + 1
        points.append(Point(doc, sentence))
    return points


def _asked(the_plan: QuestionPlan, query: str) -> Asked | None:
    """What sentences answer the question when a filing answers it in one of its own; for a question
    relating two things, only a note's ("correlate the details of debt instruments in the financial
    statements with the management discussion on debt strategy": what the note on debt states)."""
    wanted = asked(the_plan.topic, query)
    return None if the_plan.sides and (wanted is None or wanted.kind != "noted") else wanted


def _statements(contexts: Sequence[ScoredChunk], owner: Sequence[int], wanted: Asked, parts: int) -> list[Point]:
    """For a question whose prompt passages state its answer (Composer._with_statements), those
    sentences as the answer's points: each part's, one a passage (its best), those stating a figure
    first, at most STATED_SENTENCES (one document) or STATED_PER_PART (each of several). Empty unless
    every part that found passages has such a sentence and one of them states a figure: "We are
    affected by changes in currency exchange and interest rates" alone says nothing of what they did,
    and the model reads the passages instead."""
    found: dict[int, list[tuple[float, int, str]]] = {}
    notes: set[tuple[int, str | None]] = set()
    passages: set[str] = set()  # found for both sides of a relation question
    for doc, passage in enumerate(contexts, start=1):  # whole sentences: an excerpt may end one with "…"
        # a passage's best: "Products gross margin decreased …" says no more in a second sentence, Europe's net sales do
        if passage.chunk.id not in passages and (said := wanted.sentences(passage.chunk.text)):
            passages.add(passage.chunk.id)
            score, sentence = max(said, key=lambda s: s[0])
            if wanted.in_order:  # a note's opening (its first passage): its sentences together
                if (note := (owner[doc - 1], wanted.note(passage.chunk.text))) in notes and parts > 1:
                    continue
                notes.add(note)
                sentence = " ".join(s for _, s in said[:NOTED_SENTENCES if parts == 1 else NOTED_PER_PART])
            if score == RELATED:
                continue  # said beside the company's saying it did it, or not at all
            if score >= STATED:  # with what the passage adds of the same year ("… $18.7 billion remained of our program")
                sentence = " ".join([sentence, *(s for sc, s in said if sc == RELATED)][:1 + RELATED_SENTENCES])
            found.setdefault(owner[doc - 1], []).append((-score, doc, sentence))
    if set(found) != set(owner) or not any(-score >= STATED for said in found.values() for score, *_ in said):
        return []
    if wanted.in_order and any(min(doc for _, doc, _ in said) != owner.index(part) + 1 for part, said in found.items()):
        return []  # a note's opening leads each part's passages, or the model reads them (Composer._with_statements)
    most = STATED_SENTENCES if parts == 1 else STATED_PER_PART
    return [Point(doc, sentence) for part in sorted(found) for _, doc, sentence in sorted(found[part])[:most]]


def _unnamed(words: Sequence[str], chunks: Sequence) -> list[str]:
    """Of `words` no readable passage uses (questions.unknown_words), those that no passage found is
    named by either: its document's name, its section path or its page label (a sheet's name)."""
    if not words:
        return []
    names = text_terms(" ".join(f"{c.source} {c.section} {c.page if isinstance(c.page, str) else ''}" for c in chunks))
    return [w for w in words if not any(uses_term(t, names) for t in question_terms(w))]


def _first_name(question: str) -> str | None:
    from retrieval.questions import subject_names

    found = subject_names(question)
    return found[0] if found else None
