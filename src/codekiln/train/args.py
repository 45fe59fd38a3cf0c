"""TrainConfig → the TRL config arguments shared by SFT and DPO, with CPU-friendly settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower than fp32."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set(text.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def use_bf16(cfg: TrainConfig) -> bool:
    """bf16 mixed precision for `cfg.precision` (auto: on a GPU, or a CPU with native bf16; ~2.5x fp32 there)."""
    import torch

    if cfg.precision != "auto":
        return cfg.precision == "bf16"
    return torch.cuda.is_available() or cpu_has_native_bf16()


def common_args(cfg: TrainConfig, checkpoints: Path) -> dict[str, Any]:
    """Arguments for `SFTConfig`/`DPOConfig`: bf16 autocast where it is fast (see use_bf16), no gradient
    checkpointing, no tqdm (rich bar instead)."""
    import torch

    cpu = not torch.cuda.is_available()
    return dict(
        output_dir=str(checkpoints),
        use_cpu=cpu,
        bf16=use_bf16(cfg),
        fp16=False,
        activation_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing=None,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        max_length=cfg.max_length,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=[t for t in cfg.report_to if t != "tensorboard"] or "none",  # tensorboard: run.tracker_callbacks
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
