"""Supervised fine-tuning through TRL's SFTTrainer, loss on the completion (the assistant reply) only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig
from codekiln.train.args import common_args


def build_sft_trainer(model: Any, tokenizer: Any, dataset: Any, cfg: TrainConfig, checkpoints: Path,
                      peft_config: Any = None, callbacks: list[Any] | None = None) -> Any:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**common_args(cfg, checkpoints), completion_only_loss=True)
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                      peft_config=peft_config, callbacks=callbacks)
