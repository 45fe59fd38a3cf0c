"""`codekiln compare RUN`: the base and final models' held-out answers, judged side by side in both orders."""

from __future__ import annotations

import argparse

HELP = ("Judge a run's base and final answers on its held-out tasks side by side, in both orders: mean rating per "
        "preference, the difference with its bootstrap interval, wins/ties/losses (for judged tasks such as open-basic).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="A finished run folder, or a run name under runs/.")
    parser.add_argument("--judge", default=None, metavar="MODEL",
                        help="Judge model (any --model form; default: the run's verify.judge.model). A judge other "
                             "than the one that rated the training data is the stronger test.")
    parser.add_argument("--split", choices=("eval", "val"), default="eval",
                        help="Which held-out answers: the test split (eval, default) or validation (val).")
    parser.add_argument("--round", dest="round", type=int, default=None, metavar="R",
                        help="Compare round R instead of the run's final round.")
    parser.add_argument("--alone", action="store_true",
                        help="Rate each answer in a call of its own and pair the ratings by task, for a judge that "
                             "rates two answers shown together by their position (qwen2.5-coder-0.5b does).")
    parser.add_argument("--no-reference", dest="use_reference", action="store_false",
                        help="Do not show the task's reference answer to the judge.")
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")


def main(args: argparse.Namespace) -> int:
    import json

    import yaml

    from codekiln.config import RunConfig
    from codekiln.errors import UserError
    from codekiln.judge.compare import compare_folders, format_comparison
    from codekiln.records import write_json
    from codekiln.rundir import find_run
    from codekiln.splits import split_tasks

    root = find_run(args.run)
    cfg = RunConfig.model_validate(yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8")) or {})
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    final = args.round
    if final is None:
        link = manifest.get("final")
        if not link:
            raise UserError(f"{root}: the run has no final trained round yet; finish it, or pick one with --round R")
        final = int(str(link).split("/")[0].removeprefix("round-"))
    base_file = root / "round-0" / args.split / "samples.jsonl"
    final_file = root / f"round-{final}" / args.split / "samples.jsonl"
    for path in (base_file, final_file):
        if not path.exists():
            raise UserError(f"{path} does not exist: that round was not evaluated on {args.split}; "
                            "resume the run, or choose another --round/--split")
    splits = split_tasks(cfg)
    tasks = splits.test if args.split == "eval" else splits.val
    judge_cfg = cfg.verify.judge.model_copy(update={"model": args.judge or cfg.verify.judge.model,
                                                    "use_reference": args.use_reference})
    out = root / f"round-{final}" / f"compare-{args.split}{'-alone' if args.alone else ''}.json"
    summary = compare_folders(tasks, base_file.parent, final_file.parent, judge_cfg, cfg.sample, out,
                              quiet=args.quiet, bootstrap=cfg.eval.bootstrap, seed=cfg.seed, alone=args.alone)
    summary.update({"split": args.split, "base_round": 0, "final_round": final})
    write_json(out, summary)
    print(f"round 0 vs round {final} on {args.split}, judged by {summary['judge']}")
    print(format_comparison(summary))
    print(out)
    return 0
