"""Online RL through TRL's GRPOTrainer and RLOOTrainer, rewarded by codekiln's sandboxed verifiers.

The training rows are tasks, not answers: each row is a task's prompt (the chat template applied to the
sampler's messages, followed by the sampler's reply prefix, the opening code fence, so training generates in
the same shape that sampling and evaluation do) with its `task_id` and `prefill` as columns. The trainer
generates `num_generations` answers per prompt (transformers on a CPU; vLLM colocated on a GPU with
`train.use_vllm`), the reward function (`codekiln.rewards`) checks them in the sandbox, and the group-relative
advantages train the LoRA adapter. The KL term against the start model is off by default (`kl_beta` 0, TRL's
GRPO default), so no reference model is held.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig, VerifyConfig
from codekiln.errors import ConfigError
from codekiln.records import Task
from codekiln.train.args import common_args

ONLINE_METHODS = ("grpo", "rloo")


def task_rows(tasks: list[Task], tokenizer: Any) -> list[dict[str, Any]]:
    """One row per task: the prompt text as the sampler would send it, its prefill and its task_id."""
    from codekiln.sample.prompts import build_messages, reply_prefix

    rows = []
    for task in tasks:
        prefill = reply_prefix(task)
        text = tokenizer.apply_chat_template(build_messages(task), add_generation_prompt=True, tokenize=False)
        rows.append({"prompt": text + prefill, "prefill": prefill, "task_id": task.task_id})
    return rows


def completion_tokens(cfg: TrainConfig, tasks: list[Task]) -> int:
    """Longest generated answer: `train.completion_tokens`, else the sampling budget of the tasks' kinds."""
    if cfg.completion_tokens is not None:
        return cfg.completion_tokens
    from codekiln.sample.budget import kind_max_tokens

    return kind_max_tokens({t.kind for t in tasks})


def check_online(cfg: TrainConfig) -> None:
    """Refuse settings TRL would reject only after the model is loaded."""
    if cfg.num_generations < 2:
        raise ConfigError("train.num_generations must be at least 2: GRPO and RLOO compare answers within a group")
    if cfg.use_vllm:
        import importlib.util

        import torch

        if not torch.cuda.is_available() or importlib.util.find_spec("vllm") is None:
            raise ConfigError("train.use_vllm=true needs a CUDA GPU and the vllm package (pip install vllm); set "
                              "train.use_vllm=false to generate with transformers")
    if (cfg.batch_size * cfg.grad_accum) % cfg.num_generations:
        raise ConfigError(f"train.batch_size x train.grad_accum ({cfg.batch_size} x {cfg.grad_accum}) must be a "
                          f"multiple of train.num_generations ({cfg.num_generations}): each batch holds whole groups")


def _config(method: str, cfg: TrainConfig, checkpoints: Path, max_tokens: int) -> Any:
    from trl import GRPOConfig, RLOOConfig

    cls = GRPOConfig if method == "grpo" else RLOOConfig
    names = {f.name for f in dataclasses.fields(cls)}
    shared = {k: v for k, v in common_args(cfg, checkpoints).items() if k in names}
    shared["per_device_train_batch_size"] = cfg.batch_size
    shared["gradient_accumulation_steps"] = 1
    shared["steps_per_generation"] = cfg.grad_accum  # one generation round feeds grad_accum micro-batches
    options = dict(num_generations=cfg.num_generations, max_completion_length=max_tokens,
                   temperature=cfg.generation_temperature, beta=cfg.kl_beta, use_vllm=cfg.use_vllm,
                   log_completions=False, remove_unused_columns=False)
    if cfg.use_vllm:
        options["vllm_mode"] = "colocate"
    return cls(**shared, **{k: v for k, v in options.items() if k in names})


def build_online_trainer(method: str, model: Any, tokenizer: Any, dataset: Any, cfg: TrainConfig, checkpoints: Path,
                         peft_config: Any, callbacks: list[Any], tasks: list[Task],
                         verify: VerifyConfig | None = None) -> Any:
    """A GRPOTrainer or RLOOTrainer over `dataset` (rows of `task_rows`) with codekiln's reward."""
    from trl import GRPOTrainer, RLOOTrainer

    from codekiln.rewards.function import reward_function

    check_online(cfg)
    reward = reward_function(tasks, partial_credit=cfg.partial_credit, verify=verify)
    args = _config(method, cfg, checkpoints, completion_tokens(cfg, tasks))
    cls = GRPOTrainer if method == "grpo" else RLOOTrainer
    trainer = cls(model=model, reward_funcs=[reward], args=args, train_dataset=dataset, processing_class=tokenizer,
                  peft_config=peft_config, callbacks=callbacks)
    trainer.codekiln_reward = reward  # closed by the caller after training (its sandboxes stay warm until then)
    return trainer
