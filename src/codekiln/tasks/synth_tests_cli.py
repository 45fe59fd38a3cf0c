"""`codekiln tasks synthesize-tests`: ground truth for tasks that arrived without it (see `ground_truth`).

Python tasks with a reference gain tests made from it and graded by its mutants; python tasks without one gain
model-written assertions that model-written solutions agree on; sql tasks without a gold query gain the query most
samples agree on. OUT is an ordinary task file; tasks that had ground truth are copied, tasks for which none survives
are left out and listed. The model's output is kept in OUT's work folder as it is made, so a rerun resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig, add_field_option
from codekiln.progress import say


def add_synth_tests_parser(sub: Any) -> None:
    cmd = sub.add_parser("synthesize-tests", help="Make ground truth for tasks without it: tests for python tasks "
                                                  "(from a reference, or model-written and agreed on), gold queries "
                                                  "for sql tasks (self-consistency).")
    cmd.add_argument("--tasks", required=True, help="Task file or suite; tasks that have ground truth are copied.")
    cmd.add_argument("--out", required=True, type=Path, help="Task file to write (the tasks with their ground truth).")
    add_field_option(cmd, "--model", SampleConfig, "model")
    cmd.add_argument("--no-model", action="store_true",
                     help="No model: python tasks with a reference get the docstring's examples and codekiln's edge "
                          "cases only (tasks without a reference need a model).")
    cmd.add_argument("--n", type=int, default=8,
                     help="Calls or assertions asked of the model per task, and solutions or queries sampled per task "
                          "without a reference (default 8).")
    cmd.add_argument("--max-cases", type=int, default=12, help="Cases written into each test (default 12).")
    cmd.add_argument("--min-mutation-score", type=float, default=0.8,
                     help="Leave out tasks whose test catches fewer of the behaviour-changing mutants (default 0.8).")
    cmd.add_argument("--min-agreement", type=float, default=0.5,
                     help="sql: share of sampled queries that must agree on the result to make it gold (default 0.5).")
    cmd.add_argument("--work", type=Path, default=None,
                     help="Folder keeping the model's output for resuming (default: OUT's name + .work).")
    cmd.add_argument("--workers", type=int, default=2, help="Sandbox workers (default 2).")
    cmd.add_argument("--quiet", action="store_true", help="No progress bars.")


def check_options(n: int, max_cases: int, workers: int, min_mutation_score: float, min_agreement: float) -> None:
    """One clear line for a bad number."""
    from codekiln.errors import UserError

    if workers < 1 or max_cases < 1 or n < 1:
        raise UserError("--workers, --max-cases and --n must be at least 1")
    for name, value in (("--min-mutation-score", min_mutation_score), ("--min-agreement", min_agreement)):
        if not 0.0 <= value <= 1.0:
            raise UserError(f"{name} is a share: between 0 and 1 (got {value:g})")


def run_synth_tests(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, validate_section
    from codekiln.records import write_jsonl
    from codekiln.tasks.ground_truth import GroundTruthOptions, make_ground_truth
    from codekiln.tasks.load import load_tasks

    check_options(args.n, args.max_cases, args.workers, args.min_mutation_score, args.min_agreement)
    tasks = load_tasks(args.tasks)
    sample = None if args.no_model else validate_section(command_defaults(SampleConfig), model=args.model)
    options = GroundTruthOptions(sample=sample, n=args.n, max_cases=args.max_cases,
                                 min_mutation_score=args.min_mutation_score, min_agreement=args.min_agreement,
                                 workers=args.workers)
    work = args.work or args.out.with_name(args.out.name + ".work")
    result = make_ground_truth(tasks, options, work, quiet=args.quiet)
    write_jsonl(args.out, result.tasks)
    say(f"wrote {len(result.tasks)} of {len(tasks)} tasks to {args.out}: {result.summary()}")
    return 0
