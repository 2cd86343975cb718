"""Document names: staff point at documents by name ("in Amazon's Q2 2023 10-Q", "the travel
policy"), and a passage deep inside a document rarely repeats what the document is. Each ingested
document gets a short name (file name, title, the short lines that open it); a query that names a
few documents is also searched inside just those documents (see Retriever), so their passages can
outrank look-alike passages of documents the question is not about.

A query names a document through the name-like words they share: proper nouns and identifiers,
i.e. words the query writes with a capital letter or a digit ("Amazon", "Q2", "2023", "HR-7").
Common words describe a topic, which the ordinary dense and lexical search already match; letting
them name documents turns every title that shares a topic word into a target (on Cranfield, whose
queries are lower case and whose titles are descriptive, that cost 0.04 nDCG@10). Each shared word
weighs by how few names carry it (log(1 + N/df)); words in more than half of the names tell
documents apart no better than chance and are ignored. The named documents are those within
`ratio` of the best score — and only when there are at most `limit` of them: a query matching
many names singles out none.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from retrieval.lexical import stem
from retrieval.sqlite import SQLiteFile
from retrieval.text import STOPWORDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS doc_names (
    doc_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    terms TEXT NOT NULL,   -- the name's stems, space-separated
    groups TEXT NOT NULL   -- readers' groups, each wrapped in \x1f
);
CREATE TABLE IF NOT EXISTS doc_name_terms (
    term TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (term, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_name_terms_doc ON doc_name_terms(doc_id);
"""
WORD = re.compile(r"[^\W_]+", re.UNICODE)
SEP = "\x1f"


def name_terms(text: str, *, name_like: bool = False) -> list[str]:
    """Distinct stems of the content words of `text` (two characters or more), in order;
    `name_like`: only words written with a capital letter or a digit."""
    words = WORD.findall(text)
    if name_like:
        words = [w for w in words if any(c.isupper() or c.isdigit() for c in w)]
    lowered = [w.lower() for w in words]
    return list(dict.fromkeys(stem(w) for w in lowered if len(w) > 1 and w not in STOPWORDS))


def document_name(source: str, title: str, lines: Sequence[str], max_words: int = 60) -> str:
    """The name a document goes by: its file name, its title and the short lines it opens with
    (cover-page lines such as an organisation, a form or a period), at most `max_words` words."""
    stem = re.sub(r"[_\-.]+", " ", Path(source).stem)
    parts = [stem, title] if title and title.strip() != stem else [stem]
    words = sum(len(p.split()) for p in parts)
    for line in lines:
        n = len(line.split())
        if words + n > max_words:
            break
        parts.append(line)
        words += n
    return " | ".join(" ".join(p.split()) for p in parts if p.strip())


class DocumentNames:
    """The names table, kept beside the lexical index and in sync with it by ingestion."""

    def __init__(self, path: Path):
        self.path = path
        self._file = SQLiteFile(path, SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return self._file.connection()

    def put(self, doc_id: str, name: str, groups: Sequence[str]) -> None:
        terms = name_terms(name)
        with self._file.transaction() as db:
            db.execute("DELETE FROM doc_name_terms WHERE doc_id=?", (doc_id,))
            db.execute(
                "INSERT OR REPLACE INTO doc_names VALUES (?,?,?,?)",
                (doc_id, name, " ".join(terms), SEP + SEP.join(groups) + SEP),
            )
            db.executemany("INSERT OR IGNORE INTO doc_name_terms VALUES (?,?)", [(t, doc_id) for t in terms])

    def delete(self, doc_ids: Sequence[str]) -> None:
        with self._file.transaction() as db:
            for doc_id in doc_ids:
                db.execute("DELETE FROM doc_names WHERE doc_id=?", (doc_id,))
                db.execute("DELETE FROM doc_name_terms WHERE doc_id=?", (doc_id,))

    def clear(self) -> None:
        self._db().execute("DELETE FROM doc_names")
        self._db().execute("DELETE FROM doc_name_terms")

    def _concentrated(self, term: str, chunk_counts: Callable[[str, Sequence[str] | None], int], share: float = 0.8) -> bool:
        """Do the documents whose names carry `term` hold at least `share` of the chunks using it?"""
        docs = [r[0] for r in self._db().execute("SELECT doc_id FROM doc_name_terms WHERE term=?", (term,))]
        everywhere = chunk_counts(term, None)
        return everywhere == 0 or chunk_counts(term, docs) >= share * everywhere

    def doc_ids(self) -> set[str]:
        return {r[0] for r in self._db().execute("SELECT doc_id FROM doc_names")}

    def get(self, doc_id: str) -> str | None:
        row = self._db().execute("SELECT name FROM doc_names WHERE doc_id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def named(
        self,
        query: str,
        groups: Sequence[str] | None,
        *,
        limit: int = 8,
        ratio: float = 0.75,
        chunk_counts: Callable[[str, Sequence[str] | None], int] | None = None,
    ) -> list[str]:
        """The documents readable by `groups` (None: all) that `query` names, best first; [] when
        it names none or more than `limit`. `chunk_counts(term, docs)`: how many chunks (of `docs`,
        or of all) contain the term — when given, a word only names the documents whose names
        carry it if they also hold most (80 %) of the passages that use it: an organisation's own name
        sits on a few cover pages but runs through every document, and names none of them."""
        terms = name_terms(query, name_like=True)
        if not terms or limit <= 0:
            return []
        db = self._db()
        total = int(db.execute("SELECT COUNT(*) FROM doc_names").fetchone()[0])
        if total < 2:
            return []
        marks = ",".join("?" * len(terms))
        df = dict(db.execute(f"SELECT term, COUNT(*) FROM doc_name_terms WHERE term IN ({marks}) GROUP BY term", terms).fetchall())
        weights = {t: math.log1p(total / n) for t, n in df.items() if n <= total / 2}
        if chunk_counts is not None:
            weights = {t: w for t, w in weights.items() if self._concentrated(t, chunk_counts)}
        if not weights:
            return []
        marks = ",".join("?" * len(weights))
        sql = f"SELECT t.term, t.doc_id, n.groups FROM doc_name_terms t JOIN doc_names n USING (doc_id) WHERE t.term IN ({marks})"
        allowed = None if groups is None else set(groups)
        scores: dict[str, float] = {}
        for term, doc_id, stored in db.execute(sql, list(weights)):
            if allowed is None or allowed & set(stored.strip(SEP).split(SEP)):
                scores[doc_id] = scores.get(doc_id, 0.0) + weights[term]
        if not scores:
            return []
        best = max(scores.values())
        chosen = sorted((d for d, s in scores.items() if s >= ratio * best), key=lambda d: (-scores[d], d))
        return chosen if len(chosen) <= limit else []
