"""TrainConfig → the TRL config arguments shared by SFT and DPO, with CPU-friendly settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig


def common_args(cfg: TrainConfig, checkpoints: Path) -> dict[str, Any]:
    """Arguments for `SFTConfig`/`DPOConfig`; on CPU: float32, no gradient checkpointing, no tqdm (rich bar instead)."""
    import torch

    cpu = not torch.cuda.is_available()
    return dict(
        output_dir=str(checkpoints),
        use_cpu=cpu,
        bf16=not cpu,
        fp16=False,
        activation_checkpointing=False,
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
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
