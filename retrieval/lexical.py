"""The lexical index: SQLite FTS5 (BM25 ranking, Porter stemming) over the same chunks as the
vector store, kept in sync by ingestion. Group filtering happens inside the SQL query.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from retrieval.schema import Chunk
from retrieval.text import STOPWORDS

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, chunk_id UNINDEXED, doc_id UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS chunk_groups (
    chunk_rowid INTEGER NOT NULL,
    grp TEXT NOT NULL,
    PRIMARY KEY (grp, chunk_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_groups_row ON chunk_groups(chunk_rowid);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""
DF_TTL_S = 60.0  # document frequencies are re-read at most this often (they drift slowly)
RANK_SORT_MIN_CHUNKS = 20_000  # from this size on, grouped queries let FTS5 sort by `rank` (see search)

TOKEN = re.compile(r"\w+", re.UNICODE)

def query_terms(text: str) -> list[str]:
    terms = [t.lower() for t in TOKEN.findall(text)]
    content = [t for t in terms if t not in STOPWORDS]
    return list(dict.fromkeys(content or terms))


@functools.lru_cache(maxsize=1)
def _stemmer():
    # The same Porter algorithm as FTS5's porter tokenizer (Martin Porter's own C version, which
    # also turns "-logi" into "-log": "technologies" → "technolog"), so stems match its vocabulary.
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS)


@functools.lru_cache(maxsize=65536)
def stem(term: str) -> str:
    """A word stemmed as FTS5's porter tokenizer stems words of three letters or more."""
    return _stemmer().stem(term)


def typo_distance(a: str, b: str) -> int:
    """Edits between two words: letters changed, left out or added, and two neighbours swapped."""
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return row[-1]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: Sequence[str], expansion: Sequence[str] = (), query_weight: int = 1) -> str:
    """An FTS5 OR-query: the query's terms (repeated `query_weight` times), feedback terms once."""
    extra = [t for t in dict.fromkeys(expansion) if t not in terms]
    return " OR ".join(_quote(t) for t in list(terms) * max(1, query_weight) + extra)


def expansion_terms(
    texts: Sequence[str],
    exclude: Sequence[str],
    n: int,
    *,
    frequencies: Callable[[Sequence[str]], dict[str, int]] | None = None,
    total: int = 0,
) -> list[str]:
    """Pseudo-relevance feedback: the `n` content words that recur across the top-ranked `texts`.
    Without `frequencies`: by how many of them contain the word, then by frequency. With
    `frequencies` (chunks containing each word) and `total` (chunks in the index): by Robertson's
    offer weight r·RW, r the texts containing the word and RW its relevance weight (Robertson 1990,
    "On term selection for query expansion"), so a word concentrated in the feedback beats one
    common everywhere. BM25's idf weighs them at query time. Words are compared as written: an
    inflection of a query word ("wings" for "wing") may be added, which weighs that word more."""
    if n <= 0 or not texts:
        return []
    skip = set(exclude)
    in_docs: dict[str, int] = {}
    freq: dict[str, int] = {}
    for text in texts:
        words = [w.lower() for w in TOKEN.findall(text)]
        for word in words:
            freq[word] = freq.get(word, 0) + 1
        for word in set(words):
            in_docs[word] = in_docs.get(word, 0) + 1
    need = 2 if len(texts) >= 3 else 1
    candidates = [
        w for w, d in in_docs.items() if d >= need and len(w) > 2 and not w.isdigit() and w not in STOPWORDS and w not in skip
    ]
    if frequencies is not None and total > 0:
        df, big_r = frequencies(candidates), len(texts)

        def offer(word: str) -> float:
            r = in_docs[word]
            n_w = max(df.get(word, 0), r)
            rest = max(total - n_w - big_r + r, 0)  # chunks outside the feedback without the word (the count may lag)
            return r * math.log(((r + 0.5) * (rest + 0.5)) / ((n_w - r + 0.5) * (big_r - r + 0.5)))

        weight = {w: offer(w) for w in candidates}
        candidates.sort(key=lambda w: (-weight[w], -freq[w], w))
    else:
        candidates.sort(key=lambda w: (-in_docs[w], -freq[w], w))
    return candidates[:n]


