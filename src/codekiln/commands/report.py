"""`codekiln report RUN`: write a run's self-contained report.html."""

from __future__ import annotations

import argparse

HELP = "Write RUN/report.html: data funnel, pass@k with CIs per round, training curves, verdicts, example programs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="A run folder, or a run name under runs/.")
    parser.add_argument("--out", default=None, help="Where to write the HTML (default: RUN/report.html).")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codekiln.errors import UserError
    from codekiln.report import write_report

    root = Path(args.run)
    if not (root / "manifest.json").exists() and (Path("runs") / args.run / "manifest.json").exists():
        root = Path("runs") / args.run
    if not (root / "manifest.json").exists():
        raise UserError(f"{args.run}: not a run folder (no manifest.json); give the folder 'codekiln run' printed")
    out = write_report(root, Path(args.out) if args.out else None)
    print(out)
    return 0
