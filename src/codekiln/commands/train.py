"""`codekiln train`: SFT, DPO(+NLL), or online GRPO/RLOO with LoRA/IA3/prompt tuning/full fine-tuning, then export
for llama.cpp."""

from __future__ import annotations

import argparse
from pathlib import Path

from codekiln.config import TrainConfig, add_field_option

HELP = ("Train a model on curated SFT rows and/or preference pairs, or online (GRPO/RLOO) on tasks with the sandboxed "
        "verifier as reward (TRL + PEFT), and export it for llama.cpp.")

FLAGS = [
    ("--method", "method"), ("--peft", "peft"), ("--max-steps", "max_steps"), ("--epochs", "epochs"),
    ("--lr", "learning_rate"), ("--batch-size", "batch_size"), ("--grad-accum", "grad_accum"),
    ("--max-length", "max_length"), ("--threads", "threads"), ("--merge", "merge"), ("--beta", "beta"),
    ("--nll-alpha", "nll_alpha"), ("--lora-r", "lora_r"), ("--lora-alpha", "lora_alpha"),
    ("--lora-dropout", "lora_dropout"), ("--target-modules", "target_modules"), ("--save-steps", "save_steps"),
    ("--seed", "seed"), ("--prompt-tokens", "prompt_tokens"), ("--gguf-dtype", "gguf_dtype"),
    ("--num-generations", "num_generations"), ("--completion-tokens", "completion_tokens"),
    ("--generation-temperature", "generation_temperature"), ("--kl-beta", "kl_beta"),
    ("--partial-credit", "partial_credit"), ("--use-vllm", "use_vllm"),
    ("--share-prompt", "share_prompt"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="smollm2-135m",
                        help="Starting model: alias (smollm2-135m), .gguf file, Hugging Face folder, or a codekiln "
                             "model folder from an earlier round (default: smollm2-135m).")
    parser.add_argument("--sft", type=Path, default=None, help="SFT rows (JSONL, conversational prompt/completion).")
    parser.add_argument("--pairs", type=Path, default=None, help="Preference pairs (JSONL, prompt/chosen/rejected).")
    parser.add_argument("--tasks", default=None, metavar="TASKS",
                        help="grpo/rloo: the tasks to train on, a built-in suite (NAME or NAME:train) or a task file; "
                             "the reward is their verifier run in the sandbox.")
    parser.add_argument("--out", type=Path, required=True, help="Model folder to write (rerun to resume).")
    parser.add_argument("--config", type=Path, default=None,
                        help="A run config YAML whose train section is the starting point for these flags.")
    for flag, name in FLAGS:
        add_field_option(parser, flag, TrainConfig, name)
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")


def main(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, load_config, validate_section
    from codekiln.train.launch import train

    base = load_config(args.config).train if args.config else command_defaults(TrainConfig)
    cfg = validate_section(base, **{name: getattr(args, name) for _, name in FLAGS})
    out = train(args.model, args.out, cfg, sft=args.sft, pairs=args.pairs, quiet=args.quiet, tasks=args.tasks,
                      verify=load_config(args.config).verify if args.config else None)
    print(out)
    return 0
