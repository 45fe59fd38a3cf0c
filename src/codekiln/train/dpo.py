"""Preference training through TRL's DPOTrainer: dpo, dpo+nll (CodeLutra) and TRL's other losses by name.

The reference model is the round's starting model: with PEFT the policy with its adapter disabled
(`ref_model=None`), so no second copy is held. Reference log-probs are computed once per (model,
data) and kept on disk, so a resumed or repeated run reads them instead of recomputing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig
from codekiln.errors import ConfigError
from codekiln.train.args import common_args
from codekiln.train.shared_prompt import pair_batches, share_prompt_passes

# TRL 1.16's preference losses (DPOTrainer._compute_loss); "dpo" and "dpo+nll" are codekiln's names.
TRL_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm")
PREFERENCE_METHODS = ("dpo", "dpo+nll", *TRL_LOSSES)


def loss_setup(cfg: TrainConfig) -> tuple[list[str], list[float]]:
    """(loss_type, loss_weights) for DPOConfig; dpo+nll = sigmoid DPO loss + nll_alpha * NLL on chosen.

    With log pi(y|x) summed over the answer's tokens, per micro-batch of pairs:
    dpo = mean over pairs of -log sigmoid(beta * ((log pi(yw) - log ref(yw)) - (log pi(yl) - log ref(yl)))),
    nll = TRL's "sft" term: -(sum of log p over every chosen-answer token of the micro-batch) / (their count),
    i.e. averaged per token over the batch (a longer chosen answer weighs more), not per sequence as in RPO
    (arXiv 2404.19733, which divides each answer's NLL by its own length). Same on both reference paths
    (precomputed or live); tests/test_train.py checks it against this definition.
    """
    if cfg.method == "dpo":
        return ["sigmoid"], [1.0]
    if cfg.method == "dpo+nll":
        return ["sigmoid", "sft"], [1.0, cfg.nll_alpha]
    if cfg.method in TRL_LOSSES:
        return [cfg.method], [1.0]
    raise ConfigError(f"unknown train.method {cfg.method!r}; choose from {['sft', *PREFERENCE_METHODS, 'grpo', 'rloo']}")


def _trainer_class() -> type:
    import torch
    from trl import DPOTrainer

    class CachedRefDPOTrainer(DPOTrainer):
        """DPOTrainer whose precomputed reference log-probs are read from / written to `ref_cache` (a .pt file)."""

        ref_cache: Path | None = None

        def _compute_loss(self, model: Any, inputs: Any, return_outputs: bool) -> Any:
            with pair_batches():  # the batch is [chosen..., rejected...] (train/shared_prompt.py)
                return super()._compute_loss(model, inputs, return_outputs)

        def compute_ref_log_probs(self, model: Any, inputs: Any) -> Any:
            with pair_batches():
                return super().compute_ref_log_probs(model, inputs)

        def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
            cache = self.ref_cache if name == "train" else None
            if cache is not None and cache.exists():
                saved = torch.load(cache)
                if len(saved["ref_chosen_logps"]) == len(dataset):
                    dataset = dataset.add_column("ref_chosen_logps", saved["ref_chosen_logps"].tolist())
                    return dataset.add_column("ref_rejected_logps", saved["ref_rejected_logps"].tolist())
            out = super()._precompute_ref_logps(dataset, name, batch_size)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
                torch.save({key: torch.tensor(out[key]) for key in ("ref_chosen_logps", "ref_rejected_logps")}, tmp)
                os.replace(tmp, cache)
            return out

    return CachedRefDPOTrainer


def build_dpo_trainer(model: Any, tokenizer: Any, dataset: Any, cfg: TrainConfig, checkpoints: Path,
                      peft_config: Any = None, callbacks: list[Any] | None = None,
                      ref_cache: Path | None = None) -> Any:
    from trl import DPOConfig

    loss_type, loss_weights = loss_setup(cfg)
    args = DPOConfig(**common_args(cfg, checkpoints), loss_type=loss_type, loss_weights=loss_weights,
                     beta=cfg.beta, precompute_ref_log_probs=cfg.precompute_ref,
                     precompute_ref_batch_size=cfg.batch_size * 2)
    cls = _trainer_class()
    cls.ref_cache = ref_cache if cfg.precompute_ref else None
    if cfg.share_prompt and not cfg.gradient_checkpointing:
        share_prompt_passes(model)  # before the constructor, which may precompute the reference log-probs
    return cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
               peft_config=peft_config, callbacks=callbacks)
