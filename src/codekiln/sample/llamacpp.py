"""The llama.cpp backend (llama-cpp-python): GGUF models on CPU, the default.

Generation runs `sample.batch_size` sequences per decode call (`llamacpp_batch.BatchDecoder`): a task's prompt is
evaluated once and copied to its n sequences, and a finished sequence's place takes the next request at once.
Each request has its own sampler seed, and a sequence's logits do not depend on what else is in the batch, so a
result depends only on its request.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.sample.base import Generation, GenParams, Messages, Request
from codekiln.sample.llamacpp_batch import BatchDecoder
from codekiln.sample.models import ModelRef
from codekiln.sample.quantize import fast_gguf

# ggml's log levels since 2024 (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last line).
# llama-cpp-python 0.3.36 still maps them by the older order, so with verbose=False every WARN line is printed as an
# error (qwen2.5-coder's LoRA adapter gave 12 lines per model load). codekiln prints errors only.
GGML_LOG_ERROR, GGML_LOG_CONT = 4, 5
_log_state = {"last": 0}
_log_callback: Any = None  # the ctypes callback, kept alive for as long as llama.cpp may call it


def llama_log(level: int, text: bytes, _user_data: Any = None) -> None:
    """llama.cpp's log lines: errors (and their continuations) to stderr, everything else dropped."""
    shown = level == GGML_LOG_ERROR or (level == GGML_LOG_CONT and _log_state["last"] == GGML_LOG_ERROR)
    if level != GGML_LOG_CONT:
        _log_state["last"] = level
    if shown:
        print(text.decode("utf-8", errors="replace"), end="", flush=True, file=sys.stderr)


def quiet_llama_logs() -> None:
    """Route llama.cpp's log through `llama_log` (once per process, before a model loads)."""
    global _log_callback
    if _log_callback is None:
        import llama_cpp
        import llama_cpp._logger  # noqa: F401 - installs its own callback on import; ours must come after it

        _log_callback = llama_cpp.llama_log_callback(llama_log)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


