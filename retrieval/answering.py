"""From retrieved chunks to a cited answer: the prompt (fenced documents, a token budget), citation
markers rewritten while the answer streams, the fixed refusal, and follow-up condensation.

Citation numbering: the prompt numbers documents 1..N in rank order; the answer's markers are
renumbered in order of first use, so `[1]` is always the first source the answer cites and
`citations[n-1]` is the source of `[n]`. The rewrite happens on the stream itself, so what a caller
saw token by token is exactly the final answer. Markers naming no document are removed and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from retrieval.focus import headings
from retrieval.schema import ChatMessage, Citation, ScoredChunk
from retrieval.text import MARKER, content_words, looks_like_refusal, sentences

MARKER_PREFIX = re.compile(r"\[[\d\s,;]*\Z")  # an unfinished marker at the end of the buffer
MAX_MARKER_CHARS = 24


def load_prompt(name: str, prompts_dir: Path | None = None) -> str:
    """A prompt template: from `retrieval.prompts_dir` when set and present there, else the packaged one."""
    if prompts_dir is not None and (prompts_dir / f"{name}.txt").is_file():
        return (prompts_dir / f"{name}.txt").read_text(encoding="utf-8").strip()
    return resources.files("retrieval.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Prompts:
    system: str  # free-text answers
    answer: str  # has {documents} and {question}
    condense: str  # has {history} and {question}
    typed: str  # the system prompt of typed answers (retrieval/structured.py)

    @classmethod
    def load(cls, prompts_dir: Path | None = None) -> Prompts:
        return cls(*(load_prompt(n, prompts_dir) for n in ("system", "answer", "condense", "typed")))


# ---- the context budget ---------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Sentences and clauses (a ";" or ":" ends one too): where a passage may be cut."""
    return sentences(text, ends=".!?;:")


def fit_contexts(
    contexts: Sequence[ScoredChunk], budget: int, count_tokens: Callable[[str], int], min_tokens: int = 40
) -> list[ScoredChunk]:
    """Keep the best chunks (in rank order) that fit `budget` tokens. A chunk that does not fit whole
    is cut at a sentence end (never mid-sentence) when at least `min_tokens` of it fit; otherwise it is
    skipped and smaller lower-ranked chunks may still fit."""
    kept: list[ScoredChunk] = []
    left = budget
    for scored in contexts:
        if left < min_tokens:
            break
        cost = count_tokens(scored.chunk.text) + 12  # the fence and its attributes
        if cost <= left:
            kept.append(scored)
            left -= cost
            continue
        sentences, taken, used = split_sentences(scored.chunk.text), [], 12
        for sentence in sentences:
            tokens = count_tokens(sentence) + 1
            if used + tokens > left:
                break
            taken.append(sentence)
            used += tokens
        if taken and used >= min_tokens:
            kept.append(_with_text(scored, " ".join(taken)))
            left -= used
    return kept


def _with_text(scored: ScoredChunk, text: str) -> ScoredChunk:
    from dataclasses import replace

    return replace(scored, chunk=replace(scored.chunk, text=text))


# ---- the prompt -----------------------------------------------------------------------------------

_FENCE = re.compile(r"<(/?)(documents?)\b", re.I)


def _attr(value: object) -> str:
    return str(value).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace("\n", " ")


def fence(text: str) -> str:
    """Neutralise fence tags inside document text so a document cannot close its fence and speak
    as the user or the system."""
    return _FENCE.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", text)


def render_documents(contexts: Sequence[ScoredChunk], *, short: bool = False) -> str:
    """The fenced documents of a prompt. `short`: only the innermost section and no page (their
    tokens are read on every question; the passage's own first line already names both)."""
    blocks = []
    for n, scored in enumerate(contexts, start=1):
        chunk = scored.chunk
        attrs = f'id="{n}" source="{_attr(chunk.source)}"'
        if chunk.page is not None and not short:
            attrs += f' page="{_attr(chunk.page)}"'
        if chunk.section:
            section = headings(chunk.section)[-1] if short else chunk.section
            attrs += f' section="{_attr(section)}"'
        blocks.append(f"<document {attrs}>\n{fence(chunk.text.strip())}\n</document>")
    return "\n".join(blocks)


