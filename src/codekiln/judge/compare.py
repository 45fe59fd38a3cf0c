"""Base vs final, judged side by side in both orders: the judged counterpart of the test split's pass@1 delta.

A run's judged tasks are trained on ratings from its judge, so the final model learned to please that judge in the
way the training ratings were asked for. The comparison asks differently: for every held-out task, the base
model's answer and the final model's answer are shown together, once in each order, and each answer's rating is
the mean over the two orders. A judge that always favours the first-shown answer gives a tie, not a win, and the
order agreement (share of tasks both orders rank the same way) says how far the judge can be trusted at all.

Per preference: mean rating of base and final, the paired difference with a bootstrap 95% CI over tasks, and the
final model's wins, ties and losses. Every judge call goes through the judge cache, so a rerun costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.config import JudgeConfig, SampleConfig
from codekiln.judge.benchmark import mean_ci
from codekiln.judge.run import Judge, JudgeItem
from codekiln.records import Sample, Task, read_jsonl, write_json
from codekiln.sample.prompts import reference_program, task_text
from codekiln.verify.judge import response_text, task_preferences


@dataclass(frozen=True)
class PairRating:
    """One task's base and final answers rated together on one preference (means over the two orders)."""

    task_id: str
    preference: str
    base: float
    final: float
    order_agreement: float | None


def first_answers(samples: Sequence[Sample]) -> dict[str, Sample]:
    """Each task's first sample (evaluation samples greedily, so there is one per task)."""
    out: dict[str, Sample] = {}
    for s in samples:
        out.setdefault(s.task_id, s)
    return out


def comparison_config(cfg: JudgeConfig, alone: bool = False) -> JudgeConfig:
    """The judge settings of a comparison: the two answers in one call, always in both orders; or, `alone`, each
    answer in a call of its own (for a judge that rates by position when shown two: its ratings then have no order
    to be biased by, and are paired by task afterwards)."""
    if alone:
        return cfg.model_copy(update={"group_size": 1})
    return cfg.model_copy(update={"group_size": 2, "both_orders": True})


def rate_pairs(judge: Judge, tasks: Sequence[Task], base: Sequence[Sample], final: Sequence[Sample],
               quiet: bool = True) -> list[PairRating]:
    """Judge each task's (base, final) answers side by side in both orders (or each alone, with group_size 1); tasks
    missing either answer are skipped."""
    cfg = judge.cfg
    alone = cfg.group_size == 1
    if not alone and not cfg.both_orders:
        raise ValueError("a base-vs-final comparison needs both_orders=True (see comparison_config)")
    base_by, final_by = first_answers(base), first_answers(final)
    items, kept = [], []
    for task in tasks:
        b, f = base_by.get(task.task_id), final_by.get(task.task_id)
        if b is None or f is None:
            continue
        kept.append(task)
        answers = [(b.sample_id, response_text(task, b)), (f.sample_id, response_text(task, f))]
        groups = [[a] for a in answers] if alone else [answers]
        items += [JudgeItem(
            key=f"compare|{task.task_id}|" + "|".join(sample_id for sample_id, _ in group),
            instruction=task_text(task),
            responses=tuple(text for _, text in group),
            preferences=task_preferences(task, cfg),
            reference=reference_program(task) if task.reference else None,
        ) for group in groups]
    judged = [j for group in judge.judge(items, quiet=quiet) for j in group]  # base, final of each task in turn
    out = []
    for task, jb, jf in zip(kept, judged[0::2], judged[1::2], strict=True):
        for pref in task_preferences(task, cfg):
            rb, rf = jb.ratings.get(pref), jf.ratings.get(pref)
            if rb is None or rf is None:
                continue  # the judge never answered usably: counted as unjudged, not as a tie
            out.append(PairRating(task.task_id, pref, rb, rf, jb.agreement.get(pref)))
    return out


