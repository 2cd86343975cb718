"""Chat models behind one small Protocol; `make_chat_model()` is the only place a backend is chosen.

Every backend streams: `stream()` returns a ChatStream that yields text deltas and knows the token
usage once it is exhausted. Models load lazily on first use or in `warm_up()`, never at import.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from retrieval.errors import ConfigError, MissingDependencyError, ModelUnavailableError
from retrieval.models import fetch_gguf, resolve_local
from retrieval.schema import ChatMessage, Usage
from retrieval.settings import GeneratorSettings, Settings


class ChatStream:
    """Iterate for text deltas; `text` and `usage` are complete once iteration ends."""

    def __init__(self, deltas: Iterator[str], finish: Callable[[str], Usage]):
        self._deltas = deltas
        self._finish = finish
        self.text = ""
        self.usage = Usage()
        self.done = False

    def __iter__(self) -> Iterator[str]:
        for delta in self._deltas:
            self.text += delta
            yield delta
        self.usage = self._finish(self.text)
        self.done = True

    def read(self) -> str:
        """Consume the whole stream and return the text."""
        for _ in self:
            pass
        return self.text

    def stop(self) -> None:
        """Stop generating (the backend stops at once); `text` and `usage` cover what was produced."""
        if self.done:
            return
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()
        self.usage = self._finish(self.text)
        self.done = True


@runtime_checkable
class ChatModel(Protocol):
    name: str
    context_window: int

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] = (),
        json_schema: dict[str, Any] | None = None,
    ) -> ChatStream: ...

    def count_tokens(self, text: str) -> int: ...

    def warm_up(self) -> None: ...

    def next_token_logits(self, words: Sequence[str]) -> dict[str, float] | None:
        """The raw logits (before any grammar) of `words`, each one token, as the next token after
        the last prompt the model read; None where the backend does not expose them."""
        ...

    def text_logprobs(self, prefix: str, text: str) -> list[tuple[str, float]] | None:
        """Each token of `text` with its log-probability after `prefix` and the tokens before it (plain
        text, no chat template); None where the backend does not expose them."""
        ...


_PARAMS_LOCK = threading.Lock()


def repack_weights(setting: bool | None, lib_dir: Path | None) -> bool:
    """Whether llama.cpp repacks the weights (`use_extra_bufts`): the setting, or when unset, yes
    under a build without AVX-512 kernels (its AVX2 kernels read prompts faster repacked) and no
    under one with them (slower repacked; and no AMX buffers, which need AVX-512)."""
    if setting is not None:
        return setting
    from retrieval.native_build import BuildError, compiled_features

    try:
        return lib_dir is not None and not compiled_features(lib_dir).get("GGML_AVX512", False)
    except (BuildError, OSError):
        return False


@contextmanager
def llama_model_params(**fields: Any) -> Iterator[None]:
    """llama-cpp-python's `Llama()` takes no argument for some `llama_model_params` fields
    (`use_extra_bufts`): set them on the defaults it starts from, for the duration of one load."""
    import llama_cpp.llama as module

    low = module.llama_cpp
    with _PARAMS_LOCK:
        default = low.llama_model_default_params

        def params():
            p = default()
            for name, value in fields.items():
                setattr(p, name, value)
            return p

        low.llama_model_default_params = params
        try:
            yield
        finally:
            low.llama_model_default_params = default


def _threads(configured: int) -> int:
    # llama.cpp defaults to cpu_count // 2, which halves decode speed on 2 cores.
    return configured or os.cpu_count() or 1


class LlamaCppChatModel:
    """A GGUF model run by llama.cpp on the CPU (or offloaded to a GPU with `gpu_layers`)."""

    def __init__(self, config: GeneratorSettings, models_dir: Path):
        self.config = config
        self.models_dir = models_dir
        self.name = Path(config.model).name
        self.context_window = config.context_window
        self._llm: Any = None
        self._lock = threading.RLock()  # one llama.cpp context: one generation at a time
        self._formatter: Any = None
        self._grammars: dict[str, str] = {}

    def warm_up(self) -> None:
        with self._lock:
            if self._llm is not None:
                return
            from retrieval.decode_check import ensure_native_safe
            from retrieval.native_build import package_lib_dir, prepare_runtime

            path = resolve_local(self.config.model, self.models_dir, "generator model") or fetch_gguf(
                self.config.model, self.models_dir
            )
            # A crashing native build must end in one line, not kill this process: the first load
            # on a machine runs a test decode in a child process (retrieval/decode_check.py).
            lib_dir = prepare_runtime() or package_lib_dir()
            if self.config.check_in_child:
                ensure_native_safe(self.config, self.models_dir, path, lib_dir)
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingDependencyError("the llama_cpp generator", "llama-cpp-python") from exc
            threads = _threads(self.config.threads)
            try:
                with llama_model_params(use_extra_bufts=repack_weights(self.config.repack_weights, lib_dir)):
                    self._llm = Llama(
                        model_path=str(path),
                        n_ctx=self.config.context_window,
                        n_threads=threads,
                        n_threads_batch=threads,
                        n_gpu_layers=self.config.gpu_layers,
                        seed=self.config.seed,
                        verbose=False,
                    )
            except (ValueError, RuntimeError) as exc:
                raise ModelUnavailableError(f"llama.cpp could not load {path} ({exc}): re-run `lore models install --force`") from exc

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def next_token_logits(self, words: Sequence[str]) -> dict[str, float] | None:
        # llama.cpp keeps the logits of the last evaluated token: after a one-token reply (sampled,
        # never evaluated) they are still those of the prompt's last token.
        if self._llm is None:
            return None
        import numpy as np

        ids = {word: self._llm.tokenize(word.encode(), add_bos=False) for word in words}
        if any(len(t) != 1 for t in ids.values()):
            return None
        logits = np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._llm.n_vocab(),))
        return {word: float(logits[t[0]]) for word, t in ids.items()}

    def text_logprobs(self, prefix: str, text: str) -> list[tuple[str, float]] | None:
        """One forward pass over prefix and text; the prefix's cache is kept, so scoring several texts
        after one prefix (many answers of one document) reads the prefix once."""
        import numpy as np

        self.warm_up()
        with self._lock:
            llm = self._llm
            head = llm.tokenize(prefix.encode("utf-8"), add_bos=False)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False)[: max(0, llm.n_ctx() - 2)]
            head = head[max(0, len(head) + len(ids) - llm.n_ctx() + 1):]  # the prefix's start gives way first
            if not ids or not head:
                return [] if not ids else None
            kept = head[:-1]
            if llm.n_tokens < len(kept) or list(llm.input_ids[: len(kept)]) != kept:
                llm.reset()
                llm.eval(kept)
            llm.n_tokens = len(kept)
            tokens = [head[-1], *ids]
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
            out: list[float] = []
            for start in range(0, len(tokens), llm.n_batch):
                batch = tokens[start: start + llm.n_batch]
                llm._batch.set_batch(batch=batch, n_past=llm.n_tokens, logits_all=True)
                llm._ctx.decode(llm._batch)
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch), llm.n_vocab()))
                llm.input_ids[llm.n_tokens: llm.n_tokens + len(batch)] = batch
                llm.n_tokens += len(batch)
                following = tokens[start + 1: start + 1 + len(batch)]
                rows = logits[: len(following)]
                peak = rows.max(axis=1)
                norm = peak + np.log(np.exp(rows - peak[:, None]).sum(axis=1, dtype=np.float64))
                out += (rows[np.arange(len(following)), following] - norm).tolist()
            llm.n_tokens = len(kept)  # the next call keeps the prefix, drops this text
            return [(llm.detokenize([t]).decode("utf-8", errors="replace"), lp) for t, lp in zip(ids, out)]

    def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None) -> ChatStream:
        self.warm_up()
        if json_schema is not None and self._template() is not None:
            return self._stream_constrained(messages, json_schema, max_tokens, stop)
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.config.max_new_tokens,
            "temperature": self.config.temperature if temperature is None else temperature,
            "seed": self.config.seed,
            "stop": list(stop) or None,
            "stream": True,
        }
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        counted = {"completion": 0}

        def deltas() -> Iterator[str]:
            with self._lock:
                for event in self._llm.create_chat_completion(**kwargs):
                    delta = event["choices"][0]["delta"].get("content")
                    if delta:
                        counted["completion"] += 1
                        yield delta
                counted["context"] = self._llm.n_tokens

        def finish(text: str) -> Usage:
            completion = counted["completion"]
            return Usage(prompt_tokens=max(counted.get("context", 0) - completion, 0), completion_tokens=completion)

        return ChatStream(deltas(), finish)

    def _template(self) -> Any:
        """The model's own chat template (from the GGUF), used to lay out constrained prompts."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llm.metadata.get("tokenizer.chat_template")
            if not template:
                self._formatter = False
            else:
                model = self._llm._model
                eos, bos = self._llm.token_eos(), self._llm.token_bos()
                self._formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=model.token_get_text(eos) if eos != -1 else "",
                    bos_token=model.token_get_text(bos) if bos != -1 else "",
                    stop_token_ids=[eos],
                )
        return self._formatter or None

    def _stream_constrained(self, messages, json_schema: dict[str, Any], max_tokens: int | None, stop: Sequence[str]) -> ChatStream:
        """Greedy decoding held to the JSON schema's grammar, checking only the best candidates at
        each step (retrieval/grammar.py): about as fast as unconstrained decoding."""
        from llama_cpp import LogitsProcessorList

        from retrieval.grammar import GrammarFilter, schema_grammar

        key = json.dumps(json_schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            grammar = self._grammars[key] = schema_grammar(json_schema)
        formatted = self._template()(messages=[{"role": m.role, "content": m.content} for m in messages])
        tokens = self._llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
        counted = {"completion": 0}

        def deltas() -> Iterator[str]:
            with self._lock:
                try:
                    guard = GrammarFilter(self._llm, grammar)
                except ValueError as exc:  # a schema llama.cpp cannot turn into a grammar: a bug of ours
                    raise ModelUnavailableError(f"llama.cpp rejected the answer form's grammar ({exc}): report this as a bug") from exc
                try:
                    for event in self._llm.create_completion(
                        prompt=tokens, max_tokens=max_tokens or self.config.max_new_tokens, temperature=0.0,
                        seed=self.config.seed, stop=list(stop) or None, stream=True,
                        logits_processor=LogitsProcessorList([guard]),
                    ):
                        text = event["choices"][0]["text"]
                        if text:
                            counted["completion"] += 1
                            yield text
                finally:
                    counted["steps"], counted["full_checks"] = guard.steps, guard.full_checks
                    guard.close()

        def finish(text: str) -> Usage:
            return Usage(prompt_tokens=len(tokens), completion_tokens=max(counted.get("steps", 0), counted["completion"]))

        return ChatStream(deltas(), finish)


class TransformersChatModel:
    """A Hugging Face causal LM via transformers: CUDA + bf16 + device_map="auto" when a GPU is
    present (the GPU path), the CPU otherwise. Also reads GGUF files (dequantized; slow on CPU)."""

    def __init__(self, config: GeneratorSettings, models_dir: Path):
        self.config = config
        self.models_dir = models_dir
        self.name = Path(config.model).name
        self.context_window = config.context_window
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise MissingDependencyError("the transformers generator", "transformers") from exc
            path = resolve_local(self.config.model, self.models_dir, "generator model")
            source = str(path) if path else self.config.model
            kwargs: dict[str, Any] = {}
            if path is not None and path.is_file():  # a GGUF file: transformers dequantizes it
                source, kwargs["gguf_file"] = str(path.parent), path.name
            device = self.config.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            load: dict[str, Any] = {"dtype": torch.bfloat16}
            if device == "cuda":
                load["device_map"] = "auto"
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(source, **kwargs, **load)
            except OSError as exc:
                raise ModelUnavailableError(f"transformers could not load {source!r} ({exc}): check models.generator.model") from exc
            if device != "cuda":
                model = model.to(device)
            torch.manual_seed(self.config.seed)
            self._model = model.eval()

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def next_token_logits(self, words: Sequence[str]) -> dict[str, float] | None:
        return None

    def text_logprobs(self, prefix: str, text: str) -> list[tuple[str, float]] | None:
        import torch

        self.warm_up()
        head = self._tokenizer(prefix, add_special_tokens=False)["input_ids"]
        ids = self._tokenizer(text, add_special_tokens=False)["input_ids"][: self.context_window - 2]
        head = head[max(0, len(head) + len(ids) - self.context_window + 1):]
        if not ids or not head:
            return [] if not ids else None
        with self._lock, torch.inference_mode():
            tokens = torch.tensor([head + ids], device=self._model.device)
            logits = self._model(tokens).logits[0, len(head) - 1: -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)[torch.arange(len(ids), device=logits.device), torch.tensor(ids, device=logits.device)].tolist()
        return [(self._tokenizer.decode([t]), lp) for t, lp in zip(ids, logprobs)]

    def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None) -> ChatStream:
        # json_schema: transformers has no grammar-constrained decoding here; callers parse leniently.
        self.warm_up()
        from transformers import TextIteratorStreamer

        chat = [{"role": m.role, "content": m.content} for m in messages]
        inputs = self._tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        inputs = {k: v.to(self._model.device) for k, v in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        temperature = self.config.temperature if temperature is None else temperature
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.config.timeout_s)
        generate_kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=max_tokens or self.config.max_new_tokens,
            do_sample=temperature > 0,
            pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
        )
        if temperature > 0:
            generate_kwargs["temperature"] = temperature
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["ids"] = self._model.generate(**generate_kwargs)
            except Exception as exc:  # surfaced to the caller below
                outcome["error"] = exc
                streamer.end()

        def deltas() -> Iterator[str]:
            with self._lock:
                worker = threading.Thread(target=run, daemon=True)
                worker.start()
                yield from _cut_at_stop(streamer, stop)
                worker.join()
            if "error" in outcome:
                raise ModelUnavailableError(f"transformers generation failed ({outcome['error']}): check the model and device")

        def finish(text: str) -> Usage:
            ids = outcome.get("ids")
            completion = int(ids.shape[-1]) - prompt_tokens if ids is not None else 0
            return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)

        return ChatStream(deltas(), finish)


