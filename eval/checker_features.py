"""The checker's fast model: a small logistic head on frozen MiniLM sentence vectors and alignment features.

For a (passage window, claim) pair the features say what a reviewer checks first: are the claim's words,
word pairs and word order in the window (and in its closest sentence), are its figures and names there,
does it negate what the closest sentence asserts (or the reverse), does it use the antonym of a word the
window uses, how close the claim and that sentence are in the frozen encoder's vector space, and — by
WordNet (eval/wordnet.py) — are the claim's words the window lacks paraphrases of its words, their
antonyms, or words it gives no ground for. The same kinds, counted over a whole answer against all its
passages (`answer_kinds`), go into the calibration stack (eval/checker.py). The head is a standardised
logistic regression (weights in JSON: no pickles), so fitting one takes seconds: that is what makes
leave-one-domain-out cheap and, on two shared cores, it learned more per CPU minute than fine-tuning the
cross-encoder (docs/evaluation.md has the measurement).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.checker_data import ANTONYMS, NUMBER, sentences

TOKEN = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")
STOP = frozenset(
    "a an the of to in on at for and or but is are was were be been it its this that these those with by from as do does did "
    "can will would should may must has have had you your we our they their he she his her i me my us them which who whom what".split()
)
NEGATIONS = frozenset("not no never none nothing neither nor without cannot n't".split())
CAPITAL = re.compile(r"\b[A-Z][A-Za-z&'-]+")
FEATURES = (
    "recall", "sentence_recall", "bigram_recall", "order", "novel_numbers", "numbers", "novel_names", "negation_mismatch",
    "antonym", "novel_words", "claim_words", "sentence_cosine",
    "paraphrased_words", "unsupported_words", "unknown_words", "wordnet_antonyms",
)


def content(text: str) -> list[str]:
    return [w for w in TOKEN.findall(text.lower().replace("n't", " n't")) if w not in STOP]


def _number_forms(text: str) -> set[str]:
    return {n.strip("$%").replace(",", "").rstrip(".") for n in NUMBER.findall(text)}


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def lexical(claim: str, window: str) -> tuple[dict[str, float], str]:
    """The lexical features of one pair, and the window's sentence closest to the claim."""
    claim_words = content(claim)
    window_words = set(content(window))
    claim_set = set(claim_words) or {""}
    candidates = sentences(window, 1) or [window]
    closest = max(candidates, key=lambda s: (len(claim_set & set(content(s))), -len(s)))
    closest_words = content(closest)
    bigrams = list(zip(claim_words, claim_words[1:]))
    window_list = content(window)
    window_bigrams = set(zip(window_list, window_list[1:]))
    numbers, window_numbers = _number_forms(claim), _number_forms(window)
    names = {n.lower() for n in CAPITAL.findall(claim)[1:]}  # the first capital may only start the sentence
    negation_claim = sum(w in NEGATIONS for w in claim_words)
    negation_closest = sum(w in NEGATIONS for w in closest_words)
    values = {
        "recall": len(claim_set & window_words) / len(claim_set),
        "sentence_recall": len(claim_set & set(closest_words)) / len(claim_set),
        "bigram_recall": sum(b in window_bigrams for b in bigrams) / len(bigrams) if bigrams else 1.0,
        "order": _lcs(claim_words[:60], closest_words[:120]) / max(1, len(claim_words[:60])),
        "novel_numbers": float(len(numbers - window_numbers)),
        "numbers": float(len(numbers)),
        "novel_names": float(len({n for n in names if n not in window.lower()})),
        "negation_mismatch": float(abs(negation_claim - negation_closest)),
        "antonym": float(any(w in ANTONYMS and ANTONYMS[w] in window_words and w not in window_words for w in claim_set)),
        "novel_words": math.log1p(len(claim_set - window_words)),
        "claim_words": math.log1p(len(claim_words)),
        **novel_word_kinds(claim_set - window_words, window_words),
    }
    return values, closest


ANSWER_KINDS = ("answer_paraphrased", "answer_unsupported", "answer_unknown", "answer_antonyms", "answer_novel_numbers",
                "answer_novel_names", "answer_negations", "answer_words", "answer_novel")


