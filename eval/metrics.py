"""Metrics that need no judge: text overlap with a reference answer, retrieval against reference
sources, refusal correctness, citation markers. Deterministic and fast; every function returns a
float in [0, 1] or None when its inputs are absent."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath

from retrieval.text import MARKER, sentences
from retrieval.text import looks_like_refusal as _refusal  # one refusal rule for answering and scoring
MARKER_NUMBERS = re.compile(r"\d{1,3}")
WORD = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")

def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text)).strip()


# Markers written after a sentence's full stop ("… customers. [1] In August …", as the composer writes
# them) belong to that sentence: moved before the stop, they do not open the next one.
MARKERS_AFTER_STOP = re.compile(rf"([.!?])[ \t]*((?:{MARKER.pattern}[ \t]*)+)")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, citation markers kept (citation validity needs them)."""
    text = MARKERS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", text)
    return [p for p in sentences(text, capital=True) if any(ch.isalnum() for ch in p)]


def normalize(text: str) -> str:
    """SQuAD-style: lowercase, no punctuation, no articles, single spaces."""
    text = strip_markers(text).lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def looks_like_refusal(answer: str) -> bool:
    """The assistant's own rule (retrieval/answering.py), with the answer's markers as its citations."""
    return _refusal(answer, len(MARKER.findall(answer)))


def exact_match(answer: str, reference: str | None) -> float | None:
    if not reference:
        return None
    return float(normalize(answer) == normalize(reference))


def string_present(answer: str, reference: str | None) -> float | None:
    """1 when the normalized reference occurs inside the normalized answer (short factual references)."""
    if not reference:
        return None
    ref = normalize(reference)
    return float(bool(ref) and ref in normalize(answer))


def token_f1(answer: str, reference: str | None) -> float | None:
    if not reference:
        return None
    a, r = normalize(answer).split(), normalize(reference).split()
    common = sum((Counter(a) & Counter(r)).values())
    if not a or not r or not common:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(answer: str, reference: str | None) -> float | None:
    if not reference:
        return None
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(scorer.score(reference, strip_markers(answer))["rougeL"].fmeasure)


def bleu(answer: str, reference: str | None) -> float | None:
    if not reference:
        return None
    from sacrebleu.metrics import BLEU

    # effective_order: short answers have no 4-grams; without it nearly every score is 0.
    return BLEU(effective_order=True).sentence_score(strip_markers(answer), [reference]).score / 100.0


def chrf(answer: str, reference: str | None) -> float | None:
    if not reference:
        return None
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(strip_markers(answer), [reference]).score / 100.0


def _source_key(source: str) -> str:
    """Compare sources by path without a leading `./` or root folder differences: `sample/hr/x.md` ~ `hr/x.md`."""
    return str(PurePosixPath(source.replace("\\", "/").lstrip("./"))).lower()


def source_matches(retrieved: str, reference: str) -> bool:
    a, b = _source_key(retrieved), _source_key(reference)
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def context_recall_ids(retrieved_sources: Sequence[str], reference_sources: Sequence[str]) -> float | None:
    """Share of reference sources that appear among the retrieved contexts (non-LLM context recall)."""
    if not reference_sources:
        return None
    found = sum(any(source_matches(r, ref) for r in retrieved_sources) for ref in reference_sources)
    return found / len(reference_sources)


def context_precision_ids(retrieved_sources: Sequence[str], reference_sources: Sequence[str]) -> float | None:
    """Rank-weighted precision of retrieved contexts against reference sources (ragas' non-LLM
    context precision, with relevance = comes from a reference source): mean of precision@k over
    the ranks k that hold a relevant context."""
    if not reference_sources or not retrieved_sources:
        return None
    relevant = [any(source_matches(r, ref) for ref in reference_sources) for r in retrieved_sources]
    hits, total = 0, 0.0
    for rank, is_relevant in enumerate(relevant, 1):
        if is_relevant:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def context_recall_text(contexts: Sequence[str], reference_contexts: Sequence[str], threshold: float = 0.5) -> float | None:
    """Non-LLM context recall against reference context texts: a reference context counts as
    retrieved when some retrieved context shares at least `threshold` of its words."""
    if not reference_contexts:
        return None
    retrieved = [set(WORD.findall(c.lower())) for c in contexts]
    found = 0
    for ref in reference_contexts:
        words = set(WORD.findall(ref.lower()))
        if words and any(len(words & r) / len(words) >= threshold for r in retrieved):
            found += 1
    return found / len(reference_contexts)


def refusal_correct(refused: bool, answerable: bool) -> float:
    """1 when the assistant answered an answerable question or refused an unanswerable one."""
    return float(refused != answerable)


def marker_numbers(sentence: str) -> list[int]:
    """The passages a sentence's markers cite, in order, once each ("[2] … [1, 2]" -> [1, 2])."""
    return sorted({int(n) for m in MARKER.findall(sentence) for n in MARKER_NUMBERS.findall(m)})


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, [marker numbers]) for each sentence of the answer that cites."""
    out = []
    for sentence in split_sentences(answer):
        numbers = marker_numbers(sentence)
        if numbers:
            out.append((strip_markers(sentence), numbers))
    return out


def sentence_citations(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, [marker numbers]) for every sentence: its own markers, else those of
    the next marked sentence on the same line ("… Blizzard, Inc. for $68.7 billion. [1]" splits at
    "Inc." and both halves cite [1])."""
    out: list[tuple[str, list[int]]] = []
    for line in answer.splitlines():
        later: list[int] = []
        marked = []
        for sentence in reversed(split_sentences(line)):
            later = marker_numbers(sentence) or later
            marked.append((strip_markers(sentence), later))
        out += reversed(marked)
    return out


def citation_coverage(answer: str) -> float | None:
    """Share of answer sentences that carry at least one citation marker."""
    sentences = split_sentences(answer)
    if not sentences:
        return None
    return sum(bool(MARKER.search(s)) for s in sentences) / len(sentences)
