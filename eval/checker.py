"""The trained consistency checker: reads (passage, claim) and says how likely the passage supports the
claim, in milliseconds; and the calibrated faithfulness score built on it. The model is a small head on
frozen MiniLM features (eval/checker_features.py, the default) or a MiniLM cross-encoder.

An answer is split into claims (its sentences); each claim is read against the passage windows that
share the most words with it (`windows_per_claim`), and its probability is the best window's. A small
stacked logistic model (`Stack`), fitted on development data only, turns the answer's claim
probabilities — and, where the LLM judge ran, its verdicts — into one calibrated probability that the
answer is faithful. Each claim keeps its evidence: the sentence of the best window that shares most
words with it.

The model lives in `models.dir/consistency-checker/` (weights, tokenizer, `checker.json` with the
training-data hash, metrics and the fitted stacks); `python -m eval.train_checker` makes it.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.checker_data import overlap, sentences, windows
from eval.checker_features import answer_kinds
from eval.judge import JudgeResult, Verdict, sentence_claims
from eval.metrics import WORD
from retrieval.errors import ModelNotFoundError

CHECKER_DIR = "consistency-checker"
TRAIN_COMMAND = "python -m eval.train_checker"
EPS = 1e-4


class CheckerNotTrainedError(ModelNotFoundError):
    """No trained checker in models.dir."""


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def word_overlap(contexts: Sequence[str], answer: str) -> float:
    """Plain word overlap: share of the answer's words found in the contexts (the baseline to beat)."""
    answer_words = set(WORD.findall(answer.lower()))
    known = set(WORD.findall(" ".join(contexts).lower()))
    return len(answer_words & known) / len(answer_words) if answer_words else 0.0