def _cut_at_stop(deltas: Iterator[str], stop: Sequence[str]) -> Iterator[str]:
    """Yield deltas until a stop string appears (stop strings themselves are not emitted)."""
    if not stop:
        yield from deltas
        return
    buffer = ""
    keep = max(len(s) for s in stop)
    for delta in deltas:
        buffer += delta
        hits = [buffer.index(s) for s in stop if s in buffer]
        if hits:
            yield buffer[: min(hits)]
            return
        if len(buffer) > keep:
            yield buffer[:-keep]
            buffer = buffer[-keep:]
    yield buffer


class OpenAIChatModel:
    """Any OpenAI-compatible server: vLLM, TGI, Ollama, llama.cpp server, OpenAI, Azure."""

    def __init__(self, config: GeneratorSettings):
        if not config.api_base and not config.api_key:
            raise ConfigError(
                "the openai generator needs models.generator.api_base (e.g. http://localhost:8000/v1) or an api_key"
            )
        self.config = config
        self.name = config.model
        self.context_window = config.context_window
        self._client: Any = None

    def warm_up(self) -> None:
        if self._client is not None:
            return
        try:
            from openai import OpenAI
        except ImportError as exc:
            raise MissingDependencyError("the openai generator", "openai") from exc
        key = self.config.api_key.get_secret_value() if self.config.api_key else "not-needed"
        self._client = OpenAI(base_url=self.config.api_base or None, api_key=key, timeout=self.config.timeout_s, max_retries=1)

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is unknown here; ~4 characters a token is the usual estimate.
        return max(1, len(text) // 4)

    def next_token_logits(self, words: Sequence[str]) -> dict[str, float] | None:
        return None

    def text_logprobs(self, prefix: str, text: str) -> list[tuple[str, float]] | None:
        return None  # chat-completion APIs do not score given text

    def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None) -> ChatStream:
        self.warm_up()
        import openai

        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.config.max_new_tokens,
            "temperature": self.config.temperature if temperature is None else temperature,
            "seed": self.config.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if stop:
            kwargs["stop"] = list(stop)
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": json_schema}}
        usage = Usage()

        def deltas() -> Iterator[str]:
            try:
                for event in self._client.chat.completions.create(**kwargs):
                    if event.usage:
                        usage.prompt_tokens = event.usage.prompt_tokens
                        usage.completion_tokens = event.usage.completion_tokens
                    if event.choices and event.choices[0].delta.content:
                        yield event.choices[0].delta.content
            except openai.APIError as exc:
                raise ModelUnavailableError(
                    f"the model server at {self.config.api_base or 'api.openai.com'} failed ({exc.__class__.__name__}: {exc}): "
                    "check models.generator.api_base and that the server is up"
                ) from exc

        def finish(text: str) -> Usage:
            if not usage.completion_tokens:
                usage.completion_tokens = self.count_tokens(text)
            return usage

        return ChatStream(deltas(), finish)


