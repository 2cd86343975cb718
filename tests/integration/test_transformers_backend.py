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


def word_level_tokenizer(path):
    """transformers 5 reloads the saved word-level tokenizer as Qwen2's byte-level one, which knows none of
    its words (every text counts 0 tokens): read the saved tokenizer.json as it is."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"), eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def test_transformers_backend_streams_with_usage(lore_home, tiny_model_dir):
    settings = load_settings(
        overrides={"models": {"generator": {"kind": "transformers", "model": str(tiny_model_dir), "device": "cpu", "max_new_tokens": 8}}}
    )
    model = make_chat_model(settings)
    model.warm_up()
    model._tokenizer = word_level_tokenizer(tiny_model_dir)
    messages = [ChatMessage("system", "answer from the documents"), ChatMessage("user", "the travel policy question")]
    stream = model.stream(messages, max_tokens=8)
    deltas = list(stream)
    assert stream.done
    assert stream.usage.prompt_tokens == model.count_tokens("<|im_start|>system answer from the documents<|im_end|> <|im_start|>user the travel policy question<|im_end|> <|im_start|>assistant")
    assert stream.usage.prompt_tokens > 10  # the words are known: counted, not dropped
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


def test_transformers_backend_scores_given_text(lore_home, tiny_model_dir):
    """text_logprobs (the LLM likelihood's input): one log-probability per token of the text, each the
    model's own for that token after the prefix and the tokens before it."""
    import torch

    settings = load_settings(overrides={"models": {"generator": {"kind": "transformers", "model": str(tiny_model_dir), "device": "cpu"}}})
    model = make_chat_model(settings)
    model.warm_up()
    model._tokenizer = word_level_tokenizer(tiny_model_dir)
    scored = model.text_logprobs("the travel policy", " requires approval days in advance")
    assert [t.strip() for t, _ in scored] == ["requires", "approval", "days", "in", "advance"]
    head = model._tokenizer("the travel policy", add_special_tokens=False)["input_ids"]
    ids = model._tokenizer(" requires approval days in advance", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model._model(torch.tensor([head + ids])).logits[0].float()
    expected = [torch.log_softmax(logits[len(head) - 1 + i], dim=-1)[t].item() for i, t in enumerate(ids)]
    assert [round(lp, 4) for _, lp in scored] == [round(lp, 4) for lp in expected]
    assert all(lp < 0 for _, lp in scored)