def answer_messages(prompts: Prompts, question: str, contexts: Sequence[ScoredChunk]) -> list[ChatMessage]:
    """The system prompt is fixed (the model server reuses its cached prefix); everything that varies
    is in the user message, documents first."""
    user = prompts.answer.format(documents=render_documents(contexts), question=question.strip())
    return [ChatMessage("system", prompts.system), ChatMessage("user", user)]


# ---- citations while streaming --------------------------------------------------------------------


@dataclass
class CitationRewriter:
    """Feed streamed deltas; get back text whose `[n]` markers are renumbered in order of first use.
    Markers naming no document are removed and counted in `dropped`."""

    n_contexts: int
    # Optional: names the prompt document (1-based) a finished sentence without a marker came from,
    # or None; the marker is then added after the sentence (small models often forget to cite).
    attribute: Callable[[str], int | None] | None = None
    # Optional: (sentence, cited document) -> the document that supports the sentence; small models
    # sometimes cite the neighbour of the document they quote.
    verify: Callable[[str, int], int] | None = None
    order: list[int] = field(default_factory=list)  # prompt document numbers, in order of first use
    dropped: int = 0
    attributed: int = 0
    corrected: int = 0
    text: str = ""
    _pending: str = ""
    _sentence: str = ""
    _cited: bool = False
    _punct: bool = False
    _ended: bool = False
    _spaces: str = ""
    _held: list[str] = field(default_factory=list)  # markers written before their sentence

    def feed(self, delta: str) -> str:
        self._pending += delta
        out = self._drain(final=False)
        self.text += out
        return out

    def flush(self) -> str:
        out = self._drain(final=True)
        out += self._close() + self._spaces
        self._spaces = ""
        self.text += out
        return out

    def _plain(self, piece: str) -> str:
        """Text without markers: tracks sentences so an uncited one can be attributed when it ends."""
        out: list[str] = []
        for ch in piece:
            if ch.isspace() and self._held and not self._sentence:
                continue  # the space after a marker that opened the answer goes with the marker
            if ch.isspace():
                if self._punct or (ch == "\n" and self._sentence.strip()):
                    self._ended = True
                self._spaces += ch
                continue
            if self._ended:
                out.append(self._close())
            out.append(self._spaces + ch)
            self._sentence += self._spaces + ch
            self._spaces = ""
            self._punct = ch in ".!?"
        return "".join(out)

    def _marker(self, space: str, numbers: str) -> str:
        if not self._ended and not self._sentence.strip():
            # A marker ahead of its sentence ("[2] Travel must ..."): it is checked and written once
            # the sentence is complete, after it, where readers expect it.
            self._held.append(numbers)
            self._cited = True
            return ""
        rewritten = self._rewrite(numbers, self._sentence)
        if not rewritten:
            return ""
        self._cited = True
        out = self._spaces + space + rewritten
        self._spaces = ""
        return out

    def _close(self) -> str:
        """End the open sentence: write the markers held for it, or add one when it cites nothing
        and `attribute` finds its source."""
        sentence, cited, held = self._sentence.strip(), self._cited, self._held
        self._sentence, self._cited, self._ended, self._punct, self._held = "", False, False, False, []
        if held:
            rewritten = "".join(self._rewrite(numbers, sentence) for numbers in held)
            return " " + rewritten if rewritten else ""
        if cited or self.attribute is None or len(sentence.split()) < 3:
            return ""
        n = self.attribute(sentence)
        if n is None or not 1 <= n <= self.n_contexts:
            return ""
        self.attributed += 1
        return " " + self._rewrite(str(n))

    def _drain(self, final: bool) -> str:
        # Whitespace before a marker is held with it: a dropped marker takes its space along, so the
        # streamed text needs no tidying afterwards and equals the final answer.
        buf = self._pending
        out: list[str] = []
        while buf:
            start = buf.find("[")
            if start < 0:
                kept = buf if final else buf.rstrip()
                out.append(self._plain(kept))
                buf = buf[len(kept) :]
                break
            prefix = buf[:start].rstrip()
            space, buf = buf[len(prefix) : start], buf[start:]
            out.append(self._plain(prefix))
            match = MARKER.match(buf)
            if match:
                out.append(self._marker(space, match.group(1)))
                buf = buf[match.end() :]
                continue
            if not final and MARKER_PREFIX.match(buf) and len(buf) < MAX_MARKER_CHARS:
                buf = space + buf  # maybe a marker still arriving: hold it
                break
            out.append(self._plain(space + "["))
            buf = buf[1:]
        self._pending = buf
        return "".join(out)

    def _rewrite(self, numbers: str, sentence: str = "") -> str:
        parts = []
        for raw in re.split(r"\s*[,;]\s*", numbers.strip()):
            n = int(raw)
            if not 1 <= n <= self.n_contexts:
                self.dropped += 1
                continue
            if self.verify is not None and sentence:
                checked = self.verify(sentence, n)
                if checked != n:
                    self.corrected += 1
                    n = checked
            if n not in self.order:
                self.order.append(n)
            label = f"[{self.order.index(n) + 1}]"
            if label not in parts:
                parts.append(label)
        return "".join(parts)

    def citations(self, contexts: Sequence[ScoredChunk], snippet_chars: int = 300) -> list[Citation]:
        cited = []
        for n in self.order:
            chunk = contexts[n - 1].chunk
            text = chunk.text if len(chunk.text) <= snippet_chars else chunk.text[:snippet_chars].rsplit(" ", 1)[0] + " …"
            cited.append(Citation(chunk.source, chunk.page, chunk.section, text, contexts[n - 1].score, chunk.id))
        return cited


