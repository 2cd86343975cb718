"""Documents a question names: the names table, and retrieval searching inside the named documents
without dropping anything or widening access."""

from __future__ import annotations

import pytest

from retrieval.assistant import build_assistant
from retrieval.generators import FakeChatModel
from retrieval.names import DocumentNames, document_name, name_terms
from retrieval.schema import Chunk
from retrieval.testing import seed

pytestmark = pytest.mark.unit

FILINGS = {
    "2023 Q1 ACME": "ACME ROCKETS INC. | FORM 10-Q",
    "2023 Q2 ACME": "ACME ROCKETS INC. | FORM 10-Q",
    "2023 Q1 GLOBEX": "GLOBEX CORPORATION | FORM 10-Q",
    "2023 Q2 GLOBEX": "GLOBEX CORPORATION | FORM 10-Q",
    "2023 Q3 INITECH": "INITECH LLC | FORM 10-Q",
}


@pytest.fixture
def names(tmp_path):
    table = DocumentNames(tmp_path / "names.sqlite")
    for stem, cover in FILINGS.items():
        table.put(stem, document_name(f"filings/{stem}.pdf", "", cover.split(" | ")), ["all-staff"])
    return table


def test_document_name_joins_file_name_title_and_short_lines_within_the_word_cap():
    name = document_name("a/b/travel_and-expense.policy.docx", "Travel and Expense Policy", ["Version 3", "Owner: Finance"], max_words=10)
    assert name == "travel and expense policy | Travel and Expense Policy | Version 3"
    assert name_terms("Amazon's Q2 2023 10-Q") == ["amazon", "q2", "2023", "10"]
    assert name_terms("what did amazon report in Q2?", name_like=True) == ["q2"]  # proper nouns and identifiers only


def test_a_query_naming_one_document_names_exactly_it(names):
    assert names.named("What did Globex report in its Q1 2023 filing?", None) == ["2023 Q1 GLOBEX"]
    assert names.named("Acme rockets: revenue in Q2", None) == ["2023 Q2 ACME"]


def test_a_company_names_all_its_filings_and_two_companies_name_both(names):
    assert names.named("How did Acme's revenue change?", None) == ["2023 Q1 ACME", "2023 Q2 ACME"]
    assert sorted(names.named("Compare Acme and Globex", None)) == ["2023 Q1 ACME", "2023 Q1 GLOBEX", "2023 Q2 ACME", "2023 Q2 GLOBEX"]


def test_words_most_names_share_or_too_many_matches_name_nothing(names):
    assert names.named("What does a 10-Q form contain?", None) == []  # in every name
    assert names.named("Compare Acme and Globex", None, limit=3) == []  # four documents: singles out none
    assert names.named("What is the weather?", None) == []


def test_only_documents_the_reader_may_see_are_named(names):
    names.put("2023 Q3 INITECH", document_name("filings/2023 Q3 INITECH.pdf", "", ["INITECH LLC"]), ["board"])
    assert names.named("Initech quarterly report", ["all-staff"]) == []
    assert names.named("Initech quarterly report", ["board"]) == ["2023 Q3 INITECH"]
    names.delete(["2023 Q3 INITECH"])
    assert names.named("Initech quarterly report", ["board"]) == [] and names.get("2023 Q3 INITECH") is None


def _filing_chunks() -> list[Chunk]:
    """Each filing names its company on its cover; its passage on exchange rates is word for word
    the other filing's (as boilerplate in real filings is) and never says whose it is."""
    chunks = []
    for stem, company in (("2023 Q1 ACME", "ACME ROCKETS INC."), ("2023 Q1 GLOBEX", "GLOBEX CORPORATION")):
        chunks += [
            Chunk(id=f"{stem}-cover", text=f"{company}: quarterly report on form 10-Q.", source=f"{stem}.pdf", doc_id=stem, groups=("all-staff",)),
            Chunk(id=f"{stem}-fx", text="Foreign exchange rates reduced net sales by 2 percent this quarter.", source=f"{stem}.pdf", doc_id=stem, groups=("all-staff",)),
        ]
    return chunks


@pytest.mark.parametrize("scope_docs", [8, 0])
def test_retrieval_searches_inside_the_named_document(test_settings, scope_docs):
    settings = test_settings.model_copy(update={"retrieval": test_settings.retrieval.model_copy(update={"scope_docs": scope_docs, "feedback_docs": 0})})
    assistant = build_assistant(settings, chat_model=FakeChatModel())
    seed(assistant, _filing_chunks())
    found = assistant.search("How did foreign exchange rates affect Globex net sales?", groups=["all-staff"], top_k=4)
    top = [s.chunk.doc_id for s in found[:2]]
    if scope_docs:
        assert top == ["2023 Q1 GLOBEX", "2023 Q1 GLOBEX"]  # both of its passages, before Acme's
    else:
        assert top != ["2023 Q1 GLOBEX", "2023 Q1 GLOBEX"]  # without names, Acme's identical passage competes
    assert len(found) == 4  # nothing is filtered away: the other filing's chunks still follow


def test_scoping_never_widens_access(test_settings):
    assistant = build_assistant(test_settings, chat_model=FakeChatModel())
    chunks = [Chunk(id="secret", text="The Falcon deal closes in May.", source="board/falcon deal.docx", doc_id="falcon", groups=("board",)),
              Chunk(id="open", text="The office closes in May for maintenance.", source="hr/office.docx", doc_id="office", groups=("all-staff",))]  # fmt: skip
    seed(assistant, chunks)
    assert [s.chunk.id for s in assistant.search("When does the Falcon deal close?", groups=["all-staff"])] == ["open"]
    assert [s.chunk.id for s in assistant.search("When does the Falcon deal close?", groups=["board"])] == ["secret"]


def test_a_word_most_passages_use_outside_the_named_documents_names_none(names):
    """An organisation's own name sits on a few cover pages but runs through every document."""
    acme, globex = name_terms("Acme")[0], name_terms("Globex")[0]
    everywhere, inside = {acme: 10, globex: 10}, {acme: 9, globex: 4}

    def counts(term, docs):
        return (everywhere if docs is None else inside).get(term, 0)

    assert names.named("How did Acme do?", None, chunk_counts=counts) == ["2023 Q1 ACME", "2023 Q2 ACME"]
    assert names.named("How did Globex do?", None, chunk_counts=counts) == []
    assert names.named("How did Globex do?", None) == ["2023 Q1 GLOBEX", "2023 Q2 GLOBEX"]  # without the check


def test_lexical_counts_chunks_using_a_term(tmp_path):
    from retrieval.lexical import LexicalIndex

    index = LexicalIndex(tmp_path / "lexical.sqlite")
    index.upsert([Chunk(id=f"c{i}", text=f"Northwind note {i}", source=f"d{i % 2}.md", doc_id=f"d{i % 2}", groups=("all-staff",)) for i in range(5)])
    assert index.count_matching("northwind") == 5
    assert index.count_matching("northwind", ["d0"]) == 3 and index.count_matching("northwind", []) == 0
    assert index.count_matching("northwind", limit=2) == 2
