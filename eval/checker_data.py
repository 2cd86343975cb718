"""Training pairs for the consistency checker, made rather than downloaded (the FactCC / MiniCheck recipe).

A claim is a sentence taken from a passage (label 1, sometimes reworded by meaning-keeping rules) or a
copy of it with an error that imitates real ones (label 0): a changed number or date, another entity,
a negation inserted or removed, an antonym, two entities or figures swapped, the nearest sentence of a
near-duplicate passage (the same section of another quarter's filing), a fact merged in from another
passage. Every rule is deterministic under its `random.Random`, so the same corpora give the same pairs
and the same data hash.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=\S)|\n+")
TOKEN = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")
NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,]*(?:\.\d+)?%?")
ENTITY = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][A-Za-z&'-]+(?:\s+[A-Z][A-Za-z&'-]+)*")
MONTHS = "January February March April May June July August September October November December".split()
MONTH = re.compile(r"\b(" + "|".join(MONTHS) + r")\b")
YEAR = re.compile(r"\b(19[5-9]\d|20[0-3]\d)\b")
NEGATABLE = re.compile(r"\b(is|are|was|were|will|can|could|would|should|may|might|must|has|have|had|does|did|do)\b(?! not)")
NEGATION = re.compile(r"\b(not|never|no longer)\s+|n't\b")
ANTONYMS = dict(
    pair
    for a, b in (
        ("increase", "decrease"), ("increased", "decreased"), ("increases", "decreases"), ("increasing", "decreasing"),
        ("higher", "lower"), ("more", "less"), ("gain", "loss"), ("gains", "losses"), ("rise", "fall"), ("rose", "fell"),
        ("positive", "negative"), ("before", "after"), ("above", "below"), ("largest", "smallest"), ("profit", "loss"),
        ("accept", "reject"), ("accepted", "rejected"), ("agree", "disagree"), ("agreed", "refused"), ("include", "exclude"),
        ("included", "excluded"), ("up", "down"), ("early", "late"), ("earlier", "later"), ("first", "last"),
        ("strong", "weak"), ("stronger", "weaker"), ("success", "failure"), ("successful", "unsuccessful"), ("approved", "denied"),
        ("buy", "sell"), ("bought", "sold"), ("win", "lose"), ("won", "lost"), ("open", "closed"), ("start", "end"),
        ("maximum", "minimum"), ("inside", "outside"), ("large", "small"), ("larger", "smaller"), ("high", "low"),
        ("good", "bad"), ("better", "worse"), ("best", "worst"), ("easy", "difficult"), ("easier", "harder"),
        ("always", "never"), ("all", "none"), ("many", "few"), ("long", "short"), ("longer", "shorter"), ("fast", "slow"),
        ("faster", "slower"), ("new", "old"), ("likely", "unlikely"), ("possible", "impossible"), ("able", "unable"),
        ("favorable", "unfavorable"), ("stable", "unstable"), ("upstream", "downstream"), ("internal", "external"),
        ("laminar", "turbulent"), ("subsonic", "supersonic"), ("heating", "cooling"), ("happy", "sad"), ("like", "dislike"),
        ("liked", "disliked"), ("remember", "forget"), ("present", "absent"), ("same", "different"), ("import", "export"),
    )
    for pair in ((a, b), (b, a))
)
SYNONYMS = {"increased": "rose", "decreased": "fell", "approximately": "about", "primarily": "mainly", "purchase": "buy",
            "additional": "further", "however": "but", "obtained": "found", "shows": "indicates", "large": "big",
            "results": "findings", "method": "approach", "significant": "substantial", "require": "need", "requires": "needs"}


@dataclass(frozen=True)
class Pair:
    premise: str
    claim: str
    label: int  # 1: the premise supports the claim
    rule: str  # which rule made the claim ("copy", "number", "near_duplicate", …)
    source: str  # corpus / domain it came from


@dataclass(frozen=True)
class Passage:
    text: str
    source: str  # corpus or domain
    key: str  # near-duplicate family: passages sharing it are alike (one section of a company's filings)
    doc: str  # the document it comes from


def sentences(text: str, min_words: int = 5) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if len(s.split()) >= min_words]


def windows(text: str, max_words: int = 150) -> list[str]:
    """Consecutive sentences grouped into windows of at most `max_words` words, each window starting
    half a window after the previous one (a fact near a boundary is whole in one of them)."""
    parts = [s.strip() for s in SENTENCE.split(text) if s.strip()]
    if not parts:
        return []
    out: list[str] = []
    start = 0
    while start < len(parts):
        words, end = 0, start
        while end < len(parts) and (words == 0 or words + len(parts[end].split()) <= max_words):
            words += len(parts[end].split())
            end += 1
        window = " ".join(parts[start:end])
        out.append(" ".join(window.split()[: max_words * 2]))  # a single huge "sentence" (a table) is cut
        if end >= len(parts):
            break
        step, covered = 0, 0
        while start + step < end - 1 and covered < words / 2:
            covered += len(parts[start + step].split())
            step += 1
        start += max(step, 1)
    return out


def words(text: str) -> set[str]:
    return set(TOKEN.findall(text.lower()))


def overlap(claim: str, text: str) -> float:
    c = words(claim)
    return len(c & words(text)) / len(c) if c else 0.0


# ---------------------------------------------------------------- corpora

def sec10q_passages(store_dir: Path | None, docs_dir: Path, limit: int | None = None, exclude: Sequence[str] = ()) -> list[Passage]:
    """10-Q chunk texts: from an ingested store's Chroma SQLite, read-only, else from the PDFs (pypdf)."""
    rows: list[tuple[str, str, str]] = []
    db = store_dir / "chroma" / "chroma.sqlite3" if store_dir else None
    if db and db.is_file():
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            query = ("SELECT d.string_value, s.string_value, c.string_value FROM embedding_metadata d "
                     "JOIN embedding_metadata s ON s.id = d.id AND s.key = 'source' "
                     "LEFT JOIN embedding_metadata c ON c.id = d.id AND c.key = 'section' "
                     "WHERE d.key = 'chroma:document' ORDER BY d.id")
            rows = [(t or "", s or "", c or "") for t, s, c in con.execute(query)]
        finally:
            con.close()
    else:
        from pypdf import PdfReader

        for pdf in sorted(docs_dir.glob("*.pdf")):
            try:
                pages = [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]
            except Exception:  # two MSFT filings defeat pypdf; the store path reads them
                continue
            rows += [(text, pdf.name, f"page {i // 3}") for i, text in enumerate(pages)]
    out = []
    for text, source, section in rows:
        if any(x in source for x in exclude):
            continue
        text = re.sub(r"^\[[^\]\n]*\]\n", "", text)  # the chunk's "[file › section]" heading line
        if len(text.split()) < 25 or text.count("|") > 6:  # tables are read by the answer checks, not here
            continue
        company = source.split(" ")[-1].split(".")[0]
        out.append(Passage(text, "sec10q", f"{company}:{section.split('›')[-1].strip().lower()}", source))
    return out[:limit] if limit else out