def answer_kinds(contexts: Sequence[str], answer: str) -> dict[str, float]:
    """The answer's words read against all its passages at once (a paraphrase may draw on any of them):
    the kinds of its words the passages do not use, its figures and capitalised names they lack, its
    negations and its length."""
    answer_words = content(answer)
    context = " ".join(contexts)
    context_words = set(content(context))
    novel = set(answer_words) - context_words
    kinds = novel_word_kinds(novel, context_words)
    return {
        "answer_paraphrased": kinds["paraphrased_words"], "answer_unsupported": kinds["unsupported_words"],
        "answer_unknown": kinds["unknown_words"], "answer_antonyms": kinds["wordnet_antonyms"],
        "answer_novel_numbers": float(len(_number_forms(answer) - _number_forms(context))),
        "answer_novel_names": float(len({n.lower() for n in CAPITAL.findall(answer)[1:]} - context_words)),
        "answer_negations": float(sum(w in NEGATIONS for w in answer_words)),
        "answer_words": math.log1p(len(answer_words)), "answer_novel": math.log1p(len(novel)),
    }


def novel_word_kinds(novel: set[str], window_words: set[str]) -> dict[str, float]:
    """What the claim's words absent from the window are, by WordNet: another form of a window word (not
    counted), a synonym of one (a paraphrase), an antonym of one, a known word the window gives no
    ground for, or a word WordNet does not know (a name, a term, a typo)."""
    from eval.wordnet import wordnet

    net = wordnet()
    window_lemmas = frozenset().union(*(net.lemmas(w) for w in window_words if w.isalpha()))
    kinds = {"paraphrased_words": 0, "unsupported_words": 0, "unknown_words": 0, "wordnet_antonyms": 0}
    for word in novel:
        if not word.isalpha() or net.lemmas(word) & window_lemmas:
            continue
        if not net.known(word):
            kinds["unknown_words"] += 1
            continue
        synonyms, antonyms = net.related(word)
        kind = "paraphrased_words" if synonyms & window_lemmas else "wordnet_antonyms" if antonyms & window_lemmas else "unsupported_words"
        kinds[kind] += 1
    return {k: (float(v) if k == "wordnet_antonyms" else math.log1p(v)) for k, v in kinds.items()}


class SentenceVectors:
    """The frozen packaged MiniLM, unit vectors, with a bounded cache (a passage is read for many claims)."""

    def __init__(self, threads: int = 1, cache_size: int = 4096):
        self.threads = threads
        self.cache_size = cache_size
        self._model: Any = None
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                from retrieval.models import packaged_embedder_path

                self._model = SentenceTransformer(str(packaged_embedder_path()), device="cpu")

    def encode(self, texts: Sequence[str]) -> list[Any]:
        import torch

        self.warm_up()
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                vectors = self._model.encode(missing, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            finally:
                torch.set_num_threads(previous)
            with self._lock:
                for text, vector in zip(missing, vectors):
                    self._cache[text] = vector
                while len(self._cache) > self.cache_size + len(missing):
                    self._cache.popitem(last=False)
        return [self._cache[t] for t in texts]


def pair_features(pairs: Sequence[tuple[str, str]], vectors: SentenceVectors) -> list[dict[str, float]]:
    """Features of (window, claim) pairs; all texts embedded in one batch."""
    lexicals = [lexical(claim, window) for window, claim in pairs]
    # Only short texts are embedded (the claim and its closest sentence): whole windows would cost 3-4x more.
    texts = [t for (_, claim), (_, closest) in zip(pairs, lexicals) for t in (claim, closest[:600])]
    encoded = iter(vectors.encode(texts))
    out = []
    for values, _ in lexicals:
        claim_vec, closest_vec = next(encoded), next(encoded)
        out.append({**values, "sentence_cosine": float(closest_vec @ claim_vec)})
    return out


@dataclass(frozen=True)
class Head:
    """Standardised logistic regression over FEATURES."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(c * (values[f] - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef))
        return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Head:
        return cls(tuple(doc["features"]), tuple(doc["mean"]), tuple(doc["scale"]), tuple(doc["coef"]), float(doc["intercept"]))


def fit_head(rows: Sequence[dict[str, float]], labels: Sequence[int], c: float = 1.0, features: Sequence[str] = FEATURES) -> Head:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[f] for f in features] for r in rows], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit((x - mean) / scale, list(labels))
    return Head(tuple(features), tuple(float(v) for v in mean), tuple(float(v) for v in scale), tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))
