"""Figures of a run, read back from its folder: per round the data funnel, pass@k with bootstrap CIs over tasks
on validation (decides), test and the extra sets (report), the verdict status mix, and the training curves. The
closing console table and the HTML report both use these.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codekiln.records import Verdict, read_jsonl_resumable


@dataclass(frozen=True)
class PassK:
    """pass@k as a fraction of tasks, with a 95% bootstrap interval over tasks."""

    k: int
    value: float
    low: float
    high: float
    tasks: int


@dataclass(frozen=True)
class SetStats:
    """One model's evaluation on one task set."""

    passk: list[PassK]
    status: dict[str, int]
    per_task: dict[str, float]
    """pass@1 of each task (for paired comparisons between models)."""
    score: PassK | None = None
    """The mean verdict score over tasks with its interval, when the scores are graded (html), else None."""

    def pass1(self) -> PassK | None:
        return next((p for p in self.passk if p.k == 1), None)


@dataclass
class RoundStats:
    round: int
    samples: int = 0
    passed: int = 0
    pairs: int = 0
    sft_rows: int = 0
    funnel: dict[str, Any] = field(default_factory=dict)
    train_passk: list[PassK] = field(default_factory=list)
    test_passk: list[PassK] = field(default_factory=list)
    train_status: dict[str, int] = field(default_factory=dict)
    test_status: dict[str, int] = field(default_factory=dict)
    test_per_task: dict[str, float] = field(default_factory=dict)
    """Held-out pass@1 of each task (for paired comparisons between rounds)."""
    test_score: PassK | None = None
    """Mean graded score on the test split (html), with its interval."""
    train_scores: list[float] = field(default_factory=list)
    """The graded score of each of the round's train samples (html), for the distribution in the report."""
    val: SetStats | None = None
    """The round's model on the validation split (the split every decision reads)."""
    val_vs_base: PassK | None = None
    """Judged beside the base model's answers, both orders: mean rating difference on validation (open tasks)."""
    test_vs_base: PassK | None = None
    """The same on the test split (the final round only; reported)."""
    extra: dict[str, SetStats] = field(default_factory=dict)
    """The round's model on each extra task set it was evaluated on (base and final only), by set name."""
    loss: float | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    trained: bool = False
    online: bool = False
    """Trained online (grpo/rloo) on its train tasks: no samples, verdicts or curated data of its own."""
    mean_reward: float | None = None
    """Online rounds: the mean reward of the answers generated during training (pass rate for tested kinds)."""

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.samples if self.samples else None

    def test_pass1(self) -> PassK | None:
        return next((p for p in self.test_passk if p.k == 1), None)

    def val_pass1(self) -> PassK | None:
        return self.val.pass1() if self.val else None

    def val_metric(self, metric: str) -> PassK | None:
        """The validation figure named by the run's selection metric (`pass@1`, `score` or `vs-base`)."""
        if metric == "vs-base":
            if self.round == 0:  # the base model against itself
                return PassK(0, 0.0, 0.0, 0.0, self.val.pass1().tasks if self.val and self.val.pass1() else 0)
            return self.val_vs_base
        if metric == "score" and self.val is not None and self.val.score is not None:
            return self.val.score
        return self.val_pass1()