@dataclass(frozen=True)
class Stack:
    """A logistic model over named features (fitted on development data; see eval.train_checker)."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, values: dict[str, float]) -> float:
        return sigmoid(self.intercept + sum(c * values[f] for f, c in zip(self.features, self.coef)))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "coef": [round(c, 6) for c in self.coef], "intercept": round(self.intercept, 6)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Stack:
        return cls(tuple(doc["features"]), tuple(float(c) for c in doc["coef"]), float(doc["intercept"]))


# Without a fitted stack: the weakest claim's probability decides (what a user would ask of an answer).
DEFAULT_STACK = Stack(("min_logit",), (1.0,), 0.0)


def features(claim_ps: Sequence[float], judge: JudgeResult | None = None, contexts: Sequence[str] = (), answer: str = "") -> dict[str, float]:
    """The stack's inputs for one answer: the checker's weakest and mean claim logit, word overlap, the
    kinds of the answer's words its passages do not use (eval.checker_features.answer_kinds), and, when
    the LLM judge ran, its mean P(supported) as a logit and its share of claims supported."""
    logits = [logit(p) for p in claim_ps] or [0.0]
    out = {"min_logit": min(logits), "mean_logit": sum(logits) / len(logits), "overlap": word_overlap(contexts, answer) if answer else 0.0}
    if answer:
        out.update(answer_kinds(contexts, answer))
    if judge is not None and judge.score is not None:
        out["judge_logit"] = logit(judge.soft_score if judge.soft_score is not None else judge.score)
        out["judge_share"] = judge.score
    return out


@dataclass
class CheckResult:
    score: float | None
    claims: list[dict[str, Any]] = field(default_factory=list)  # [{"claim","p","evidence"}]
    features: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class ConsistencyChecker:
    """Loads lazily (`warm_up`); thread-safe scoring; torch on `threads` threads."""

    def __init__(self, path: Path, *, threads: int = 2, batch_size: int = 32):
        self.path = Path(path)
        self.threads = threads
        self.batch_size = batch_size
        self.meta: dict[str, Any] = {}
        self._model: Any = None  # a cross-encoder (kind "cross-encoder")
        self._tokenizer: Any = None
        self._head: Any = None  # eval.checker_features.Head (kind "frozen-head", the default)
        self._vectors: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_models_dir(cls, models_dir: Path, **kwargs: Any) -> ConsistencyChecker:
        path = Path(models_dir) / CHECKER_DIR
        if not (path / "checker.json").is_file():
            raise CheckerNotTrainedError(f"the consistency checker is not trained (no {path}): run `{TRAIN_COMMAND}`")
        return cls(path, **kwargs)

    @property
    def name(self) -> str:
        return f"checker:{self.meta.get('data_hash', '')[:12]}"

    @property
    def max_length(self) -> int:
        return int(self.meta.get("max_length", 256))

    @property
    def window_words(self) -> int:
        return int(self.meta.get("window_words", 150))

    @property
    def windows_per_claim(self) -> int:
        return int(self.meta.get("windows_per_claim", 2))

    def stack(self, kind: str) -> Stack:
        doc = self.meta.get("stacks", {}).get(kind)
        return Stack.from_json(doc) if doc else DEFAULT_STACK

    def warm_up(self) -> None:
        from eval.checker_features import Head, SentenceVectors

        with self._lock:
            if self._model is not None or self._head is not None:
                return
            self.meta = json.loads((self.path / "checker.json").read_text(encoding="utf-8"))
            if self.meta.get("kind") == "cross-encoder":
                self._model, self._tokenizer = load_model(self.path)
            else:
                self._head = Head.from_json(self.meta["head"])
                self._vectors = SentenceVectors(self.threads)
        if self._vectors is not None:
            self._vectors.warm_up()

    def attach(self, model: Any, tokenizer: Any, meta: dict[str, Any]) -> None:
        """Use a cross-encoder in memory (training, tests) instead of loading one."""
        self._model, self._tokenizer, self.meta = model, tokenizer, {**meta, "kind": "cross-encoder"}

    def attach_head(self, head: Any, vectors: Any, meta: dict[str, Any]) -> None:
        """Use a frozen-feature head in memory (training, benchmarks)."""
        self._head, self._vectors, self.meta = head, vectors, {**meta, "kind": "frozen-head"}

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(premise supports claim) for each (premise, claim)."""
        from eval.checker_features import pair_features

        self.warm_up()
        if self._head is not None:
            return [self._head.probability(values) for values in pair_features(pairs, self._vectors)]
        return predict(self._model, self._tokenizer, pairs, max_length=self.max_length, batch_size=self.batch_size, threads=self.threads)

    def plan(self, contexts: Sequence[str], claims: Sequence[str]) -> list[list[str]]:
        """For each claim, the passage windows it is read against: those sharing the most words with it."""
        pool = [w for c in contexts if c.strip() for w in windows(c, self.window_words)]
        plans = []
        for claim in claims:
            ranked = sorted(range(len(pool)), key=lambda i: (-overlap(claim, pool[i]), i))
            plans.append([pool[i] for i in ranked[: self.windows_per_claim]])
        return plans

    def check_many(self, items: Sequence[tuple[Sequence[str], str]]) -> list[CheckResult]:
        """(contexts, answer) → claim probabilities and evidence, all items' windows in one batch."""
        plans: list[tuple[list[str], list[list[str]]]] = []
        flat: list[tuple[str, str]] = []
        for contexts, answer in items:
            claims = sentence_claims(answer)
            plan = self.plan(contexts, claims) if claims else []
            plans.append((claims, plan))
            flat += [(w, c) for c, ws in zip(claims, plan) for w in ws]
        ps = iter(self.probabilities(flat))
        results = []
        for (contexts, answer), (claims, plan) in zip(items, plans):
            if not claims:
                results.append(CheckResult(None, error="no claims to verify in the answer"))
                continue
            checked = []
            for claim, ws in zip(claims, plan):
                scored = [(next(ps), w) for w in ws]
                p, window = max(scored, key=lambda t: t[0]) if scored else (0.0, "")
                checked.append({"claim": claim, "supported": p >= 0.5, "p": round(p, 4), "evidence": evidence_sentence(claim, window)})
            results.append(CheckResult(None, checked, features([c["p"] for c in checked], contexts=contexts, answer=answer)))
        return results

    def stack_features(self, kind: str) -> tuple[str, ...]:
        """The inputs of a fitted stack (empty when none is fitted): what the scorer must compute for it."""
        return tuple(self.meta.get("stacks", {}).get(kind, {}).get("features", ()))

    def faithfulness(self, contexts: Sequence[str], answer: str, judge: JudgeResult | None = None,
                     lm: tuple[dict[str, float], list[dict[str, Any]]] | None = None) -> JudgeResult:
        """The calibrated score: stack `combined` when what it reads is given (the judge's verdicts, the
        LLM likelihood features of eval.likelihood), else `checker`."""
        result = self.check_many([(contexts, answer)])[0]
        if result.error:
            return JudgeResult(None, [], error=result.error)
        values = features([c["p"] for c in result.claims], judge, contexts, answer)
        if lm is not None:
            values.update(lm[0])
        needed = self.stack_features("combined")
        kind = "combined" if needed and all(f in values for f in needed) else "checker"
        claims = result.claims
        if judge is not None and judge.claims and len(judge.claims) == len(claims):
            claims = [{**c, "judge_supported": j.get("supported"), "judge_p": j.get("p")} for c, j in zip(claims, judge.claims)]
        score = self.stack(kind).probability(values)
        return JudgeResult(round(score, 4), claims, soft_score=round(sigmoid(values["min_logit"]), 4), weakest_tokens=lm[1] if lm else None)


    def assess(self, claims: Sequence[str], context: str) -> list[Verdict]:
        """The judge's interface (eval.judge.verify): each claim against one context, P(supported) >= 0.5."""
        plans = self.plan([context], claims)
        flat = [(w, c) for c, ws in zip(claims, plans) for w in ws]
        ps = iter(self.probabilities(flat))
        verdicts = []
        for ws in plans:
            p = max((next(ps) for _ in ws), default=0.0)
            verdicts.append(Verdict(p >= 0.5, p))
        return verdicts


