"""`codekiln report RUN`: write a run's self-contained report.html."""

from __future__ import annotations

import argparse

HELP = "Write RUN/report.html: data funnel, pass@k with CIs per round, training curves, verdicts, example programs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="A run folder, or a run name under runs/.")
    parser.add_argument("--out", default=None, help="Where to write the HTML (default: RUN/report.html).")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codekiln.report.html import write_report
    from codekiln.rundir import find_run

    out = write_report(find_run(args.run), Path(args.out) if args.out else None)
    print(out)
    return 0
