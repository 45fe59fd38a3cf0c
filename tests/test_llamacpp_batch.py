"""The llama.cpp backend decodes many sequences per call (`sample/llamacpp_batch.py`); a sample must not depend on
which requests share its batch, and each sequence samples with its own seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import SampleConfig
from codekiln.sample.base import GenParams, Request, load_sampler
from codekiln.sample.budget import with_budget
from codekiln.sample.generate import build_request
from codekiln.sample.models import resolve_model
from codekiln.tasks import load_tasks


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny")
    return write_gguf(build_tiny_model(folder / "hf"), folder / "tiny.gguf", "f32")


def _requests(prompts: list[str], seeds: range) -> list[Request]:
    return [Request([{"role": "user", "content": p}], seed) for p in prompts for seed in seeds]


def _generate(model: str, batch_size: int, requests: list[Request], params: GenParams, **cfg) -> list[tuple]:
    sampler = load_sampler(resolve_model(model), with_budget(SampleConfig(model=model, batch_size=batch_size,
                                                                          **cfg), ()))
    try:
        return [(g.text, g.n_tokens, g.finish) for g in sampler.generate(requests, params)]
    finally:
        sampler.close()


def test_a_sample_is_the_same_alone_and_in_batches_of_any_size(tiny_gguf):
    # Three prompts of different lengths, three seeds each, and limits that end the sequences at different steps:
    # streams are refilled and moved while others run.
    requests = _requests(["a", "write a function that adds two numbers", "sort a list " * 8], range(3))
    params = GenParams(temperature=0.9, top_p=0.95, max_tokens=20, top_k=40)
    alone = _generate(str(tiny_gguf), 1, requests, params)
    assert len({text for text, _, _ in alone}) == len(requests)  # every seed its own reply
    assert _generate(str(tiny_gguf), 4, requests, params) == alone
    assert _generate(str(tiny_gguf), 9, list(reversed(requests)), params) == list(reversed(alone))


def test_each_sequence_samples_with_its_own_seed(tiny_gguf):
    # One prompt, decoded together: the prompt's state is shared, the sampler chains are not.
    params = GenParams(temperature=0.9, top_p=0.95, max_tokens=16, top_k=0)
    requests = _requests(["hello"], range(6)) + _requests(["hello"], range(2))
    got = _generate(str(tiny_gguf), 8, requests, params)
    assert len({text for text, _, _ in got[:6]}) == 6
    assert got[6:] == got[:2]  # the same seed gives the same sample, wherever it runs in the batch


def test_limits_and_the_context_end_a_sequence(tiny_gguf):
    params = GenParams(temperature=0.9, top_p=0.95, max_tokens=12, top_k=40)
    long_prompt = "x " * 300  # ~600 tokens of the byte-level tokenizer, in a 512-token context
    got = _generate(str(tiny_gguf), 2, _requests(["a", long_prompt], range(2)), params, context_size=512)
    assert [(n, finish) for _, n, finish in got] == [(12, "length")] * 2 + [(0, "length")] * 2


@pytest.mark.slow
def test_the_shipped_model_samples_the_same_alone_and_batched():
    # The real quantized file (Q8_0 re-quantized from the shipped Q4_1) takes other kernels than the f32 tiny model.
    cfg = with_budget(SampleConfig(), ())
    tasks = load_tasks("python-basic", split="train")[:2]
    requests = [build_request(t, 100 + i, cfg, (), True) for t in tasks for i in range(4)]
    params = GenParams(temperature=0.8, top_p=0.95, max_tokens=48, top_k=40)
    alone = _generate(cfg.model, 1, requests, params)
    assert _generate(cfg.model, 8, requests, params) == alone
    assert len({text for text, _, _ in alone}) > 4
