"""`codekiln eval --judge MODEL`: the judged benchmark and the judge-vs-tests agreement, for the eval command.

The eval command adds the flags with `add_judge_arguments(parser)`, verifies with
`judge_verify_config(args, base.verify)` (so `open` tasks are rated by the chosen judge), and after
`evaluate_model` calls `report_judged(tasks, out_dir, verify_cfg, ...)`: open tasks are reported as mean
rating per preference with 95% CIs; tested tasks (python, sql, ...) are also judged, and the report says how
often the judge's order agrees with pass/fail, so users know how far to trust it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.config import JudgeConfig, VerifyConfig, field_help, validate_section
from codekiln.judge.agreement import format_agreement, judge_test_agreement
from codekiln.judge.benchmark import format_summary, judge_verdicts, summarize_ratings
from codekiln.judge.rubrics import RUBRIC_VERSION
from codekiln.records import Sample, Task, Verdict, read_jsonl, write_json
from codekiln.verify.judge import JudgeVerifier


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", default=None, metavar="MODEL",
                        help="Rate the samples with this LLM judge on the five coding preferences (any --model "
                             "form; e.g. qwen2.5-coder-0.5b or openai:MODEL@URL) and report mean ratings with "
                             "95%% CIs; on tested tasks also its agreement with pass/fail. "
                             + field_help(JudgeConfig, "model").replace("%", "%%"))
    parser.add_argument("--judge-max-calls", dest="judge_max_calls", type=int, default=None, metavar="N",
                        help=field_help(JudgeConfig, "max_calls").replace("%", "%%"))
    parser.add_argument("--judge-group-size", dest="judge_group_size", type=int, default=None, metavar="N",
                        help=field_help(JudgeConfig, "group_size").replace("%", "%%"))
    parser.add_argument("--judge-both-orders", dest="judge_both_orders", action=argparse.BooleanOptionalAction,
                        default=None, help=field_help(JudgeConfig, "both_orders").replace("%", "%%"))


def judge_verify_config(args: argparse.Namespace, verify: VerifyConfig) -> VerifyConfig:
    """The verify config with the judge flags applied (unchanged when none was given)."""
    judge = validate_section(verify.judge, model=getattr(args, "judge", None),
                             max_calls=getattr(args, "judge_max_calls", None),
                             group_size=getattr(args, "judge_group_size", None),
                             both_orders=getattr(args, "judge_both_orders", None))
    return verify.model_copy(update={"judge": judge})


def report_judged(tasks: Sequence[Task], out_dir: Path, verify_cfg: VerifyConfig, quiet: bool = False,
                  bootstrap: int = 1000, seed: int = 0, verifier: JudgeVerifier | None = None) -> dict[str, Any]:
    """After an eval into `out_dir`: judge what the tests verified, summarise, write out_dir/judged.json."""
    out_dir = Path(out_dir)
    samples = read_jsonl(out_dir / "samples.jsonl", Sample)
    verdicts = read_jsonl(out_dir / "verdicts.jsonl", Verdict)
    kind = {t.task_id: t.kind for t in tasks}
    open_verdicts = [v for v in verdicts if kind.get(v.task_id) == "open"]
    tested_samples = [s for s in samples if kind.get(s.task_id) not in (None, "open")]
    judged_tested = judge_verdicts(tasks, tested_samples, verify_cfg, out_dir / "judge_verdicts.jsonl",
                                   quiet=quiet, verifier=verifier) if tested_samples else []
    report: dict[str, Any] = {
        "judge": verify_cfg.judge.model,
        "rubric": RUBRIC_VERSION,
        "ratings": summarize_ratings(tasks, open_verdicts + judged_tested, bootstrap, seed),
    }
    if judged_tested:
        tested_ids = {s.sample_id for s in tested_samples}
        report["agreement"] = judge_test_agreement([v for v in verdicts if v.sample_id in tested_ids], judged_tested)
    write_json(out_dir / "judged.json", report)
    return report


def format_judged(report: dict[str, Any]) -> str:
    text = f"judge {report['judge']} ({report['rubric']})\n{format_summary(report['ratings'])}"
    if "agreement" in report:
        text += "\n" + format_agreement(report["agreement"])
    return text