DOC_BLOCK = re.compile(r'<document id="(\d+)"[^>]*>\s*(.*?)\s*</document>', re.S)
SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


class FakeChatModel:
    """Deterministic stand-in for tests: answers with the first sentence of the first fenced
    document, cited as [n] (a typed answer's form: that sentence as the quote, its first number and
    unit as the value); says the refusal line when no document is given. `reply(messages)` or
    `reply(messages, json_schema)` overrides it."""

    REFUSAL = "The documents do not contain the answer."

    def __init__(self, reply: Callable[..., str] | None = None, name: str = "fake"):
        self.reply = reply or self.default_reply
        self.name = name
        self.context_window = 4096
        self.calls: list[list[ChatMessage]] = []

    @classmethod
    def default_reply(cls, messages: Sequence[ChatMessage]) -> str:
        last = messages[-1].content if messages else ""
        blocks = DOC_BLOCK.findall(last)
        if not blocks:
            return cls.REFUSAL
        doc_id, text = blocks[0]
        sentence = SENTENCE.match(text)
        first = (sentence.group(1) if sentence else text).strip().replace("\n", " ")
        return f"{first} [{doc_id}]"

    def warm_up(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def next_token_logits(self, words: Sequence[str]) -> dict[str, float] | None:
        return None

    def text_logprobs(self, prefix: str, text: str) -> list[tuple[str, float]] | None:
        """A toy likelihood: a word is likely (-0.5) when the prefix has it, unlikely (-6.0) otherwise."""
        seen = set(re.findall(r"\w+", prefix.lower()))
        return [(w, -0.5 if set(re.findall(r"\w+", w.lower())) <= seen else -6.0) for w in re.findall(r"\S+\s*", text)]

    @classmethod
    def default_form(cls, messages: Sequence[ChatMessage], json_schema: dict[str, Any]) -> str:
        """A typed answer's form filled from the first document: its first sentence as the quote
        (and as the point), its first number (else its first words) as the value."""
        blocks = DOC_BLOCK.findall(messages[-1].content if messages else "")
        props = json_schema.get("properties", {})
        key = "points" if "points" in props else "facts"
        if not blocks:
            return json.dumps({key: []} | ({"answer": "not stated"} if "answer" in props else {}))
        doc_id, text = blocks[0]
        body = text.split("\n", 1)[-1] if text.startswith("[") else text
        sentence = SENTENCE.match(body.strip())
        first = (sentence.group(1) if sentence else body).strip().replace("\n", " ")
        if key == "points":
            return json.dumps({"points": [{"doc": int(doc_id), "text": first}]})
        number = re.search(r"\d[\d,.]*\d(?:\s+[a-z]+)?|\d(?:\s+[a-z]+)?", first)
        value = number.group(0) if number else " ".join(first.split()[:4])
        form = {"facts": [{"doc": int(doc_id), "quote": first, "value": value, "about": ""}]}
        return json.dumps(({"answer": "yes"} if "answer" in props else {}) | form)

    def stream(self, messages, *, max_tokens=None, temperature=None, stop=(), json_schema=None) -> ChatStream:
        self.calls.append(list(messages))
        if json_schema is not None and self.reply == self.default_reply:
            text = self.default_form(messages, json_schema)
        elif len(inspect.signature(self.reply).parameters) >= 2:
            text = self.reply(messages, json_schema)
        else:
            text = self.reply(messages)
        words = re.findall(r"\S+\s*", text)[: max_tokens or None]
        prompt = sum(self.count_tokens(m.content) for m in messages)
        return ChatStream(iter(words), lambda out: Usage(prompt_tokens=prompt, completion_tokens=len(words)))


def make_chat_model(settings: Settings, config: GeneratorSettings | None = None) -> ChatModel:
    """The generator configured in `models.generator` (or `config`)."""
    return make_generator(config or settings.models.generator, settings.models.dir)


def make_generator(config: GeneratorSettings, models_dir: Path) -> ChatModel:
    """The one factory: pick the backend named by `config.kind`."""
    match config.kind:
        case "llama_cpp":
            return LlamaCppChatModel(config, models_dir)
        case "transformers":
            return TransformersChatModel(config, models_dir)
        case "openai":
            return OpenAIChatModel(config)
        case "fake":
            return FakeChatModel()
        case other:
            raise ConfigError(f"unknown generator kind {other!r}: use llama_cpp, transformers, openai or fake")
