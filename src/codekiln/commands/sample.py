"""`codekiln sample --model M --tasks T --n N --out S`: sample programs from a model into Sample JSONL."""

from __future__ import annotations

import argparse

from codekiln.commands._model_args import add_sampling_arguments
from codekiln.progress import say

HELP = "Sample N programs per task from a model into Sample JSONL (resumable; progress shows tokens/s)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sampling_arguments(parser)
    parser.add_argument("--out", required=True, help="Sample JSONL to write; an existing file is resumed.")
    parser.add_argument("--round", type=int, default=0, help="Round number recorded in the samples (and seeds).")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codekiln.commands._model_args import base_config, load_task_spec, sample_config, shot_examples
    from codekiln.sample.run import sample_tasks

    cfg = sample_config(args, base_config(args).sample, n=args.n, temperature=args.temperature)
    tasks = load_task_spec(args.tasks, None, args.limit)
    examples = shot_examples(args.tasks, cfg.shots)
    samples = sample_tasks(tasks, cfg, Path(args.out), round=args.round, quiet=args.quiet, examples=examples)
    tokens = sum(int(s.meta.get("tokens", 0)) for s in samples)
    say(f"{len(samples)} samples for {len(tasks)} tasks ({tokens} tokens) in {args.out}")
    return 0