def verifier(contexts: Sequence[ScoredChunk], min_share: float = 0.6, weak_share: float = 0.4) -> Callable[[str, int], int]:
    """Citation check: a sentence citing document n keeps n unless n shares less than `weak_share`
    of the sentence's content words while another document shares at least `min_share` of them
    (and more than n does); the citation then moves to that document."""
    vocabularies = [content_words(s.chunk.text) for s in contexts]

    def verify(sentence: str, n: int) -> int:
        words = content_words(sentence)
        if len(words) < 3 or not 1 <= n <= len(vocabularies):
            return n
        overlaps = [len(words & v) for v in vocabularies]
        if overlaps[n - 1] >= weak_share * len(words):
            return n
        best = _best_supported(overlaps, len(words), min_share)
        return best + 1 if best is not None and overlaps[best] > overlaps[n - 1] else n

    return verify


def attributor(contexts: Sequence[ScoredChunk], min_share: float = 0.6) -> Callable[[str], int | None]:
    """Source finder for sentences the model left uncited: the prompt document sharing the most of
    the sentence's content words, when it holds at least `min_share` of them (and two or more)."""
    vocabularies = [content_words(s.chunk.text) for s in contexts]

    def attribute(sentence: str) -> int | None:
        words = content_words(sentence)
        if len(words) < 2 or looks_like_refusal(sentence, 0):
            return None
        best = _best_supported([len(words & v) for v in vocabularies], len(words), min_share)
        return None if best is None else best + 1

    return attribute


def _best_supported(overlaps: Sequence[int], words: int, min_share: float) -> int | None:
    """The (0-based) document sharing the most of a sentence's `words` content words — the first
    of equals — when it holds at least `min_share` of them, and two or more."""
    best = max(range(len(overlaps)), key=lambda i: overlaps[i], default=None)
    if best is None or overlaps[best] < 2 or overlaps[best] < min_share * words:
        return None
    return best


# ---- degenerate repetition ---------------------------------------------------------------------

_DIGITS = str.maketrans("0123456789", "##########")