def load_checker(settings: Any, mode: str) -> tuple[ConsistencyChecker | None, str | None]:
    """The trained checker when `mode` uses one, else None; and a one-line note when it is missing."""
    if mode == "judge":
        return None, None
    try:
        checker = ConsistencyChecker.from_models_dir(settings.models.dir, threads=settings.eval.checker_threads)
    except CheckerNotTrainedError as exc:
        fallback = "word overlap" if mode == "checker" else "the LLM judge alone"
        return None, f"{exc}; scoring faithfulness with {fallback} meanwhile"
    checker.warm_up()
    return checker, None


def evidence_sentence(claim: str, window: str) -> str:
    """The sentence of the window that shares most words with the claim (what a reviewer reads first)."""
    candidates = sentences(window, 1) or [window]
    return max(candidates, key=lambda s: (overlap(claim, s), -len(s)))[:400]


def load_model(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForSequenceClassification.from_pretrained(str(path))
    except OSError as exc:
        raise CheckerNotTrainedError(f"the consistency checker at {path} is incomplete ({exc}): run `{TRAIN_COMMAND}` again") from exc
    model.eval()
    return model, tokenizer


def predict(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *, max_length: int, batch_size: int, threads: int | None = None) -> list[float]:
    import torch

    if not pairs:
        return []
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = [0.0] * len(pairs)
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start: start + batch_size]
                encoded = tokenizer([pairs[i][0] for i in batch], [pairs[i][1] for i in batch], truncation="longest_first",
                                    max_length=max_length, padding=True, return_tensors="pt")
                logits = model(**encoded).logits[:, 0]
                for i, value in zip(batch, torch.sigmoid(logits).tolist()):
                    out[i] = float(value)
    finally:
        torch.set_num_threads(previous)
    return out