class LlamaCppSampler:
    supports_prefill = True

    def __init__(self, ref: ModelRef, cfg: SampleConfig) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        assert ref.gguf is not None
        path = fast_gguf(ref.gguf, cfg.threads)
        self.name = ref.name if path == ref.gguf else f"{ref.name} (as Q8_0: {path.name})"
        kwargs = {}
        if ref.lora_gguf is not None:
            kwargs = {"lora_path": str(ref.lora_gguf), "lora_scale": 1.0}
        quiet_llama_logs()
        try:
            self.llm = Llama(model_path=str(path), n_ctx=cfg.context_size, n_threads=cfg.threads,
                             n_threads_batch=cfg.threads, n_batch=512, verbose=False, **kwargs)
        except (ValueError, RuntimeError) as err:
            raise UserError(f"llama.cpp could not load {path}: {err}") from None
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise UserError(f"{ref.gguf} has no chat template (tokenizer.chat_template); codekiln samples chat models")
        self._parallel, self._threads = max(1, cfg.batch_size), cfg.threads
        self._decoder: BatchDecoder | None = None  # made on the first generation (a judge may never need it)
        bos, eos = self.llm.token_bos(), self.llm.token_eos()
        self._bos_text = self._token_text(bos)
        self._formatter = Jinja2ChatFormatter(template, eos_token=self._token_text(eos), bos_token=self._bos_text)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(self, messages: Messages, prefill: str = "") -> str:
        """The prompt text: the model's chat template with the generation prompt, then the reply's prefill."""
        return self._formatter(messages=messages).prompt + prefill

    def tokens(self, prompt: str) -> list[int]:
        add_bos = not (self._bos_text and prompt.startswith(self._bos_text))
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out: list[Generation | None] = [None] * len(requests)
        for i, generation in self.stream(requests, params):
            out[i] = generation
        return [g for g in out if g is not None]

    def stream(self, requests: Sequence[Request], params: GenParams) -> Iterator[tuple[int, Generation]]:
        """(request index, generation) for each request as it finishes, `sample.batch_size` decoded together."""
        texts = [self.render(r.messages, r.prefill) for r in requests]
        tokens = {text: self.tokens(text) for text in dict.fromkeys(texts)}  # each distinct prompt once
        longest = max((len(t) for t in tokens.values()), default=0) + params.max_tokens
        return self._decoder_for(longest).generate([tokens[t] for t in texts], requests, self.llm.n_ctx(), params)

    def _decoder_for(self, tokens: int) -> BatchDecoder:
        """The batch context, with room for `tokens` per sequence (up to `sample.context_size`): each of its
        `batch_size` + 1 KV streams is allocated whole, so it is sized to what the requests need (grown when a
        later call needs more), not to the context size (2048 tokens x 17 streams would be ~800 MB for smollm2)."""
        room = min(self.llm.n_ctx(), -(-tokens // 256) * 256)
        if self._decoder is None or self._decoder.context < room:
            if self._decoder is not None:
                self._decoder.close()
            self._decoder = BatchDecoder(self.llm._model.model, self.llm._model.vocab, self._parallel, room,
                                         self._threads, lora_adapter=self.llm._lora_adapter,
                                         lora_scale=self.llm.lora_scale)
        return self._decoder

    def choice_probs(self, request: Request, options: Sequence[str]) -> list[float]:
        """The probability of each option as the reply's continuation right after the prompt and prefill.

        Read from the model's next-token distributions (a multi-token option is the product along its tokens), not
        sampled: the judge uses it to turn a rating into its expectation over the scale. Options sharing a prefix
        share its evaluation. The prompt's KV state is reused from the call before when it shares it (the judge asks
        right after writing its answer: 0.1 s instead of ~6 s for a 650-token prompt); llama.cpp computes a token's
        state slightly differently in batches of different sizes, so a probability can move by ~0.006 with what ran
        before. The judge cache keeps every value once computed, so a run and its rerun agree.
        """
        import math

        import numpy as np

        prompt = self.tokens(self.render(request.messages, request.prefill))
        if len(prompt) + max(len(o) for o in options) >= self.llm.n_ctx():
            return [0.0] * len(options)
        n_vocab = self.llm.n_vocab()

        def logprobs_after(prefix: tuple[int, ...]) -> Any:
            self.llm.n_tokens = len(prompt)  # eval() drops the KV state past this point first
            self.llm.eval(list(prefix))
            logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(n_vocab,)).astype(np.float64)
            return logits - logits.max() - math.log(np.exp(logits - logits.max()).sum())

        # The judge asks right after writing its answer to the same prompt: reuse that KV state up to the prompt's
        # last token (evaluated again for its logits), as llama.cpp's own prefix cache does for completions.
        # The last token is always evaluated on its own, so the probabilities do not depend on whether the prompt
        # was evaluated just before (a token in a batch of many and alone take different kernels: ~1% apart).
        reuse = min(self.llm.longest_token_prefix(self.llm._input_ids.tolist(), prompt), len(prompt) - 1)
        self.llm.n_tokens = reuse
        self.llm.eval(prompt[reuse:-1])
        self.llm.eval(prompt[-1:])
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(n_vocab,)).astype(np.float64)
        cache: dict[tuple[int, ...], Any] = {(): logits - logits.max() - math.log(np.exp(logits - logits.max()).sum())}
        out = []
        for option in options:
            tokens = self.llm.tokenize(option.encode("utf-8"), add_bos=False, special=False)
            total = 0.0
            for k, token in enumerate(tokens):
                prefix = tuple(tokens[:k])
                if prefix not in cache:
                    cache[prefix] = logprobs_after(prefix)
                total += float(cache[prefix][token])
            out.append(math.exp(total))
        return out  # the KV state and input_ids agree, so the next completion reuses what it shares

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
        self.llm.close()
