"""The `Sampler` protocol every backend implements, and the registry that picks a backend by name.

A backend turns requests (chat messages + a seed) into generations. It never sees tasks or records:
`run.py` builds the prompts, derives the seeds and extracts the code, so every backend behaves alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.sample.models import ModelRef

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Request:
    """One generation: the conversation, the start of the assistant reply (`prefill`), stop strings, a seed."""

    messages: Messages
    seed: int
    prefill: str = ""
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenParams:
    temperature: float
    top_p: float
    max_tokens: int
    top_k: int = 0  # 0: no limit


@dataclass(frozen=True)
class Generation:
    """The assistant reply (the prefill included, the stop string excluded) and the tokens generated for it."""

    text: str
    n_tokens: int
    finish: str = "stop"  # "stop" (end of turn or stop string) | "length" (hit max_tokens)


class Sampler(Protocol):
    """A loaded model that answers requests. Results depend only on each request, never on the batch it is in."""

    name: str
    """Recorded in Sample.model (the model, and how it was loaded, e.g. re-quantized)."""

    supports_prefill: bool
    """Whether `Request.prefill` is honoured (the OpenAI chat API cannot continue an assistant turn)."""

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        """One generation per request, in request order."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...

    # A backend may also offer `stream(requests, params) -> Iterator[tuple[int, Generation]]`: every request's
    # generation as it finishes (request index first), all requests in flight at once (llama.cpp does);
    # `run.generate_pairs` uses it when present.


# backend name -> "module:class"; each class is built as Class(ref: ModelRef, cfg: SampleConfig)
BACKENDS: dict[str, str] = {
    "llama.cpp": "codekiln.sample.llamacpp:LlamaCppSampler",
    "transformers": "codekiln.sample.hf:HFSampler",
    "openai": "codekiln.sample.openai:OpenAISampler",
    "vllm": "codekiln.sample.vllm:VLLMSampler",
}

DEFAULT_BACKEND = {"gguf": "llama.cpp", "hf": "transformers", "openai": "openai"}


def backend_for(ref: ModelRef, backend: str) -> str:
    """The backend name to use for a model: `auto` follows the model kind; a mismatch is a clear error."""
    if backend == "auto":
        return DEFAULT_BACKEND[ref.kind]
    if backend not in BACKENDS:
        raise UserError(f"unknown sampling backend {backend!r}; choose from {['auto', *sorted(BACKENDS)]}")
    if ref.kind == "openai" and backend != "openai":
        raise UserError(f"--model {ref.spec!r} is an OpenAI-compatible server; use backend openai (or auto)")
    if backend == "openai" and ref.kind != "openai":
        raise UserError(f"backend openai needs --model openai:MODEL@URL, got {ref.spec!r}")
    if backend == "llama.cpp" and ref.gguf is None:
        raise UserError(f"backend llama.cpp needs a GGUF model; {ref.spec!r} has none (try backend transformers)")
    return backend


def load_sampler(ref: ModelRef, cfg: SampleConfig) -> Sampler:
    """Build the backend chosen by `cfg.backend` for `ref` (an unset context size gets the default budget's)."""
    from codekiln.sample.budget import with_budget

    cfg = with_budget(cfg, ())
    name = backend_for(ref, cfg.backend)
    module_name, _, class_name = BACKENDS[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(ref, cfg)
