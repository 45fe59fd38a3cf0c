"""The vLLM backend (in-process, GPU), behind the `[gpu]` extra: `pip install 'codekiln[gpu]'`.

Each request carries its own seed through `SamplingParams(seed=...)`, so results do not depend on batching.
"""

from __future__ import annotations

from collections.abc import Sequence

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.sample.base import Generation, GenParams, Request
from codekiln.sample.models import ModelRef


class VLLMSampler:
    supports_prefill = True

    def __init__(self, ref: ModelRef, cfg: SampleConfig) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise UserError("backend vllm needs the [gpu] extra: pip install 'codekiln[gpu]' (and a CUDA GPU)") from None
        path = ref.hf if ref.hf is not None else ref.gguf
        if path is None:
            raise UserError(f"backend vllm needs a Hugging Face folder or GGUF file; {ref.spec!r} has neither")
        kwargs = {}
        if ref.adapter_hf is not None:
            kwargs["enable_lora"] = True
        self.llm = LLM(model=str(path), seed=cfg.seed, max_model_len=cfg.context_size, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = ref.adapter_hf
        self.name = ref.name

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        from vllm import SamplingParams

        prompts = [self.tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
                   + r.prefill for r in requests]
        sampling = [SamplingParams(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or -1,
                                   max_tokens=params.max_tokens,
                                   seed=r.seed, stop=list(r.stop) or None) for r in requests]
        lora = None
        if self.adapter is not None:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("codekiln", 1, str(self.adapter))
        outputs = self.llm.generate(prompts, sampling, lora_request=lora, use_tqdm=False)
        return [Generation(text=r.prefill + o.outputs[0].text, n_tokens=len(o.outputs[0].token_ids),
                           finish="length" if o.outputs[0].finish_reason == "length" else "stop")
                for r, o in zip(requests, outputs, strict=True)]

    def close(self) -> None:
        del self.llm
