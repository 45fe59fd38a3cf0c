"""`codekiln tasks synthesize`: the CLI adapter of `codekiln.tasks.synthesize`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig, add_field_option
from codekiln.progress import say


def add_synthesize_parser(sub: Any) -> None:
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


def run_synthesize(args: argparse.Namespace) -> int:
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
