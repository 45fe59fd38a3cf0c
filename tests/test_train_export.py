"""The exported GGUF files (whole model, LoRA adapter, merged model) give llama.cpp the PyTorch model's output:
the same greedy tokens in f32, the same logits within a tolerance in the default dtype (train.gguf_dtype)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.config import TrainConfig
from train_fixtures import python_task, write_data

torch = pytest.importorskip("torch")
llama_cpp = pytest.importorskip("llama_cpp")

PROMPTS = [0, 3, 5]  # task indices whose chat prompts are decoded greedily
NEW_TOKENS = 10
DEFAULT_DTYPE = TrainConfig().gguf_dtype
GGML_TYPE = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0"}  # what every matrix of a file of that dtype is stored as


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codekiln.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def prompt_ids(tokenizer, index: int) -> list[int]:
    from codekiln.sample.prompts import build_messages

    text = tokenizer.apply_chat_template(build_messages(python_task(index)), add_generation_prompt=True,
                                         tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def torch_greedy(model, ids: list[int]) -> list[int]:
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False,
                             attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    return out[0, len(ids):].tolist()


def llama_greedy(model_path: Path, ids_list: list[list[int]], lora: Path | None = None) -> list[list[int]]:
    # f32 KV cache (type 0): llama.cpp's default f16 cache rounds enough to flip near-ties of a random model
    llm = llama_cpp.Llama(model_path=str(model_path), lora_path=str(lora) if lora else None, n_ctx=512,
                          n_threads=1, verbose=False, seed=0, type_k=0, type_v=0)
    try:
        outs = []
        for ids in ids_list:
            llm.reset()
            got: list[int] = []
            for token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
                got.append(token)
                if len(got) == NEW_TOKENS:
                    break
            outs.append(got)
        return outs
    finally:
        llm.close()


def llama_logits(model_path: Path, ids: list[int], lora: Path | None = None):
    """llama.cpp's logits at every position of `ids` (positions x vocabulary)."""
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(model_path), lora_path=str(lora) if lora else None, n_ctx=512,
                          n_threads=1, verbose=False, logits_all=True, type_k=0, type_v=0)
    try:
        llm.eval(ids)
        return np.array(llm.scores[:len(ids)])
    finally:
        llm.close()


def torch_logits(model, ids: list[int]):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def logit_error(got, want) -> float:
    """Mean absolute difference of two logit arrays, in units of the standard deviation of `want`."""
    return float(abs(got - want).mean() / want.std())


# q8_0 (weights and, in llama.cpp's matmuls, activations at 8 bits) is off by ~0.04 here, f16 by ~0.002,
# f32 by ~1e-6; an export with q/k rows unpermuted is off by ~0.96, a wrong rope base by ~0.75, a wrong
# RMSNorm epsilon (1e-2) by ~0.23.
TOLERANCE = 0.1


def matrix_types(gguf_path: Path) -> set[str]:
    """The storage types of the 2-D tensors (the weight matrices) of a GGUF file."""
    import gguf

    return {t.tensor_type.name for t in gguf.GGUFReader(str(gguf_path)).tensors if len(t.shape) == 2}


def test_write_gguf_gives_the_same_tokens_and_greedy_output(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.export import write_gguf

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    model = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
    gguf = write_gguf(tiny, tmp_path / "tiny.gguf", "f32")
    ids_list = [prompt_ids(tokenizer, i) for i in PROMPTS]
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=512, n_threads=1, verbose=False)
    try:
        text = tokenizer.decode(ids_list[0])
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids_list[0]
    finally:
        llm.close()
    assert llama_greedy(gguf, ids_list) == [torch_greedy(model, ids) for ids in ids_list]


def test_write_gguf_in_the_default_dtype_gives_the_same_logits_within_tolerance(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.export import write_gguf

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    model = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
    gguf = write_gguf(tiny, tmp_path / "tiny.gguf", DEFAULT_DTYPE)
    assert matrix_types(gguf) == {GGML_TYPE[DEFAULT_DTYPE]}
    for index in PROMPTS:
        ids = prompt_ids(tokenizer, index)
        assert logit_error(llama_logits(gguf, ids), torch_logits(model, ids)) < TOLERANCE


def test_lora_adapter_and_merged_gguf_match_the_trained_model(tiny, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.run import train_model

    sft, _ = write_data(tmp_path / "data")
    cfg = TrainConfig(method="sft", max_steps=4, batch_size=4, grad_accum=1, lora_r=4, lora_alpha=8, lora_dropout=0.0,
                      learning_rate=3e-2, gguf_dtype="f32", merge=True)
    out = train_model(str(tiny), tmp_path / "out", cfg, sft=sft, quiet=True)
    info = json.loads((out / "codekiln-model.json").read_text())

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    base = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
    ids_list = [prompt_ids(tokenizer, i) for i in PROMPTS]
    base_expected = [torch_greedy(base, ids) for ids in ids_list]
    trained = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    expected = [torch_greedy(trained, ids) for ids in ids_list]
    # the adapter changes every greedy continuation, so llama.cpp ignoring it could not pass
    assert all(t != b for t, b in zip(expected, base_expected, strict=True))

    assert llama_greedy(Path(info["base_gguf"]), ids_list, lora=out / info["lora_gguf"]) == expected
    assert llama_greedy(Path(info["base_gguf"]), ids_list) == base_expected
    assert llama_greedy(out / info["merged_gguf"], ids_list) == expected
    merged = AutoModelForCausalLM.from_pretrained(str(out / "merged")).eval()
    assert [torch_greedy(merged, ids) for ids in ids_list] == expected

    # The next round starts from this folder: base = base + adapter merged, exported for llama.cpp too.
    round2 = train_model(str(out), tmp_path / "round2", cfg.model_copy(update={"max_steps": 1, "merge": False}),
                         sft=sft, quiet=True)
    info2 = json.loads((round2 / "codekiln-model.json").read_text())
    assert info2["parent"] == str(out)
    assert llama_greedy(Path(info2["base_gguf"]), ids_list[:1]) == expected[:1]


def test_default_dtype_base_gguf_with_the_lora_adapter_gives_the_trained_logits(tiny, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.run import train_model

    sft, _ = write_data(tmp_path / "data")
    cfg = TrainConfig(method="sft", max_steps=4, batch_size=4, grad_accum=1, lora_r=4, lora_alpha=8, lora_dropout=0.0,
                      learning_rate=3e-2)  # train.gguf_dtype left at its default
    out = train_model(str(tiny), tmp_path / "out", cfg, sft=sft, quiet=True)
    info = json.loads((out / "codekiln-model.json").read_text())
    base_gguf, adapter = Path(info["base_gguf"]), out / info["lora_gguf"]
    assert matrix_types(base_gguf) == {GGML_TYPE[DEFAULT_DTYPE]}

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    base = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
    ids = prompt_ids(tokenizer, PROMPTS[0])
    base_logits = torch_logits(base, ids)
    trained_logits = torch_logits(PeftModel.from_pretrained(base, str(out / "adapter")).eval(), ids)
    assert logit_error(trained_logits, base_logits) > 3 * TOLERANCE  # the adapter moves the logits well past it
    assert logit_error(llama_logits(base_gguf, ids, lora=adapter), trained_logits) < TOLERANCE
    assert logit_error(llama_logits(base_gguf, ids), base_logits) < TOLERANCE