def cranfield_passages(path: Path, limit: int | None = None) -> list[Passage]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if len(doc["text"].split()) >= 25:
            out.append(Passage(doc["text"], "cranfield", f"cran:{doc['id']}", f"cranfield/{doc['id']}"))
    return out[:limit] if limit else out


def office_passages(root: Path) -> list[Passage]:
    """Markdown and HTML pages, as plain paragraphs (front matter, markup and code blocks removed)."""
    out = []
    for path in sorted([*root.glob("markdown/*.md"), *root.glob("html/*.html")]):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            text = re.sub(r"(?is)<(script|style|pre)[^>]*>.*?</\1>", " ", text)
            text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
        else:
            text = re.sub(r"(?s)^---.*?---", " ", text)
            text = re.sub(r"(?s)```.*?```", " ", text)
            text = re.sub(r"\{%.*?%\}|[#*_`>|]", " ", text)
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
        body = "\n".join(p if p.endswith((".", "!", "?", ":")) else p + "." for p in paragraphs if len(p.split()) >= 6)
        out += [Passage(w, "office", f"office:{path.stem}", path.name) for w in windows(body, 120)]
    return out


# ---------------------------------------------------------------- rules

def _replace_span(text: str, span: tuple[int, int], new: str) -> str:
    return text[: span[0]] + new + text[span[1]:]


