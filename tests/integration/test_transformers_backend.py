"""The transformers generator on a tiny, randomly initialised Qwen2 model built in the test:
the real loading, chat-template, streaming and usage code paths, without a hub or a large download."""

import pytest

from retrieval.generators import make_chat_model
from retrieval.schema import ChatMessage
from retrieval.settings import load_settings

pytestmark = [pytest.mark.integration]

WORDS = "the travel policy requires approval days in advance answer context question documents".split()
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }}<|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(specials + WORDS + ["user", "system", "assistant"])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    tokenizer.chat_template = TEMPLATE
    config = Qwen2Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"],
    )
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_transformers_backend_streams_with_usage(lore_home, tiny_model_dir):
    settings = load_settings(
        overrides={"models": {"generator": {"kind": "transformers", "model": str(tiny_model_dir), "device": "cpu", "max_new_tokens": 8}}}
    )
    model = make_chat_model(settings)
    messages = [ChatMessage("system", "answer from the documents"), ChatMessage("user", "the travel policy question")]
    stream = model.stream(messages, max_tokens=8)
    deltas = list(stream)
    assert stream.done
    assert stream.usage.prompt_tokens == model.count_tokens("<|im_start|>system answer from the documents<|im_end|> <|im_start|>user the travel policy question<|im_end|> <|im_start|>assistant")
    assert 1 <= stream.usage.completion_tokens <= 8
    assert "".join(deltas) == stream.text


def test_transformers_backend_is_deterministic_at_temperature_zero(lore_home, tiny_model_dir):
    settings = load_settings(overrides={"models": {"generator": {"kind": "transformers", "model": str(tiny_model_dir), "device": "cpu"}}})
    model = make_chat_model(settings)
    messages = [ChatMessage("user", "travel policy days")]
    assert model.stream(messages, max_tokens=6).read() == model.stream(messages, max_tokens=6).read()


def test_missing_local_model_dir_names_the_setting(lore_home, tmp_path):
    settings = load_settings(overrides={"models": {"generator": {"kind": "transformers", "model": "no-such-model"}}})
    with pytest.raises(Exception, match="models.generator.model"):
        make_chat_model(settings).warm_up()
