"""The transformers backend: batched generation with per-request seeds.

transformers samples a whole batch from one global RNG, so a sample would depend on its batch-mates.
Instead `SeededSampling` draws each row's token with that row's own `torch.Generator` (temperature and
top-p applied there) and hands generate() a one-hot choice that greedy decoding keeps. Padded batches can
still differ from single-stream runs in the last floating-point bits; seeds and sampling do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.sample.base import Generation, GenParams, Messages, Request
from codekiln.sample.models import ModelRef


def _seeded_sampling_class():  # built lazily so importing this module does not import torch
    import torch
    from transformers import LogitsProcessor

    class SeededSampling(LogitsProcessor):
        """Sample each row with its own generator; return logits that are 0 at the chosen token, -inf elsewhere."""

        def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, top_k: int = 0) -> None:
            self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
            self.temperature = temperature
            self.top_p = top_p
            self.top_k = top_k

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            if self.temperature <= 0:
                return scores
            scores = scores.float()
            if 0 < self.top_k < scores.shape[-1]:
                kth = scores.topk(self.top_k, dim=-1).values[:, -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            probs = torch.softmax(scores / self.temperature, dim=-1)
            if self.top_p < 1.0:
                sorted_probs, sorted_idx = probs.sort(dim=-1, descending=True)
                outside = sorted_probs.cumsum(-1) - sorted_probs > self.top_p
                sorted_probs = sorted_probs.masked_fill(outside, 0.0)
                probs = torch.zeros_like(probs).scatter(-1, sorted_idx, sorted_probs)
            chosen = torch.stack([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)])
            out = torch.full_like(scores, float("-inf"))
            return out.scatter(-1, chosen, 0.0)

    return SeededSampling


class HFSampler:
    supports_prefill = True

    def __init__(self, ref: ModelRef, cfg: SampleConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = ref.hf
        if folder is None and ref.gguf is not None:
            from codekiln.train.load import convert_gguf

            folder = convert_gguf(ref.gguf)  # dequantized once into the cache (~1 min), then reused
        if folder is None:
            raise UserError(f"backend transformers needs a Hugging Face model folder; {ref.spec!r} has none")
        torch.set_num_threads(max(1, cfg.threads))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        except (OSError, ValueError) as err:
            raise UserError(f"transformers could not load {folder}: {err}") from None
        if ref.adapter_hf is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(ref.adapter_hf))
            if not model.active_peft_config.is_prompt_learning:
                model = model.merge_and_unload()  # LoRA/IA3 fold into the weights; prompt tuning generates through peft
        if not self.tokenizer.chat_template:
            raise UserError(f"{folder} has no chat template in its tokenizer; codekiln samples chat models")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = model.eval()
        self.batch_size = max(1, cfg.batch_size)
        self.name = ref.name

    def render(self, messages: Messages, prefill: str = "") -> str:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out: list[Generation] = []
        for start in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[start:start + self.batch_size], params))
        return out

    def _batch(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        prompts = [self.render(r.messages, r.prefill) for r in requests]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        stops = sorted({s for r in requests for s in r.stop})
        eos = self.tokenizer.eos_token_id
        config = GenerationConfig(max_new_tokens=params.max_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=self.tokenizer.pad_token_id, eos_token_id=eos,
                                  stop_strings=stops or None)
        processors = LogitsProcessorList(
            [_seeded_sampling_class()([r.seed for r in requests], params.temperature, params.top_p, params.top_k)])
        with torch.inference_mode():
            ids = self.model.generate(**enc, generation_config=config, logits_processor=processors,
                                      tokenizer=self.tokenizer if stops else None)
        new = ids[:, enc["input_ids"].shape[1]:]
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        results = []
        for request, row in zip(requests, new.tolist(), strict=True):
            ended = next((i for i, t in enumerate(row) if t in eos_ids), None)
            tokens = row if ended is None else row[:ended]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            cut = min((text.find(s) for s in request.stop if s in text), default=-1)
            finish = "stop" if ended is not None or cut >= 0 else "length"
            if cut >= 0:
                text = text[:cut]
            results.append(Generation(text=request.prefill + text, n_tokens=len(tokens) if ended is None
                                      else ended + 1, finish=finish))
        return results

    def choice_probs(self, request: Request, options: Sequence[str]) -> list[float]:
        """The probability of each option as the reply's continuation after the prompt and prefill (one forward pass
        over prompt + option per option; a multi-token option is the product along its tokens)."""
        import torch

        prompt = self.tokenizer(self.render(request.messages, request.prefill), add_special_tokens=False)["input_ids"]
        out = []
        with torch.inference_mode():
            for option in options:
                tokens = self.tokenizer(option, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([prompt + tokens])
                logprobs = torch.log_softmax(self.model(ids).logits[0].float(), dim=-1)
                total = sum(float(logprobs[len(prompt) - 1 + k, token]) for k, token in enumerate(tokens))
                out.append(float(torch.tensor(total).exp()))
        return out

    def close(self) -> None:
        del self.model
