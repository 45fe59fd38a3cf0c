"""The exported GGUF files (whole model, LoRA adapter, merged model) give llama.cpp the PyTorch model's greedy output."""

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


def test_lora_adapter_and_merged_gguf_match_the_trained_model(tiny, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.run import train_model

    sft, _ = write_data(tmp_path / "data")
    cfg = TrainConfig(method="sft", max_steps=4, batch_size=4, lora_r=4, lora_alpha=8, lora_dropout=0.0,
                      learning_rate=3e-2, gguf_dtype="f32", merge=True)
    out = train_model(str(tiny), tmp_path / "out", cfg, sft=sft, quiet=True)
    info = json.loads((out / "codekiln-model.json").read_text())

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    base = AutoModelForCausalLM.from_pretrained(str(tiny)).eval()
    ids_list = [prompt_ids(tokenizer, i) for i in PROMPTS]
    with torch.no_grad():
        base_logits = base(torch.tensor([ids_list[0]])).logits
    trained = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    with torch.no_grad():
        trained_logits = trained(torch.tensor([ids_list[0]])).logits
    assert (trained_logits - base_logits).abs().max() > 0.05  # the adapter really changes the model
    expected = [torch_greedy(trained, ids) for ids in ids_list]

    assert llama_greedy(Path(info["base_gguf"]), ids_list, lora=out / info["lora_gguf"]) == expected
    assert llama_greedy(out / info["merged_gguf"], ids_list) == expected
    merged = AutoModelForCausalLM.from_pretrained(str(out / "merged")).eval()
    assert [torch_greedy(merged, ids) for ids in ids_list] == expected

    # The next round starts from this folder: base = base + adapter merged, exported for llama.cpp too.
    round2 = train_model(str(out), tmp_path / "round2", cfg.model_copy(update={"max_steps": 1, "merge": False}),
                         sft=sft, quiet=True)
    info2 = json.loads((round2 / "codekiln-model.json").read_text())
    assert info2["parent"] == str(out)
    assert llama_greedy(Path(info2["base_gguf"]), ids_list[:1]) == expected[:1]