def summarize_pairs(ratings: Sequence[PairRating], tasks: int, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Per preference and overall: mean ratings, paired difference (final - base) with CI, wins/ties/losses."""

    def block(rows: Sequence[PairRating]) -> dict[str, Any]:
        diffs = [r.final - r.base for r in rows]
        agreements = [r.order_agreement for r in rows if r.order_agreement is not None]
        n = len(rows)
        return {
            "tasks": n,
            "base": round(sum(r.base for r in rows) / n, 4) if n else None,
            "final": round(sum(r.final for r in rows) / n, 4) if n else None,
            "difference": round(sum(diffs) / n, 4) if n else None,
            "ci95": mean_ci(diffs, bootstrap, seed),
            "wins": sum(d > 0 for d in diffs),
            "ties": sum(d == 0 for d in diffs),
            "losses": sum(d < 0 for d in diffs),
            "order_agreement": round(sum(agreements) / len(agreements), 4) if agreements else None,
        }

    preferences = sorted({r.preference for r in ratings})
    return {
        "preferences": {p: block([r for r in ratings if r.preference == p]) for p in preferences},
        "overall": block(list(ratings)),
        "tasks_compared": tasks,
    }


def format_comparison(summary: dict[str, Any]) -> str:
    lines = [f"{'preference':<22} {'base':>5} {'final':>5} {'final-base':>10}  {'95% CI':<16} "
             f"{'win/tie/loss':>12} {'order agr.':>10}"]

    def row(name: str, b: dict[str, Any]) -> str:
        if not b["tasks"]:
            return f"{name:<22} (nothing judged)"
        ci = f"[{b['ci95'][0]:+.2f}, {b['ci95'][1]:+.2f}]" if b["ci95"] else "-"
        agree = f"{b['order_agreement']:.0%}" if b["order_agreement"] is not None else "-"
        return (f"{name:<22} {b['base']:>5.2f} {b['final']:>5.2f} {b['difference']:>+10.2f}  {ci:<16} "
                f"{b['wins']:>4}/{b['ties']}/{b['losses']:<4} {agree:>10}")

    for pref, b in summary["preferences"].items():
        lines.append(row(pref, b))
    lines.append(row("all", summary["overall"]))
    if summary.get("protocol") == "alone":
        lines.append(f"{summary['tasks_compared']} tasks with both answers; ratings 1-10, each answer rated in a call "
                     "of its own, paired by task")
    else:
        lines.append(f"{summary['tasks_compared']} tasks with both answers; ratings 1-10, each the mean of the two "
                     "presentation orders (a position-biased judge gives ties)")
    agreement = summary["overall"]["order_agreement"]
    if agreement is not None and agreement < 0.5:
        lines.append(f"warning: the two orders ranked the answers the same way on only {agreement:.0%} of tasks: this "
                     "judge ranks by position, not by content, so these ties say nothing about the models")
    return "\n".join(lines)


VERSUS_BASE = "versus_base.json"


def compare_folders(tasks: Sequence[Task], base_dir: Path, other_dir: Path, cfg: JudgeConfig,
                    sample_cfg: SampleConfig | None = None, out: Path | None = None, quiet: bool = True,
                    bootstrap: int = 1000, seed: int = 0, judge: Judge | None = None,
                    alone: bool = False) -> dict[str, Any]:
    """Judge two evaluation folders' answers (their samples.jsonl) side by side; write and return the summary.

    `out` defaults to other_dir/versus_base.json. The judge is loaded from `cfg` with the comparison settings
    unless one is given (its settings must then be comparison settings).
    """
    base = read_jsonl(Path(base_dir) / "samples.jsonl", Sample)
    other = read_jsonl(Path(other_dir) / "samples.jsonl", Sample)
    judge_cfg = comparison_config(cfg, alone)
    own = judge is None
    judge = judge or Judge.from_config(judge_cfg, sample_cfg)
    try:
        ratings = rate_pairs(judge, tasks, base, other, quiet=quiet)
    finally:
        if own:
            judge.close()
    summary = summarize_pairs(ratings, len({r.task_id for r in ratings}), bootstrap, seed)
    summary.update({"judge": judge_cfg.model, "protocol": "alone" if alone else "side by side, both orders"})
    write_json(out or Path(other_dir) / VERSUS_BASE, summary)
    return summary
