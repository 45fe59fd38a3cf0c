"""`codekiln tasks synthesize-tests`: tests for python tasks that have a reference but no tests.

The model (optional, `--model`) proposes calls; codekiln adds the docstring's examples and its own edge cases; the
reference answers them in the sandbox; mutants of the reference grade the result (see `synth_tests`). OUT is an
ordinary task file; tasks without a surviving case, or below `--min-mutation-score`, are left out and listed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig, add_field_option
from codekiln.records import Task

ASK = ("Here is a Python function:\n\n```python\n{prompt}```\n\nWrite {n} different calls of `{entry}` that test it "
       "well (typical values, edge cases such as empty or zero inputs, larger inputs), one per line, as Python code "
       "with literal arguments only, for example `{entry}(...)`. Reply with the calls only.")


def add_synth_tests_parser(sub: Any) -> None:
    cmd = sub.add_parser("synthesize-tests", help="Make HumanEval-style tests for python tasks from their reference "
                                                  "solutions, graded by mutants of the reference.")
    cmd.add_argument("--tasks", required=True, help="Python tasks with `prompt`, `entry_point` and `reference`.")
    cmd.add_argument("--out", required=True, type=Path, help="Task file to write (the tasks with their tests).")
    add_field_option(cmd, "--model", SampleConfig, "model")
    cmd.add_argument("--no-model", action="store_true",
                     help="Propose no calls with a model: the docstring's examples and codekiln's edge cases only.")
    cmd.add_argument("--n", type=int, default=8, help="Calls the model is asked for per task (default 8).")
    cmd.add_argument("--max-cases", type=int, default=12, help="Cases written into each test (default 12).")
    cmd.add_argument("--min-mutation-score", type=float, default=0.8,
                     help="Leave out tasks whose test catches fewer of the behaviour-changing mutants (default 0.8).")
    cmd.add_argument("--workers", type=int, default=2, help="Sandbox workers (default 2).")
    cmd.add_argument("--quiet", action="store_true", help="No progress bar.")


def model_proposer(tasks: Sequence[Task], cfg: SampleConfig, n: int, quiet: bool) -> dict[str, list[str]]:
    """Each task's proposed call lines from the model (one request per task, seeded by task)."""
    from codekiln.progress import progress_bar
    from codekiln.sample.base import GenParams, Request, load_sampler
    from codekiln.sample.models import resolve_model

    sampler = load_sampler(resolve_model(cfg.model), cfg)
    params = GenParams(temperature=max(cfg.temperature, 0.6), top_p=cfg.top_p, max_tokens=256)
    out: dict[str, list[str]] = {}
    try:
        with progress_bar("propose calls", len(tasks), quiet) as bar:
            for task in tasks:
                ask = ASK.format(prompt=task.prompt, n=n, entry=task.entry_point)
                request = Request([{"role": "user", "content": ask}], seed=random.Random(task.task_id).randrange(2**31))
                (gen,) = sampler.generate([request], params)  # type: ignore[attr-defined]
                out[task.task_id] = [line.strip().strip("`") for line in gen.text.splitlines()]
                bar.advance()
    finally:
        sampler.close()  # type: ignore[attr-defined]
    return out


def run_synth_tests(args: argparse.Namespace) -> int:
    from codekiln.config import validate_section
    from codekiln.errors import UserError
    from codekiln.records import write_jsonl
    from codekiln.tasks.load import load_tasks
    from codekiln.tasks.synth_tests import keep, synthesize_tests

    if args.workers < 1 or args.max_cases < 1 or args.n < 1:
        raise UserError("--workers, --max-cases and --n must be at least 1")
    if not 0.0 <= args.min_mutation_score <= 1.0:
        raise UserError("--min-mutation-score is a share: between 0 and 1")
    tasks = load_tasks(args.tasks)
    unusable = [t.task_id for t in tasks if t.kind != "python" or not t.reference or not t.entry_point]
    if unusable:
        raise UserError(f"{len(unusable)} task(s) are not python tasks with a reference and an entry_point "
                        f"(e.g. {unusable[0]}); synthesize-tests makes tests from references")
    proposed: dict[str, list[str]] = {}
    if not args.no_model:
        cfg = validate_section(SampleConfig(), model=args.model)
        proposed = model_proposer(tasks, cfg, args.n, args.quiet)
    results = synthesize_tests(tasks, lambda t: proposed.get(t.task_id, []), workers=args.workers,
                               quiet=args.quiet, max_cases=args.max_cases)
    kept = [r for r in results if keep(r, args.min_mutation_score)]
    write_jsonl(args.out, [r.task for r in kept])
    scores = [s for r in results if (s := r.mutation_score) is not None]
    left = [r.task.task_id for r in results if r not in kept]
    print(f"wrote {len(kept)} of {len(tasks)} tasks to {args.out}; mutation scores of {len(scores)} graded tasks: "
          + (f"median {statistics.median(scores):.2f}, min {min(scores):.2f}, "
             f"{sum(s >= args.min_mutation_score for s in scores)} at or above {args.min_mutation_score:g}"
             if scores else "none graded")
          + (f"; left out: {', '.join(left[:10])}{' ...' if len(left) > 10 else ''}" if left else ""),
          file=sys.stderr)
    return 0
