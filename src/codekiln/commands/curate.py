"""`codekiln curate --tasks T --samples S --verdicts V --out DIR`: SFT rows and preference pairs from verdicts."""

from __future__ import annotations

import argparse

from codekiln.config import CurateConfig, add_field_option

HELP = ("Filter, de-duplicate and decontaminate verified samples; write SFT rows, preference pairs, the removed "
        "items and the funnel.")

FLAGS = {  # flag -> CurateConfig field
    "--pair-builder": "pair_builder",
    "--filters": "filters",
    "--min-score": "min_score",
    "--max-chars": "max_chars",
    "--near-dup-threshold": "near_dup_threshold",
    "--dedup-across-rounds": "dedup_across_rounds",
    "--decontaminate": "decontaminate",
    "--ngram": "ngram",
    "--decontam-threshold": "decontam_threshold",
    "--sft-per-task": "sft_per_task",
    "--pairs-per-task": "pairs_per_task",
    "--min-margin": "min_margin",
    "--prefer-runtime-rejected": "prefer_runtime_rejected",
    "--reference-as-chosen": "reference_as_chosen",
}


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", required=True, help="The tasks the samples answer: a built-in suite or a task file.")
    parser.add_argument("--samples", required=True, help="Sample JSONL (codekiln or HumanEval sample format).")
    parser.add_argument("--verdicts", required=True, help="Verdict JSONL from `codekiln verify`.")
    parser.add_argument("--out", required=True, help="Folder to write sft.jsonl, pairs.jsonl, removed.jsonl, funnel.json.")
    parser.add_argument("--eval-tasks", action="append", default=[], metavar="T",
                        help="Evaluation tasks to decontaminate against (suite, NAME:SPLIT or file); repeatable. "
                             "Tasks of --tasks outside the train split that no sample answers are always included.")
    parser.add_argument("--previous", nargs="+", action="extend", default=[], metavar="DIR",
                        help="Earlier rounds' curate --out folders: programs trained on there are not used again.")
    parser.add_argument("--config", default=None, metavar="FILE", help="A codekiln YAML config whose curate section gives the defaults.")
    for flag, name in FLAGS.items():
        if name == "filters":
            add_field_option(parser, flag, CurateConfig, name, type=_names, metavar="A,B")
        else:
            add_field_option(parser, flag, CurateConfig, name)
    parser.add_argument("--quiet", action="store_true", help="No progress bars.")


def _print_summary(funnel: dict, out: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title="curation funnel (good answers)")
    table.add_column("step")
    kinds = [*funnel["kinds"], "total"]
    for kind in kinds:
        table.add_column(kind, justify="right")
    for step in (*funnel["steps"], "pairs", "truncated"):
        table.add_row(step, *(str((funnel["total"] if k == "total" else funnel["kinds"][k]).get(step, 0))
                              for k in kinds))
    console.print(table)
    p = funnel["pairs"]
    if p["count"]:
        console.print(f"pairs ({p['builder']}): {p['count']} over {p['tasks']} tasks, mean margin {p['mean_margin']}, "
                      f"length bias {p['length_bias']} (len chosen/rejected), duplicate pairs {p['duplicate_pairs']}, "
                      f"rejected status {p['rejected_status']}")
    else:
        console.print(f"pairs ({p['builder']}): none")
    console.print(f"removed by stage: {funnel['removed_by_stage']} (decontaminated against "
                  f"{funnel['eval_texts_indexed']} evaluation prompts/references)")
    ref = funnel["reference_as_chosen"]
    if ref["enabled"]:
        console.print(f"reference_as_chosen is ON: task references used as chosen for {ref['references_used']}")
    console.print(f"wrote {funnel['sft_rows']} SFT rows, {funnel['pairs_written']} pairs, "
                  f"{funnel['removed']} removed items to {out}")


def main(args: argparse.Namespace) -> int:
    from codekiln.config import command_defaults, load_config, validate_section
    from codekiln.curate.run import curate_round
    from codekiln.records import Sample, Verdict, read_jsonl
    from codekiln.tasks.load import load_tasks

    base = load_config(args.config).curate if args.config else command_defaults(CurateConfig)
    cfg = validate_section(base, **{name: getattr(args, name) for name in FLAGS.values()})
    tasks = load_tasks(args.tasks)
    samples = read_jsonl(args.samples, Sample)
    verdicts = read_jsonl(args.verdicts, Verdict)
    sampled = {s.task_id for s in samples}
    # The other splits of --tasks (test/val tasks nothing was sampled for here) are evaluation tasks too.
    held_out = [t for t in tasks if t.split != "train" and t.task_id not in sampled]
    eval_tasks = held_out + [t for spec in args.eval_tasks for t in load_tasks(spec)]
    result = curate_round(tasks, samples, verdicts, cfg, args.out, eval_tasks=eval_tasks,
                          previous=args.previous, quiet=args.quiet)
    _print_summary(result.funnel, args.out)
    return 0
