"""The parameter-efficient method, by name: a PEFT config for the trainer (None = full fine-tuning)."""

from __future__ import annotations

from typing import Any

from codekiln.config import TrainConfig
from codekiln.errors import ConfigError, UserError


def _targets(cfg: TrainConfig) -> str | list[str]:
    if cfg.target_modules.strip() == "all-linear":
        return "all-linear"
    names = [name.strip() for name in cfg.target_modules.split(",") if name.strip()]
    if not names:
        raise ConfigError("train.target_modules is empty; use all-linear or names such as q_proj,v_proj")
    return names


def _lora(cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=_targets(cfg), task_type="CAUSAL_LM")


def _ia3(cfg: TrainConfig) -> Any:
    from peft import IA3Config

    if cfg.target_modules.strip() == "all-linear":  # PEFT's per-architecture defaults (k, v and the down projection)
        return IA3Config(task_type="CAUSAL_LM")
    targets = _targets(cfg)
    feedforward = [name for name in targets if "mlp" in name or name in {"down_proj", "fc2", "w2"}]
    return IA3Config(target_modules=targets, feedforward_modules=feedforward, task_type="CAUSAL_LM")


def _prompt(cfg: TrainConfig) -> Any:
    from peft import PromptTuningConfig

    return PromptTuningConfig(num_virtual_tokens=cfg.prompt_tokens, task_type="CAUSAL_LM")


def _qlora(cfg: TrainConfig) -> Any:
    import torch

    if not torch.cuda.is_available():
        raise UserError("peft=qlora needs a CUDA GPU (4-bit weights through bitsandbytes); on CPU use --peft lora")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError("peft=qlora needs bitsandbytes: pip install 'codekiln[gpu]'") from None
    return _lora(cfg)


BUILDERS = {"lora": _lora, "ia3": _ia3, "prompt": _prompt, "qlora": _qlora, "full": lambda cfg: None}


def peft_config(cfg: TrainConfig) -> Any:
    """The PEFT config for `cfg.peft`, or None for full fine-tuning."""
    if cfg.peft not in BUILDERS:
        raise ConfigError(f"unknown train.peft {cfg.peft!r}; choose from {sorted(BUILDERS)}")
    return BUILDERS[cfg.peft](cfg)


def quantization_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Extra `from_pretrained` arguments: 4-bit NF4 weights for QLoRA, nothing otherwise."""
    if cfg.peft != "qlora":
        return {}
    import torch
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                      bnb_4bit_compute_dtype=torch.bfloat16)}


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