def change_number(claim: str, rng: random.Random, _: Sequence[str]) -> str | None:
    found = list(NUMBER.finditer(claim))
    if not found:
        return None
    match = rng.choice(found)
    token = match.group(0)
    digits = [i for i, ch in enumerate(token) if ch.isdigit()]
    if YEAR.fullmatch(token):
        new = str(int(token) + rng.choice([-2, -1, 1, 2]))
    elif len(digits) == 1 or rng.random() < 0.5:
        i = rng.choice(digits)
        new = token[:i] + str((int(token[i]) + rng.randint(1, 8)) % 10) + token[i + 1:]
    else:
        i, j = rng.sample(digits, 2)
        chars = list(token)
        chars[i], chars[j] = chars[j], chars[i]
        new = "".join(chars)
    if new == token or new.lstrip("$").startswith("0") and len(new.lstrip("$")) > 1 and "." not in new:
        return None
    out = _replace_span(claim, match.span(), new)
    if rng.random() < 0.15 and re.search(r"\b(million|billion)\b", out):
        out = re.sub(r"\b(million|billion)\b", lambda m: "billion" if m.group(1) == "million" else "million", out, count=1)
    return out


def change_date(claim: str, rng: random.Random, _: Sequence[str]) -> str | None:
    months = list(MONTH.finditer(claim))
    if months:
        match = rng.choice(months)
        return _replace_span(claim, match.span(), rng.choice([m for m in MONTHS if m != match.group(0)]))
    years = list(YEAR.finditer(claim))
    if years:
        match = rng.choice(years)
        return _replace_span(claim, match.span(), str(int(match.group(0)) + rng.choice([-1, 1])))
    return None


def change_entity(claim: str, rng: random.Random, pool: Sequence[str]) -> str | None:
    """Another name (capitalised words) or, in lowercase text, another rare content word of the corpus."""
    found = [m for m in ENTITY.finditer(claim) if m.group(0) not in MONTHS]
    if found and pool:
        match = rng.choice(found)
        options = [e for e in rng.sample(list(pool), min(30, len(pool))) if e[:1].isupper() and e.lower() not in claim.lower()]
        if options:
            return _replace_span(claim, match.span(), options[0])
    tokens = [m for m in re.finditer(r"\b[a-z]{6,}\b", claim)]
    options = [w for w in rng.sample(list(pool), min(30, len(pool))) if w.islower() and w not in claim] if pool else []
    if tokens and options:
        return _replace_span(claim, rng.choice(tokens).span(), options[0])
    return None


def flip_negation(claim: str, rng: random.Random, _: Sequence[str]) -> str | None:
    negations = list(NEGATION.finditer(claim))
    if negations:
        match = rng.choice(negations)
        out = _replace_span(claim, match.span(), "")
        if match.group(0) == "n't":  # "can't" -> "can", "won't" -> "will", "doesn't" -> "does"
            out = re.sub(r"\bca\b", "can", re.sub(r"\bwo\b", "will", out))
        return re.sub(r"\s{2,}", " ", out)
    verbs = list(NEGATABLE.finditer(claim))
    if verbs:
        match = rng.choice(verbs)
        return _replace_span(claim, match.span(), match.group(0) + " not")
    return None


def antonym(claim: str, rng: random.Random, _: Sequence[str]) -> str | None:
    found = [m for m in re.finditer(r"\b[a-z]+\b", claim) if m.group(0) in ANTONYMS]
    if not found:
        return None
    match = rng.choice(found)
    return _replace_span(claim, match.span(), ANTONYMS[match.group(0)])


def swap_pair(claim: str, rng: random.Random, _: Sequence[str]) -> str | None:
    """Two entities or two figures of the sentence trade places (subject and object, this year and last)."""
    for pattern in (NUMBER, ENTITY):
        found = [m for m in pattern.finditer(claim)]
        distinct = {m.group(0) for m in found}
        if len(distinct) >= 2:
            a, b = rng.sample([m for m in found], 2)
            if a.group(0) == b.group(0):
                continue
            first, second = sorted((a, b), key=lambda m: m.start())
            return claim[: first.start()] + second.group(0) + claim[first.end(): second.start()] + first.group(0) + claim[second.end():]
    return None


NEGATIVE_RULES: dict[str, Callable[[str, random.Random, Sequence[str]], str | None]] = {
    "number": change_number, "date": change_date, "entity": change_entity, "negation": flip_negation,
    "antonym": antonym, "swap": swap_pair,
}


