"""`codekiln eval --model M --tasks T [--n N] [--k 1,10] [--out DIR] [--judge MODEL]`: sample + verify + pass@k.

With `--judge`, `open` tasks are rated by that judge while verifying, and afterwards `report_judged`
(codekiln.judge.benchmark) judges the tested tasks too, so the printed report says how often the judge's order
agrees with pass/fail, and users know how far to trust it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from codekiln.commands._model_args import add_sampling_arguments
from codekiln.config import (
    EvalConfig,
    JudgeConfig,
    VerifyConfig,
    add_field_option,
    field_help,
    validate_section,
)

HELP = "Evaluate a model on tasks: sample, verify in the sandbox, report pass@k with bootstrap CIs (metrics.json)."

if TYPE_CHECKING:
    from codekiln.evaluate.run import EvalResult


def _ks(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,10, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sampling_arguments(parser, n_flag=False)
    add_field_option(parser, "--n", EvalConfig, "n")
    add_field_option(parser, "--k", EvalConfig, "k", type=_ks)
    add_field_option(parser, "--temperature", EvalConfig, "temperature")
    add_field_option(parser, "--split", EvalConfig, "split")
    add_judge_arguments(parser)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="Folder for samples.jsonl, verdicts.jsonl and metrics.json (default: eval/<model>-<tasks>); "
                             "an existing one is resumed.")


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", default=None, metavar="MODEL",
                        help="Rate the samples with this LLM judge on the five coding preferences (any --model "
                             "form; e.g. qwen2.5-coder-0.5b or openai:MODEL@URL) and report mean ratings with "
                             "95%% CIs; on tested tasks also its agreement with pass/fail. "
                             + field_help(JudgeConfig, "model").replace("%", "%%"))
    parser.add_argument("--judge-max-calls", dest="judge_max_calls", type=int, default=None, metavar="N",
                        help=field_help(JudgeConfig, "max_calls").replace("%", "%%"))
    parser.add_argument("--judge-group-size", dest="judge_group_size", type=int, default=None, metavar="N",
                        help=field_help(JudgeConfig, "group_size").replace("%", "%%"))
    parser.add_argument("--judge-both-orders", dest="judge_both_orders", action=argparse.BooleanOptionalAction,
                        default=None, help=field_help(JudgeConfig, "both_orders").replace("%", "%%"))


def judge_verify_config(args: argparse.Namespace, verify: VerifyConfig) -> VerifyConfig:
    """The verify config with the judge flags applied (unchanged when none was given)."""
    judge = validate_section(verify.judge, model=getattr(args, "judge", None),
                             max_calls=getattr(args, "judge_max_calls", None),
                             group_size=getattr(args, "judge_group_size", None),
                             both_orders=getattr(args, "judge_both_orders", None))
    return verify.model_copy(update={"judge": judge})


def _default_out(model: str, tasks: str) -> str:
    import re

    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", text.rstrip("/").split("/")[-1])[:60]

    return f"eval/{slug(model)}-{slug(tasks)}"


def print_summary(result: EvalResult, out: str) -> None:
    from rich.console import Console
    from rich.table import Table

    metrics = result.metrics
    table = Table(title=f"{metrics['model']} on {result.tasks} tasks (n={metrics['n']}, T={metrics['temperature']})")
    for col in ("metric", "value", "95% CI"):
        table.add_column(col)
    for k, value in result.pass_at.items():
        lo, hi = result.ci[f"pass@{k}"]
        table.add_row(f"pass@{k}", f"{value:.3f}", f"[{lo:.3f}, {hi:.3f}]")
    if "rendered" in metrics and result.score is not None:  # graded (html): mean score, share of pages rendered
        lo, hi = result.ci["score"]
        table.add_row("mean score", f"{result.score:.3f}", f"[{lo:.3f}, {hi:.3f}]")
        table.add_row("pages rendered", f"{100 * metrics['rendered']:.0f}%", "")
    table.add_row("tasks solved", f"{metrics['tasks_solved']}/{metrics['tasks']}", "")
    table.add_row("samples passed", f"{metrics['passed']}/{result.samples}", "")
    table.add_row("statuses", ", ".join(f"{s} {c}" for s, c in sorted(metrics["status"].items())), "")
    Console().print(table)
    Console(stderr=True).print(f"wrote {out}/metrics.json")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codekiln.commands._model_args import base_config, load_task_spec, sample_config, shot_examples
    from codekiln.evaluate.run import evaluate_model
    from codekiln.judge.benchmark import format_judged, report_judged

    base = base_config(args)
    eval_cfg = validate_section(base.eval, n=args.n, k=args.k, temperature=args.temperature, split=args.split,
                                limit=args.limit)
    sample_cfg = sample_config(args, base.sample)
    tasks = load_task_spec(args.tasks, eval_cfg.split, eval_cfg.limit)
    out = args.out or _default_out(sample_cfg.model, args.tasks)
    verify_cfg = judge_verify_config(args, base.verify)
    result = evaluate_model(sample_cfg.model, tasks, eval_cfg, sample_cfg, verify_cfg, Path(out), quiet=args.quiet,
                            examples=shot_examples(args.tasks, sample_cfg.shots))
    print_summary(result, out)
    if args.judge:
        print(format_judged(report_judged(tasks, Path(out), verify_cfg, quiet=args.quiet,
                                          bootstrap=eval_cfg.bootstrap)))
    return 0
