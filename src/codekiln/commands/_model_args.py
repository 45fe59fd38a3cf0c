"""Flags shared by `codekiln sample` and `codekiln eval`: the model, the tasks, and the sampling settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from codekiln.config import RunConfig, SampleConfig, add_field_option, load_config, validate_section
from codekiln.errors import UserError
from codekiln.records import Task

TASKS_HELP = ("A built-in suite (NAME or NAME:SPLIT, see `codekiln tasks list`), a codekiln task file or a "
              "HumanEval-format .jsonl(.gz).")


def add_sampling_arguments(parser: argparse.ArgumentParser, n_flag: bool = True) -> None:
    add_field_option(parser, "--model", SampleConfig, "model")
    parser.add_argument("--tasks", required=True, help=TASKS_HELP)
    parser.add_argument("--limit", type=int, default=None, metavar="K", help="Use only the first K tasks.")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="A codekiln YAML config whose sample/verify/eval sections give the defaults.")
    add_field_option(parser, "--backend", SampleConfig, "backend")
    if n_flag:
        add_field_option(parser, "--n", SampleConfig, "n")
        add_field_option(parser, "--temperature", SampleConfig, "temperature")
    add_field_option(parser, "--top-p", SampleConfig, "top_p")
    add_field_option(parser, "--top-k", SampleConfig, "top_k")
    add_field_option(parser, "--max-tokens", SampleConfig, "max_tokens")
    add_field_option(parser, "--shots", SampleConfig, "shots")
    add_field_option(parser, "--seed", SampleConfig, "seed")
    add_field_option(parser, "--threads", SampleConfig, "threads")
    add_field_option(parser, "--workers", SampleConfig, "workers")
    add_field_option(parser, "--batch-size", SampleConfig, "batch_size")
    add_field_option(parser, "--stop-at-fence", SampleConfig, "stop_at_fence")
    parser.add_argument("--quiet", action="store_true", help="No progress bars.")


def base_config(args: argparse.Namespace) -> RunConfig:
    return load_config(args.config) if args.config else RunConfig()


def sample_config(args: argparse.Namespace, base: SampleConfig, **extra: object) -> SampleConfig:
    names = ["model", "backend", "top_p", "top_k", "max_tokens", "shots", "seed", "threads", "workers",
             "batch_size", "stop_at_fence"]
    values = {name: getattr(args, name, None) for name in names}
    return validate_section(base, **values, **extra)


def load_task_spec(spec: str, split: str | None, limit: int | None) -> list[Task]:
    """Tasks for --tasks; `split` filters a built-in suite when the spec names none (files are taken whole)."""
    from codekiln.tasks.load import load_tasks
    from codekiln.tasks.suites import SUITES

    if limit is not None and limit < 1:
        raise UserError(f"--limit must be 1 or more, got {limit}")
    is_suite = spec.partition(":")[0] in SUITES and not Path(spec).exists()
    tasks = load_tasks(spec, split=split if is_suite and ":" not in spec else None)
    return tasks[:limit] if limit is not None else tasks


def shot_examples(spec: str, shots: int) -> list[Task]:
    """Worked examples for --shots: the train split of the suite (or task file) named by --tasks."""
    if shots <= 0:
        return []
    from codekiln.tasks.load import load_tasks

    name = spec.partition(":")[0] if not Path(spec).exists() else spec
    examples = [t for t in load_tasks(name) if t.split == "train" and t.reference]
    if not examples:
        raise UserError(f"--shots {shots}: {name!r} has no train-split tasks with a reference to use as examples")
    return examples