def repeated_tail(text: str, *, min_period: int = 10, max_period: int = 400, repeats: int = 3, fold_digits: bool = True) -> int | None:
    """Where a loop starts repeating: when `text` ends with the same block (digits aside: "1. X 2. X"
    loops too) `repeats` times in a row, the offset after its first occurrence; else None. A block
    needs two words, so a run of table cells or figures is not a loop. `fold_digits=False` for
    forms, whose items legitimately differ only in their numbers."""
    shape = text.translate(_DIGITS) if fold_digits else text
    n = len(shape)
    for p in range(min_period, min(max_period, n // repeats) + 1):
        block = shape[n - p :]
        if all(shape[n - (k + 1) * p : n - k * p] == block for k in range(1, repeats)) and len(re.findall(r"[A-Za-z]{2,}", block)) >= 2:
            k = repeats
            while n - (k + 1) * p >= 0 and shape[n - (k + 1) * p : n - k * p] == block:
                k += 1
            return n - (k - 1) * p
    return None


class RepetitionGuard:
    """Watches a reply as it streams; `tripped` once it loops (the same block three times)."""

    def __init__(self, check_every: int = 8, fold_digits: bool = True):
        self.text = ""
        self.cut: int | None = None
        self._checked = 0
        self._every = check_every
        self._fold = fold_digits

    @property
    def tripped(self) -> bool:
        return self.cut is not None

    def feed(self, delta: str) -> bool:
        self.text += delta
        if self.cut is None and len(self.text) - self._checked >= self._every:
            self._checked = len(self.text)
            self.cut = repeated_tail(self.text, fold_digits=self._fold)
        return self.tripped


def stream_timing(started: float, first: float | None, done: float, tokens: int) -> dict[str, float]:
    """Where a generation's time went (`time.perf_counter` readings): `prefill_ms`, the model reading
    its prompt up to its first token, and `decode_tokens_per_s`, writing the tokens after it."""
    if first is None:
        return {}
    timing = {"prefill_ms": round((first - started) * 1000.0, 1)}
    if tokens > 1 and done > first:
        timing["decode_tokens_per_s"] = round((tokens - 1) / (done - first), 1)
    return timing


def read_guarded(stream, on_delta: Callable[[str], None] | None = None, fold_digits: bool = True) -> tuple[str, bool]:
    """Read a ChatStream to its end, or until it loops: then the model is stopped and the text kept
    up to the loop's first round. Returns (text, looped)."""
    guard = RepetitionGuard(fold_digits=fold_digits)
    for delta in stream:
        if on_delta is not None:
            on_delta(delta)
        if guard.feed(delta):
            stream.stop()
            return guard.text[: guard.cut], True
    return stream.text, False


# ---- follow-up condensation -----------------------------------------------------------------------


def recent_history(history: Sequence[ChatMessage], turns: int, chars: int = 400) -> list[ChatMessage]:
    """The last `turns` user/assistant exchanges, each message cut to `chars` characters."""
    kept = [m for m in history if m.role in ("user", "assistant") and m.content.strip()]
    kept = kept[-2 * turns :] if turns else []
    return [ChatMessage(m.role, m.content.strip()[:chars]) for m in kept]


def condense_messages(prompts: Prompts, history: Sequence[ChatMessage], question: str) -> list[ChatMessage]:
    lines = [f"{'User' if m.role == 'user' else 'Assistant'}: {MARKER.sub('', m.content)}" for m in history]
    user = prompts.condense.format(history="\n".join(lines), question=question.strip())
    return [ChatMessage("system", "You rewrite follow-up questions as standalone questions."), ChatMessage("user", user)]


def accept_condensed(candidate: str, question: str, history: Sequence[ChatMessage]) -> str:
    """The model's standalone question when it looks like one; otherwise the previous user question
    joined with the follow-up (which retrieves well for elliptic follow-ups like "and in 2023?")."""
    line = candidate.strip().splitlines()[0].strip() if candidate.strip() else ""
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.I).strip().strip('"')
    refusal = not line.endswith("?") and looks_like_refusal(line, cited=0)
    if line and 3 <= len(line) <= 400 and not refusal:
        return line
    previous = next((m.content for m in reversed(history) if m.role == "user"), "")
    return f"{previous.strip()} {question.strip()}".strip()
