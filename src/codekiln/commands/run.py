"""`codekiln run [CONFIG.yaml] [--name NAME] [--preset P] [--quiet] [key=value ...]`: the self-improvement loop."""

from __future__ import annotations

import argparse
import sys

EXTRA_ARGS = "items"  # key=value overrides may also follow the options (see cli.py)
HELP = ("Run the loop: evaluate the base model, then rounds of sample → verify → curate → train → evaluate, "
        "resumable; ends with a table and report.html.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("items", nargs="*", metavar="[CONFIG.yaml] [key=value ...]",
                        help="An optional YAML config file, then config overrides such as rounds=2 "
                             "sample.n=4 train.max_steps=20 (unknown keys are errors).")
    parser.add_argument("--name", default=None,
                        help="Run folder name under runs_dir (default: derived from the config, so rerunning the "
                             "same command resumes the same run).")
    parser.add_argument("--preset", default=None, help="Start from a shipped preset: quick (a smoke run), gpu (vLLM), qwen-0.5b (qwen2.5-coder-0.5b on 2 CPU cores), ui (UICoder's loop on ui-basic).")
    parser.add_argument("--quiet", action="store_true", help="No progress bars.")


def split_items(items: list[str]) -> tuple[str | None, list[str]]:
    """The config file (the one item without '=', which must come first) and the key=value overrides."""
    from codekiln.errors import UserError

    options = [i for i in items if i.startswith("-")]
    if options:
        raise UserError(f"unknown option {options[0]!r}; see codekiln run --help")
    paths = [i for i in items if "=" not in i]
    if len(paths) > 1:
        raise UserError(f"expected at most one config file, got {paths}; overrides are key=value")
    if paths and items[0] != paths[0]:
        raise UserError(f"the config file {paths[0]!r} must come before the key=value overrides")
    return (paths[0] if paths else None), [i for i in items if "=" in i]


def main(args: argparse.Namespace) -> int:
    from codekiln.config import load_config
    from codekiln.loop import run
    from codekiln.report.console import print_summary

    path, overrides = split_items(args.items)
    if args.name is not None:
        overrides.append(f"name={args.name}")
    cfg = load_config(path, overrides, preset=args.preset)
    result = run(cfg, quiet=args.quiet, argv=sys.argv[1:])
    print_summary(result)
    return 0
