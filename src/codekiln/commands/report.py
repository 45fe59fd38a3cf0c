"""`codekiln report` (being built; see the issue for this stage)."""

from __future__ import annotations

import argparse

from codekiln.errors import UserError

HELP = "(report: not built yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    raise UserError("'codekiln report' is not available yet")