def bootstrap_ci(values: Sequence[float], resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean over tasks (the same estimate `evaluate_model` writes)."""
    from codekiln.evaluate.run import bootstrap_ci as evaluate_ci

    if len(values) == 1 or (resamples <= 0 and len(values)):
        mean = float(np.mean(values))
        return (mean, mean)
    low, high = evaluate_ci(values, resamples, seed)
    return (low, high)


def passk_with_ci(verdicts: Sequence[Verdict], ks: Sequence[int], resamples: int = 1000,
                  seed: int = 0) -> list[PassK]:
    """pass@k for each k no larger than the fewest samples any task has, with bootstrap CIs over tasks."""
    from codekiln.evaluate.passk import pass_at_k

    per_task: dict[str, list[bool]] = defaultdict(list)
    for v in verdicts:
        per_task[v.task_id].append(v.passed)
    if not per_task:
        return []
    fewest = min(len(x) for x in per_task.values())
    out = []
    for k in sorted(set(ks)):
        if k > fewest:
            continue
        values = [pass_at_k(len(x), sum(x), k) for x in per_task.values()]
        low, high = bootstrap_ci(values, resamples, seed)
        out.append(PassK(k, float(np.mean(values)), low, high, len(values)))
    return out


def read_train_log(path: Path) -> list[dict[str, Any]]:
    """The trainer's log lines (one JSON object each); a missing file is an empty log."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def last_loss(log: Sequence[dict[str, Any]]) -> float | None:
    for row in reversed(log):
        if isinstance(row.get("loss"), int | float):
            return float(row["loss"])
    return None


def _ks(n: int) -> list[int]:
    return sorted({1, *[k for k in (2, 4, 5, 8, 10, 16, 32, 64, 100) if k <= n], n}) if n else [1]


def round_stats(round_dir: Path, resamples: int = 1000, seed: int = 0) -> RoundStats:
    """Everything the table and the report show for one round folder (missing parts are left empty)."""
    r = int(round_dir.name.split("-")[-1])
    stats = RoundStats(round=r)
    train_verdicts = read_jsonl_resumable(round_dir / "verdicts.jsonl", Verdict)
    if train_verdicts:
        stats.samples = len(train_verdicts)
        stats.passed = sum(v.passed for v in train_verdicts)
        stats.train_status = dict(Counter(v.status for v in train_verdicts))
        per_task = Counter(v.task_id for v in train_verdicts)
        stats.train_passk = passk_with_ci(train_verdicts, _ks(min(per_task.values())), resamples, seed)
        if graded(train_verdicts):
            stats.train_scores = [v.score for v in train_verdicts]
    funnel_path = round_dir / "curated" / "funnel.json"
    if funnel_path.exists():
        stats.funnel = json.loads(funnel_path.read_text(encoding="utf-8"))
    stats.pairs = _count_lines(round_dir / "curated" / "pairs.jsonl")
    stats.sft_rows = _count_lines(round_dir / "curated" / "sft.jsonl")
    stats.log = read_train_log(round_dir / "model" / "train_log.jsonl")
    stats.loss = last_loss(stats.log)
    stats.trained = (round_dir / "model" / "codekiln-model.json").exists()
    stats.online = (round_dir / "train_tasks.jsonl").exists()
    rewards = [float(row["reward"]) for row in stats.log if isinstance(row.get("reward"), int | float)]
    stats.mean_reward = sum(rewards) / len(rewards) if rewards else None
    test = set_stats(round_dir / "eval", resamples, seed)
    if test is not None:
        stats.test_status, stats.test_passk, stats.test_per_task = test.status, test.passk, test.per_task
        stats.test_score = test.score
    stats.val = set_stats(round_dir / "val", resamples, seed)
    stats.val_vs_base = versus_base(round_dir / "val")
    stats.test_vs_base = versus_base(round_dir / "eval")
    extra_root = round_dir / "extra"
    for folder in sorted(extra_root.iterdir()) if extra_root.is_dir() else []:
        extra = set_stats(folder, resamples, seed)
        if extra is not None:
            stats.extra[folder.name] = extra
    return stats


def set_stats(folder: Path, resamples: int = 1000, seed: int = 0) -> SetStats | None:
    """The figures of an evaluation folder (its verdicts.jsonl); None when it holds none."""
    verdicts = read_jsonl_resumable(folder / "verdicts.jsonl", Verdict)
    if not verdicts:
        return None
    per_task = Counter(v.task_id for v in verdicts)
    return SetStats(passk_with_ci(verdicts, _ks(min(per_task.values())), resamples, seed),
                    dict(Counter(v.status for v in verdicts)), per_task_pass1(verdicts),
                    mean_score(verdicts, resamples, seed) if graded(verdicts) else None)


def versus_base(folder: Path) -> PassK | None:
    """An evaluation folder's judged comparison with the base model (`judge.compare`): difference and interval."""
    path = folder / "versus_base.json"
    if not path.exists():
        return None
    overall = json.loads(path.read_text(encoding="utf-8"))["overall"]
    if not overall.get("tasks"):
        return None
    low, high = overall["ci95"] or (overall["difference"], overall["difference"])
    return PassK(0, overall["difference"], low, high, overall["tasks"])


def graded(verdicts: Sequence[Verdict]) -> bool:
    """Whether the verdicts carry graded scores (some strictly between 0 and 1), as html's do."""
    return any(0.0 < v.score < 1.0 for v in verdicts)


def mean_score(verdicts: Sequence[Verdict], resamples: int = 1000, seed: int = 0) -> PassK:
    """The mean over tasks of each task's mean verdict score, with a 95% bootstrap interval over tasks."""
    from codekiln.evaluate.run import per_task_mean_scores

    values = list(per_task_mean_scores(verdicts).values())
    low, high = bootstrap_ci(values, resamples, seed)
    return PassK(0, sum(values) / len(values), low, high, len(values))


def per_task_pass1(verdicts: Sequence[Verdict]) -> dict[str, float]:
    """The fraction of each task's samples that passed (its pass@1)."""
    runs: dict[str, list[bool]] = defaultdict(list)
    for v in verdicts:
        runs[v.task_id].append(v.passed)
    return {task_id: sum(x) / len(x) for task_id, x in runs.items()}


@dataclass(frozen=True)
class Gain:
    """A change of held-out pass@1 between two rounds on the same tasks, with a paired 95% bootstrap interval."""

    value: float
    low: float
    high: float
    tasks: int
    better: int
    """Tasks whose pass@1 went up."""
    worse: int
    """Tasks whose pass@1 went down."""

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero (the change is larger than task-sampling noise)."""
        return self.low > 0 or self.high < 0


def paired_gain(before: RoundStats, after: RoundStats, resamples: int = 1000, seed: int = 0) -> Gain | None:
    """Test pass@1 of `after` minus `before`, resampling tasks with both rounds' results kept together.

    Both rounds see the same tasks, so most of the task-to-task spread cancels in the difference: this interval
    is narrower than either round's own, and it is the one that says whether the change is real."""
    return paired_diff(before.test_per_task, after.test_per_task, resamples, seed)


def extra_gain(before: RoundStats, after: RoundStats, name: str, resamples: int = 1000, seed: int = 0) -> Gain | None:
    """`paired_gain` on the extra task set `name` (None unless both rounds were evaluated on it)."""
    if name not in before.extra or name not in after.extra:
        return None
    return paired_diff(before.extra[name].per_task, after.extra[name].per_task, resamples, seed)


def paired_diff(before: Mapping[str, float], after: Mapping[str, float], resamples: int = 1000,
                seed: int = 0) -> Gain | None:
    """Mean per-task change from `before` to `after` over their common tasks, with a paired bootstrap interval."""
    common = sorted(set(before) & set(after))
    if not common:
        return None
    diffs = [after[t] - before[t] for t in common]
    low, high = bootstrap_ci(diffs, resamples, seed)
    return Gain(float(np.mean(diffs)), low, high, len(common), sum(d > 0 for d in diffs), sum(d < 0 for d in diffs))


def run_stats(root: Path, resamples: int = 1000, seed: int = 0) -> list[RoundStats]:
    dirs = sorted(root.glob("round-*"), key=lambda p: int(p.name.split("-")[-1]))
    return [round_stats(d, resamples, seed) for d in dirs if d.name.split("-")[-1].isdigit()]


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def metric_label(metric: str) -> str:
    """How a selection metric reads in a sentence."""
    return {"score": "mean score", "vs-base": "judged difference from the base (rating points, both orders)"}.get(
        metric, metric)


# Advice read from validation, the split that decides (the test figures below it only report).
def no_round_beat_base(metric: str = "pass@1") -> str:
    return (f"no trained round beat the base model on validation {metric_label(metric)}: keep using the base model, "
            "or change the settings and judge them on validation")


def beats_base_on_val(base: RoundStats, final: RoundStats, metric: str = "pass@1") -> bool:
    """Whether the chosen round's validation figure is above the base model's (unknown counts as above)."""
    chosen, start = final.val_metric(metric), base.val_metric(metric)
    return chosen is None or start is None or chosen.value > start.value