class LexicalIndex:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._df: dict[str, int] = {}
        self._df_at = 0.0
        self._vocabulary: tuple[float, list[str]] = (-math.inf, [])
        self._counted = (-math.inf, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Replace these chunks (by id) in one transaction."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete_ids(db, [c.id for c in chunks])
            for chunk in chunks:
                cur = db.execute("INSERT INTO chunks_fts(text, chunk_id, doc_id) VALUES (?,?,?)", (chunk.text, chunk.id, chunk.doc_id))
                db.executemany("INSERT OR IGNORE INTO chunk_groups VALUES (?,?)", [(cur.lastrowid, g) for g in chunk.groups])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, rowids: Iterable[int]) -> None:
        rows = [(r,) for r in rowids]
        db.executemany("DELETE FROM chunks_fts WHERE rowid=?", rows)
        db.executemany("DELETE FROM chunk_groups WHERE chunk_rowid=?", rows)

    def _delete_ids(self, db: sqlite3.Connection, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rowids = [r[0] for r in db.execute(f"SELECT rowid FROM chunks_fts WHERE chunk_id IN ({marks})", part)]
            self._delete_rows(db, rowids)

    def delete(self, ids: Sequence[str]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete_ids(db, list(ids))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete_doc(self, doc_id: str) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete_rows(db, [r[0] for r in db.execute("SELECT rowid FROM chunks_fts WHERE doc_id=?", (doc_id,))])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def search(
        self,
        query: str,
        k: int,
        groups: Sequence[str] | None,
        *,
        expansion: Sequence[str] = (),
        query_weight: int = 1,
        max_df: int = 0,
        docs: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, score) best first; score is -bm25 (higher is better). `groups=None`: unfiltered.
        `expansion`: extra terms (pseudo-relevance feedback), each weighted 1 against `query_weight`
        for the query's own terms (FTS5 adds a repeated term's score once per repetition).
        `max_df` > 0: terms found in more than that many chunks are left out of the query (the two
        rarest always stay). Scoring every chunk that contains a common word is what makes an OR query
        slow on a large index, and BM25 gives such words little weight; a count rather than a share
        leaves small collections untouched (where dropping them costs quality, see docs/retrieval.md).
        `docs`: only chunks of these documents."""
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        expansion = [t for t in dict.fromkeys(expansion) if t not in terms]
        if max_df:
            terms, expansion = self._drop_common(terms, max_df), self._drop_common(expansion, max_df, keep=0)
        match = match_expression(terms, expansion, query_weight)
        only, only_args = _only(docs)
        if groups is None:
            # `rank` (bm25 by default) lets FTS5 sort inside the virtual table: faster than bm25() here.
            sql = f"SELECT chunk_id, -rank FROM chunks_fts WHERE chunks_fts MATCH ?{only} ORDER BY rank LIMIT ?"
            return [(row[0], float(row[1])) for row in self._db().execute(sql, (match, *only_args, k))]
        # The full-text match runs once (materialised), then its best hits are checked against the
        # group index by primary key. Written as `rowid IN (SELECT ... groups)`, SQLite would run the
        # MATCH once per readable chunk instead (200 ms at 1,400 chunks). Checking only the best
        # `window` hits is exact when k of them are readable (they are then the k best readable ones);
        # otherwise the query runs again over every hit.
        marks = ",".join("?" * len(groups)) or "NULL"
        window = max(4 * k, 200)
        # FTS5's own sort by `rank` wins on a large index (100k chunks: 12 ms against 25 ms at p50);
        # on a small one SQLite's top-N sort of bm25() does (512 chunks: 1.6 ms against 2.2 ms for a
        # feedback query). Both rank by the same BM25.
        score, order = ("rank", "rank") if self.count_cached() >= RANK_SORT_MIN_CHUNKS else ("bm25(chunks_fts)", "s")
        for limit in (window, -1):
            sql = (
                f"WITH hits AS MATERIALIZED (SELECT rowid AS r, chunk_id, {score} AS s FROM chunks_fts "
                f"WHERE chunks_fts MATCH ?{only} ORDER BY {order} LIMIT ?) "
                f"SELECT chunk_id, -s FROM hits WHERE EXISTS (SELECT 1 FROM chunk_groups WHERE grp IN ({marks}) AND chunk_rowid = hits.r) "
                "ORDER BY s LIMIT ?"
            )
            rows = [(row[0], float(row[1])) for row in self._db().execute(sql, (match, *only_args, limit, *groups, k))]
            if len(rows) >= k or limit < 0 or not self._more_than(match, window):
                return rows
        return rows

    def _more_than(self, match: str, n: int) -> bool:
        sql = "SELECT COUNT(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        return int(self._db().execute(sql, (match, n + 1)).fetchone()[0]) > n

    def _drop_common(self, terms: list[str], max_df: int, keep: int = 2) -> list[str]:
        if not terms:
            return terms
        df = self.document_frequencies(terms)
        kept = [t for t in terms if df.get(t, 0) <= max_df]
        if len(kept) < min(keep, len(terms)):
            kept = sorted(terms, key=lambda t: df.get(t, 0))[:keep]
            kept = [t for t in terms if t in kept]  # keep the query's order
        return kept

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (as FTS5 stems it), from the fts5vocab table; cached."""
        now = time.monotonic()
        if now - self._df_at > DF_TTL_S:
            self._df, self._df_at = {}, now
        # FTS5's porter tokenizer leaves tokens under 3 characters unstemmed (NLTK turns "s" into "").
        missing = {t: t if len(t) < 3 else stem(t) for t in terms if t not in self._df}
        if missing:
            stems = list(set(missing.values()))
            marks = ",".join("?" * len(stems))
            found = dict(self._db().execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", stems).fetchall())
            for term, stemmed in missing.items():
                self._df[term] = int(found.get(stemmed, 0))
        return {t: self._df[t] for t in terms}

    def spelled_like(self, word: str, groups: Sequence[str] | None) -> bool:
        """Does a readable chunk contain a word spelled almost like `word` — a letter wrong, left out,
        added or two swapped (two in a word of nine letters or more whose stem keeps seven): "sabatical"
        for "sabbatical", not "dress" for "address"? Compared by stems, from the index's vocabulary; a
        word under six letters has too many neighbours ("score", "scope") to tell a typo."""
        target = stem(word.lower())
        if len(word) < 6:
            return False
        most = 2 if len(word) >= 9 and len(target) >= 7 else 1
        close = difflib.get_close_matches(target, self.vocabulary(), n=5, cutoff=0.7)
        return any(t != target and typo_distance(t, target) <= most and self.search(t, 1, groups) for t in close)

    def vocabulary(self) -> list[str]:
        """Every term (stem) of the index, read again at most every DF_TTL_S."""
        read_at, terms = self._vocabulary
        if time.monotonic() - read_at > DF_TTL_S:
            terms = [t for (t,) in self._db().execute("SELECT term FROM chunks_vocab")]
            self._vocabulary = (time.monotonic(), terms)
        return terms

    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0])

    def count_cached(self) -> int:
        """`count()`, read again at most every DF_TTL_S (it only chooses between query plans and
        whether feedback pays)."""
        counted_at, chunks = self._counted
        if time.monotonic() - counted_at > DF_TTL_S:
            chunks = self.count()
            self._counted = (time.monotonic(), chunks)
        return chunks

    def count_matching(self, term: str, docs: Sequence[str] | None = None, limit: int = 5000) -> int:
        """How many chunks (of `docs`, or of all) contain `term`, counted up to `limit`."""
        only, args = _only(docs)
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ?{only} LIMIT ?)"
        return int(self._db().execute(sql, (_quote(term), *args, limit)).fetchone()[0])

    def doc_chunk_ids(self, doc_id: str) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT chunk_id FROM chunks_fts WHERE doc_id=?", (doc_id,))]

    def clear(self) -> None:
        db = self._db()
        db.execute("DELETE FROM chunks_fts")
        db.execute("DELETE FROM chunk_groups")


def _only(docs: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    """The SQL clause (and its arguments) keeping only chunks of `docs`; none for None."""
    if docs is None:
        return "", ()
    args = tuple(dict.fromkeys(docs)) or ("\x00none",)
    return f" AND doc_id IN ({','.join('?' * len(args))})", args