def reword(claim: str, rng: random.Random) -> tuple[str, str]:
    """A meaning-keeping variant: a leading clause or a parenthesis dropped, a synonym, or the sentence as is."""
    options: list[tuple[str, str]] = [("copy", claim)]
    head, sep, tail = claim.partition(", ")
    if sep and len(tail.split()) >= 6 and len(head.split()) <= 8:
        options.append(("drop_clause", tail[0].upper() + tail[1:]))
    without = re.sub(r"\s*\([^)]*\)", "", claim)
    if without != claim and len(without.split()) >= 5:
        options.append(("drop_paren", without))
    found = [m for m in re.finditer(r"\b[a-z]+\b", claim) if m.group(0) in SYNONYMS]
    if found:
        m = rng.choice(found)
        options.append(("synonym", _replace_span(claim, m.span(), SYNONYMS[m.group(0)])))
    return rng.choice(options)


# ---------------------------------------------------------------- pairs

def entity_pool(passages: Iterable[Passage]) -> dict[str, list[str]]:
    """Per source: names (capitalised phrases) and rare lowercase words, for entity substitution."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in passages:
        for m in ENTITY.finditer(p.text):
            counts[p.source][m.group(0)] += 1
        for w in re.findall(r"\b[a-z]{7,}\b", p.text):
            counts[p.source][w] += 1
    return {s: sorted(c, key=lambda k: (-c[k], k))[:3000] for s, c in counts.items()}


def near_duplicate(claim: str, passage: Passage, family: Sequence[Passage], premise: str) -> str | None:
    """The most similar sentence of another passage of the same family that the premise does not contain."""
    best, best_score = None, 0.35
    claim_words = words(claim)
    for other in family:
        if other.doc == passage.doc and other.text == passage.text:
            continue
        for sentence in sentences(other.text):
            if sentence in premise:
                continue
            s_words = words(sentence)
            score = len(claim_words & s_words) / len(claim_words | s_words) if s_words else 0.0
            if best_score < score < 0.95 and overlap(sentence, premise) < 0.95:
                best, best_score = sentence, score
    return best


def make_pairs(passages: Sequence[Passage], *, per_passage: int = 2, seed: int = 0, max_words: int = 150) -> list[Pair]:
    """About `per_passage` positives and as many negatives per passage window, balanced by construction."""
    rng = random.Random(seed)
    pools = entity_pool(passages)
    families: dict[str, list[Passage]] = defaultdict(list)
    for p in passages:
        families[p.key].append(p)
    out: list[Pair] = []
    for passage in passages:
        for premise in windows(passage.text, max_words)[:2]:
            claims = sentences(premise, 6)
            if not claims:
                continue
            for claim in rng.sample(claims, min(per_passage, len(claims))):
                claim = " ".join(claim.split()[:60])
                rule, positive = reword(claim, rng)
                out.append(Pair(premise, positive, 1, rule, passage.source))
                out.append(negative_pair(claim, premise, passage, families, pools, passages, rng))
    return out


def negative_pair(claim, premise, passage, families, pools, passages, rng) -> Pair:
    order = list(NEGATIVE_RULES) + ["near_duplicate", "merge", "other_passage"]
    rng.shuffle(order)
    # Figures and near-duplicate passages are what answers over filings get wrong most: tried first more often.
    if rng.random() < 0.4:
        order = ["number", "date"] + [r for r in order if r not in ("number", "date")]
    elif rng.random() < 0.3:
        order = ["near_duplicate"] + [r for r in order if r != "near_duplicate"]
    for rule in order:
        if rule == "near_duplicate":
            new = near_duplicate(claim, passage, families[passage.key][:40], premise)
        elif rule == "merge":
            other = rng.choice(passages)
            tails = [s for s in sentences(other.text, 6) if s not in premise]
            new = None
            if tails and other.doc != passage.doc:
                tail = rng.choice(tails).rstrip(".")
                new = claim.rstrip(".") + ", and " + tail[0].lower() + tail[1:] + "."
        elif rule == "other_passage":
            other = rng.choice(passages)
            candidates = [s for s in sentences(other.text, 6) if overlap(s, premise) < 0.6]
            new = rng.choice(candidates) if candidates else None
        else:
            new = NEGATIVE_RULES[rule](claim, rng, pools.get(passage.source, []))
        if new and new.strip() != claim.strip():
            return Pair(premise, new, 0, rule, passage.source)
    return Pair(premise, rng.choice(passages).text.split(". ")[0] + ".", 0, "other_passage", passage.source)


def data_hash(pairs: Iterable[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(asdict(pair), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()
