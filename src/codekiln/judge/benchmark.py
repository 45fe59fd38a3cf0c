"""A judged benchmark in the style of CODAL-Bench: sample open instructions, judge them, report per preference.

Each task is rated on its own preference (`meta.preference`; all configured preferences when it names none);
the report gives the mean rating (1-10) per preference with a bootstrap confidence interval over tasks.
`judged_benchmark` samples and judges; `report_judged` (`codekiln eval --judge`) judges what an eval already
sampled and verified: open tasks are reported as mean rating per preference with 95% CIs; tested tasks (python,
sql, ...) are also judged, and the report says how often the judge's order agrees with pass/fail, so users know
how far to trust it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.config import SampleConfig, VerifyConfig
from codekiln.judge.agreement import format_agreement, judge_test_agreement
from codekiln.judge.rubrics import RUBRIC_VERSION
from codekiln.records import (
    JsonlAppender,
    Sample,
    Task,
    Verdict,
    read_jsonl,
    read_jsonl_resumable,
    write_json,
)
from codekiln.verify.judge import JudgeVerifier


def mean_ci(values: list[float], resamples: int, seed: int, level: float = 0.95) -> list[float] | None:
    """A percentile bootstrap interval of the mean of `values` (None when there is nothing to resample)."""
    if not values or resamples <= 0:
        return None
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(resamples))
    lo = means[int((1 - level) / 2 * (resamples - 1))]
    hi = means[int((1 + level) / 2 * (resamples - 1))]
    return [round(lo, 4), round(hi, 4)]


def summarize_ratings(tasks: Sequence[Task], verdicts: Sequence[Verdict], bootstrap: int = 1000,
                      seed: int = 0) -> dict[str, Any]:
    """Mean rating per preference over tasks (a task's samples averaged first), with bootstrap 95% CIs."""
    known = {t.task_id for t in tasks}
    per_task: dict[str, dict[str, list[float]]] = {}
    invalid = 0
    for v in verdicts:
        if v.task_id not in known:
            continue
        if v.status == "invalid":
            invalid += 1
            continue
        judgement = v.judgement
        for pref, rating in (judgement.ratings if judgement else {}).items():
            if rating is not None:
                per_task.setdefault(pref, {}).setdefault(v.task_id, []).append(float(rating))
    preferences = {}
    for pref, tasks_ratings in sorted(per_task.items()):
        values = [sum(r) / len(r) for r in tasks_ratings.values()]
        preferences[pref] = {"mean": round(sum(values) / len(values), 4), "ci95": mean_ci(values, bootstrap, seed),
                             "tasks": len(values)}
    scores = [v.score for v in verdicts if v.task_id in known and v.status != "invalid"]
    return {
        "preferences": preferences,
        "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
        "pass_rate": round(sum(v.passed for v in verdicts) / len(verdicts), 4) if verdicts else None,
        "samples": len(verdicts),
        "invalid": invalid,
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{'preference':<22} {'mean rating':>11}  {'95% CI':<15} tasks"]
    for pref, row in summary["preferences"].items():
        ci = f"[{row['ci95'][0]:.2f}, {row['ci95'][1]:.2f}]" if row["ci95"] else "-"
        lines.append(f"{pref:<22} {row['mean']:>11.2f}  {ci:<15} {row['tasks']}")
    lines.append(f"{summary['samples']} samples, {summary['invalid']} invalid judgements, "
                 f"judge pass rate {summary['pass_rate'] if summary['pass_rate'] is not None else '-'}")
    return "\n".join(lines)


def judge_verdicts(tasks: Sequence[Task], samples: Sequence[Sample], cfg: VerifyConfig, out: Path,
                   quiet: bool = False, verifier: JudgeVerifier | None = None) -> list[Verdict]:
    """Judge every sample (any kind) into `out`, resumable: verdicts already in `out` are kept."""
    by_id = {t.task_id: t for t in tasks}
    have = {v.sample_id: v for v in read_jsonl_resumable(out, Verdict)}
    todo = [(by_id[s.task_id], s) for s in samples if s.sample_id not in have]
    if todo:
        own = verifier is None
        verifier = verifier or JudgeVerifier(cfg, quiet=quiet)
        try:
            with JsonlAppender(out) as sink:
                def keep(verdict: Verdict) -> None:
                    have[verdict.sample_id] = verdict
                    sink.append(verdict)
                verifier.verify(todo, on_verdict=keep)
        finally:
            if own:
                verifier.close()
    return [have[s.sample_id] for s in samples]


def judged_benchmark(model: str, tasks: Sequence[Task], sample_cfg: SampleConfig, verify_cfg: VerifyConfig,
                     out_dir: Path, quiet: bool = False, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Sample `model` on `tasks`, judge every response, write out_dir/judged.json and return the summary.

    Writes out_dir/samples.jsonl and out_dir/judge_verdicts.jsonl as it goes; a rerun resumes both.
    """
    from codekiln.sample.run import sample_tasks

    out_dir = Path(out_dir)
    samples = sample_tasks(tasks, sample_cfg.model_copy(update={"model": model}), out_dir / "samples.jsonl",
                           quiet=quiet)
    verdicts = judge_verdicts(tasks, samples, verify_cfg, out_dir / "judge_verdicts.jsonl", quiet=quiet)
    summary = summarize_ratings(tasks, verdicts, bootstrap, seed)
    summary.update({"model": model, "judge": verify_cfg.judge.model, "rubric": RUBRIC_VERSION})
    write_json(out_dir / "judged.json", summary)
    return summary



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
