"""`codekiln` command line: the command table.

Each subcommand lives in `codekiln/commands/NAME.py` (dashes as underscores) with `HELP`, `add_arguments(parser)` and
`main(args) -> int`. Those modules import heavy libraries (torch, llama.cpp) only inside `main`, so
`codekiln --help` stays fast. A `UserError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from codekiln import __version__
from codekiln.errors import UserError

COMMANDS = ("run", "sample", "verify", "curate", "train", "eval", "compare", "report", "tasks", "export", "serve", "serve-reward")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codekiln",
        description="Make a code LLM better at your coding tasks from its own verified samples.",
    )
    parser.add_argument("--version", action="version", version=f"codekiln {__version__}")
    parser.add_argument("--json", action="store_true",
                        help="JSON lines on stderr instead of progress bars and styled text: stage_start, progress "
                             "(done, total, elapsed_s, eta_s, note), stage_end, message, error.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"codekiln.commands.{name.replace('-', '_')}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # A command may take trailing positionals after its options (`run CONFIG --quiet a.b=v`): it names the list in
    # EXTRA_ARGS. argparse (3.11) does not route positionals that come after options.
    dest = getattr(args._module, "EXTRA_ARGS", None)
    if extra and dest is None:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        getattr(args, dest).extend(extra)
    if args.json:
        from codekiln.progress import set_json

        set_json()
    try:
        return int(args._module.main(args) or 0)
    except UserError as err:
        if args.json:
            from codekiln.progress import emit

            emit("error", command=args.command, message=str(err))
        else:
            print(f"codekiln {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"codekiln {args.command}: interrupted; finished work is kept, rerun the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
