"""Each factory picks the backend the settings name and fails clearly otherwise."""

import builtins

import pytest

from retrieval.embedders import HashEmbedder, LocalEmbedder, OpenAIEmbedder, make_embedder
from retrieval.errors import ConfigError, MissingDependencyError
from retrieval.generators import (
    FakeChatModel,
    LlamaCppChatModel,
    OpenAIChatModel,
    TransformersChatModel,
    make_chat_model,
)
from retrieval.settings import load_settings
from retrieval.partitions import PartitionedStore
from retrieval.resident import ResidentStore
from retrieval.store import ChromaStore, group_filter, make_store

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "generator, cls",
    [
        ({"kind": "llama_cpp"}, LlamaCppChatModel),
        ({"kind": "transformers", "model": "org/model"}, TransformersChatModel),
        ({"kind": "openai", "api_base": "http://127.0.0.1:9/v1", "model": "m"}, OpenAIChatModel),
        ({"kind": "fake"}, FakeChatModel),
    ],
)
def test_generator_factory(lore_home, generator, cls):
    settings = load_settings(overrides={"models": {"generator": generator}})
    assert isinstance(make_chat_model(settings), cls)


@pytest.mark.parametrize(
    "embedder, cls",
    [({"kind": "local"}, LocalEmbedder), ({"kind": "openai", "model": "e"}, OpenAIEmbedder), ({"kind": "hash"}, HashEmbedder)],
)
def test_embedder_factory(lore_home, embedder, cls):
    settings = load_settings(overrides={"models": {"embedder": embedder}})
    assert isinstance(make_embedder(settings), cls)


def layers(store) -> list[type]:
    found = [type(store)]
    while hasattr(store, "inner"):
        store = store.inner
        found.append(type(store))
    return found


@pytest.mark.parametrize(
    "store, expected",
    [
        ({"kind": "embedded"}, [ResidentStore, PartitionedStore, ChromaStore]),
        ({"kind": "http"}, [PartitionedStore, ChromaStore]),  # a server's index is not copied into each process
        ({"kind": "embedded", "group_partitions": False}, [ResidentStore, ChromaStore]),
        ({"kind": "embedded", "resident_max_chunks": 0}, [PartitionedStore, ChromaStore]),
        ({"kind": "embedded", "group_partitions": False, "resident_max_chunks": 0}, [ChromaStore]),
    ],
)
def test_store_factory(lore_home, store, expected):
    made = make_store(load_settings(overrides={"store": store}))
    assert layers(made) == expected
    from retrieval.chunk_store import layer

    assert (layer(made, PartitionedStore) is not None) == (PartitionedStore in expected)
    assert isinstance(layer(made, ChromaStore), ChromaStore)
    chroma = made
    while hasattr(chroma, "inner"):
        assert chroma.connection is chroma.inner.connection  # one client for every layer
        chroma = chroma.inner


def test_unknown_kind_is_rejected_with_the_choices(lore_home):
    settings = load_settings()
    object.__setattr__(settings.models.generator, "kind", "gpt5")  # bypass validation to reach the factory
    with pytest.raises(ConfigError, match="llama_cpp, transformers, openai or fake"):
        make_chat_model(settings)


def test_openai_generator_needs_an_endpoint(lore_home):
    settings = load_settings(overrides={"models": {"generator": {"kind": "openai"}}})
    with pytest.raises(ConfigError, match="api_base"):
        make_chat_model(settings)


def test_missing_optional_dependency_names_the_package(lore_home, monkeypatch):
    real_import = builtins.__import__

    def no_llama(name, *args, **kwargs):
        if name == "llama_cpp":
            raise ImportError("No module named 'llama_cpp'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_llama)
    model = make_chat_model(load_settings())
    with pytest.raises(MissingDependencyError, match="pip install llama-cpp-python"):
        model.warm_up()


def test_missing_model_file_names_the_install_command(lore_home, tmp_path):
    settings = load_settings(overrides={"models": {"dir": str(tmp_path / "empty-models")}})
    with pytest.raises(Exception, match="lore models install"):
        make_chat_model(settings).warm_up()


def test_fake_model_streams_a_cited_first_sentence():
    from retrieval.schema import ChatMessage

    model = FakeChatModel()
    prompt = '<documents><document id="2" source="a.md">Travel needs 21 days notice. More text.</document></documents>'
    stream = model.stream([ChatMessage("user", prompt)])
    deltas = list(stream)
    assert len(deltas) > 1
    assert stream.text == "Travel needs 21 days notice. [2]"
    assert stream.usage.completion_tokens == len(deltas)
    assert model.stream([ChatMessage("user", "no documents")]).read() == FakeChatModel.REFUSAL


def test_hash_embedder_is_deterministic_and_normalised():
    embedder = HashEmbedder(64)
    a, b = embedder.embed_documents(["travel policy", "travel policy"])
    assert a == b
    assert abs(sum(v * v for v in a) - 1) < 1e-9
    near, far = embedder.embed_documents(["travel policy rules", "quarterly revenue"])
    dot = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert dot(a, near) > dot(a, far)


@pytest.mark.parametrize(
    "groups, expected",
    [
        (None, None),
        (["finance"], {"acl:finance": {"$eq": True}}),
        (["a", "b", "a"], {"$or": [{"acl:a": {"$eq": True}}, {"acl:b": {"$eq": True}}]}),
    ],
)
def test_group_filter(groups, expected):
    assert group_filter(groups) == expected


def test_empty_groups_admit_nothing():
    where = group_filter([])
    assert where is not None and "$or" not in where
