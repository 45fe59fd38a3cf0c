"""`evaluate_model`: sample + verify + pass@k of a model on tasks, with bootstrap confidence intervals.

Writes `out_dir/samples.jsonl` and `out_dir/verdicts.jsonl` (both streamed and resumable, so an
interrupted evaluation picks up where it stopped) and `out_dir/metrics.json`:
`{"pass@1": ..., "pass@10": ..., "ci": {"pass@1": [lo, hi], ..., "score": [lo, hi]}, counts, "score" (the mean
verdict score over tasks: html's graded relevance and requirements), "rendered" (html: the share of pages that
rendered), "per_task": [...]}`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.config import EvalConfig, SampleConfig, VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Task, Verdict, write_json


@dataclass(frozen=True)
class EvalResult:
    """What `evaluate_model` measured. `metrics` is metrics.json as written: these figures and the settings that
    produced them (model, n, temperature, seeds, the verify config), the status counts and the per-task rows."""

    pass_at: dict[int, float]  # k -> mean over tasks of the unbiased pass@k
    ci: dict[str, list[float]]  # "pass@k" / "score" -> 95% bootstrap interval over tasks
    score: float | None  # mean verdict score over tasks (graded kinds: html relevance); None without verdicts
    tasks: int
    samples: int
    metrics: dict[str, Any]

    @property
    def pass1(self) -> float:
        return self.pass_at[1]


def usable_ks(ks: Sequence[int], n: int) -> list[int]:
    """The k values pass@k can be estimated for with n samples per task (k <= n), sorted, deduplicated."""
    bad = [k for k in ks if k < 1]
    if bad:
        raise UserError(f"k values must be 1 or more, got {bad}")
    return sorted({k for k in ks if k <= n})


def per_task_counts(tasks: Sequence[Task], verdicts: Sequence[Verdict]) -> list[tuple[str, int, int]]:
    """(task_id, samples, passed) for each task, in task order."""
    n: dict[str, int] = defaultdict(int)
    c: dict[str, int] = defaultdict(int)
    for v in verdicts:
        n[v.task_id] += 1
        c[v.task_id] += int(v.passed)
    return [(t.task_id, n[t.task_id], c[t.task_id]) for t in tasks]


def bootstrap_ci(values: Sequence[float], resamples: int, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap CI of the mean over tasks (resampling tasks with replacement)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if len(data) == 0 or resamples <= 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]


def per_task_mean_scores(verdicts: Sequence[Verdict]) -> dict[str, float]:
    """Each task's mean verdict score, in order of first appearance (the graded counterpart of pass@1)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for v in verdicts:
        scores[v.task_id].append(v.score)
    return {t: sum(s) / len(s) for t, s in scores.items()}


def _rendered(verdict: Verdict) -> bool:
    """Whether an html verdict's page rendered."""
    page = verdict.page
    return page is not None and page.rendered


def metrics_from(tasks: Sequence[Task], verdicts: Sequence[Verdict], ks: Sequence[int],
                 bootstrap: int) -> dict[str, Any]:
    """pass@k (mean over tasks of the unbiased estimator), bootstrap CIs, status counts and the per-task table."""
    from codekiln.evaluate.passk import pass_at_k

    rows = per_task_counts(tasks, verdicts)
    n_min = min((n for _, n, _ in rows), default=0)
    ks = usable_ks(ks, n_min) if n_min else []
    per_task = []
    for task_id, n, c in rows:
        entry: dict[str, Any] = {"task_id": task_id, "n": n, "passed": c}
        for k in ks:
            entry[f"pass@{k}"] = float(pass_at_k(n, c, k))
        per_task.append(entry)
    out: dict[str, Any] = {}
    for k in ks:
        values = [e[f"pass@{k}"] for e in per_task]
        out[f"pass@{k}"] = sum(values) / len(values)
    out["ci"] = {f"pass@{k}": bootstrap_ci([e[f"pass@{k}"] for e in per_task], bootstrap) for k in ks}
    out["ci_level"] = 0.95
    out["tasks"] = len(rows)
    out["samples"] = len(verdicts)
    out["passed"] = sum(v.passed for v in verdicts)
    out["tasks_solved"] = sum(1 for _, _, c in rows if c > 0)
    out["status"] = dict(Counter(v.status for v in verdicts))
    task_scores = list(per_task_mean_scores(verdicts).values())
    if task_scores:  # the verifiers' graded score (html: relevance and requirements), mean over tasks
        out["score"] = sum(task_scores) / len(task_scores)
        out["ci"]["score"] = bootstrap_ci(task_scores, bootstrap)
    if any(t.kind == "html" for t in tasks):
        out["rendered"] = sum(_rendered(v) for v in verdicts) / max(1, len(verdicts))
    out["per_task"] = per_task
    return out


def evaluate_model(model: str, tasks: Sequence[Task], cfg: EvalConfig, sample_cfg: SampleConfig,
                   verify_cfg: VerifyConfig, out_dir: Path, quiet: bool = False,
                   examples: Sequence[Task] = ()) -> EvalResult:
    """Sample `cfg.n` programs per task from `model` at `cfg.temperature`, verify them, and compute pass@k.

    `examples` are worked examples for `sample_cfg.shots` (the suite's train split).
    """
    from codekiln.sample.run import sample_tasks
    from codekiln.verify.run import verify_samples

    tasks = list(tasks)[: cfg.limit] if cfg.limit is not None else list(tasks)
    if not tasks:
        raise UserError("no tasks to evaluate")
    ks = usable_ks(cfg.k, cfg.n)
    if not ks:
        raise UserError(f"pass@k needs k <= n: got k={cfg.k} with n={cfg.n}; raise --n or lower --k")
    out_dir = Path(out_dir)
    from codekiln.sample.budget import with_budget

    scfg = with_budget(sample_cfg.model_copy(update={"model": model, "n": cfg.n, "temperature": cfg.temperature}),
                       tasks)
    samples = sample_tasks(tasks, scfg, out_dir / "samples.jsonl", quiet=quiet, examples=examples,
                           stage="eval sampling")
    verdicts = verify_samples(tasks, samples, verify_cfg, out_dir / "verdicts.jsonl", quiet=quiet, stage="eval verify")
    metrics = metrics_from(tasks, verdicts, ks, cfg.bootstrap)
    skipped = sorted(set(cfg.k) - set(ks))
    from codekiln import __version__
    from codekiln.records import dump_line

    tasks_sha = hashlib.sha256("".join(dump_line(t) for t in tasks).encode("utf-8")).hexdigest()
    metrics = {
        **{k: v for k, v in metrics.items() if k.startswith("pass@")},
        "model": model,
        "sampled_by": samples[0].model if samples else model,
        "n": cfg.n,
        "k": ks,
        **({"k_skipped": skipped} if skipped else {}),
        "temperature": cfg.temperature,
        "top_p": scfg.top_p,
        "top_k": scfg.top_k,
        "max_tokens": scfg.max_tokens,
        "shots": scfg.shots,
        "seed": scfg.seed,
        "tokens": sum(int(s.meta.get("tokens", 0)) for s in samples),
        "tasks_sha256": tasks_sha,
        "codekiln_version": __version__,
        "verify": verify_cfg.model_dump(mode="json"),
        **{k: v for k, v in metrics.items() if not k.startswith("pass@")},
    }
    write_json(out_dir / "metrics.json", metrics)
    return EvalResult(pass_at={k: float(metrics[f"pass@{k}"]) for k in ks}, ci=metrics["ci"],
                      score=metrics.get("score"), tasks=metrics["tasks"], samples=metrics["samples"], metrics=metrics)
