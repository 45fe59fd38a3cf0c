"""Preference pair builders, by name, and pair statistics.

A builder gets one task's candidates: `good` (passed the quality filters, best first) and `pool` (every
surviving candidate of the task, good and bad, in sample order), and returns (chosen, rejected) pairs, at
most `cfg.pairs_per_task`. A chosen answer always comes from `good`: when a task has no good answer no pair
is invented (unless `reference_as_chosen` put the task's reference in `good`). Pairs whose two programs are
identical after normalisation are never built.

- `correct-vs-incorrect` (CodeLutra): chosen passes, rejected fails. Rejected samples that run but give
  wrong answers come before runtime errors, timeouts and syntax errors (`prefer_runtime_rejected`); the
  pairs walk the (chosen, rejected) grid diagonal by diagonal, so the best of each side are used first and
  a cap spreads over different programs.
- `best-vs-worst` (CodeUltraFeedback): the highest-scored good answer against the lowest-scored candidate,
  then the second against the second lowest..., each sample used once, only while the score gap is positive.
- `margin`: every good-vs-other pair whose score gap exceeds `min_margin`, largest gap first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from codekiln.config import CurateConfig
from codekiln.errors import ConfigError

# Rank of a failing status as a rejected answer: running-but-wrong is the most informative negative.
REJECTED_RANK = {"failed": 0, "runtime_error": 1, "timeout": 2, "memory": 3, "invalid": 4, "syntax_error": 5,
                 "truncated": 6}


@dataclass(frozen=True)
class Candidate:
    """One answer of a task as the pair builders see it."""

    id: str
    code: str
    status: str
    score: float
    key: str  # normalised text: two candidates with the same key are the same program
    order: int = 0  # position in the input samples


Pairing = tuple[Candidate, Candidate]
Builder = Callable[[Sequence[Candidate], Sequence[Candidate], CurateConfig], list[Pairing]]


def _diagonal(nc: int, nr: int) -> Iterator[tuple[int, int]]:
    """(c, r) over an nc x nr grid by anti-diagonals: (0,0), (1,0), (0,1), (2,0), (1,1), ..."""
    for s in range(nc + nr - 1):
        for r in range(max(0, s - nc + 1), min(s, nr - 1) + 1):
            yield s - r, r


def correct_vs_incorrect(good: Sequence[Candidate], pool: Sequence[Candidate], cfg: CurateConfig) -> list[Pairing]:
    chosen = [c for c in good if c.status == "passed"]
    good_ids = {c.id for c in good}
    rejected = [c for c in pool if c.status != "passed" and c.id not in good_ids]
    if cfg.prefer_runtime_rejected:
        rejected.sort(key=lambda c: (REJECTED_RANK.get(c.status, len(REJECTED_RANK)), -c.score, c.order))
    out: list[Pairing] = []
    for ci, ri in _diagonal(len(chosen), len(rejected)):
        if len(out) >= cfg.pairs_per_task:
            break
        if chosen[ci].key != rejected[ri].key:
            out.append((chosen[ci], rejected[ri]))
    return out


def best_vs_worst(good: Sequence[Candidate], pool: Sequence[Candidate], cfg: CurateConfig) -> list[Pairing]:
    best = sorted(good, key=lambda c: (-c.score, c.order))
    worst = sorted(pool, key=lambda c: (c.score, c.status == "passed", c.order))  # failing first on ties
    used: set[str] = set()
    out: list[Pairing] = []
    for c in best:
        if len(out) >= cfg.pairs_per_task:
            break
        if c.id in used:
            continue
        r = next((r for r in worst if r.id not in used and r.id != c.id and r.score < c.score and r.key != c.key), None)
        if r is None:
            break
        used.update((c.id, r.id))
        out.append((c, r))
    return out


def margin(good: Sequence[Candidate], pool: Sequence[Candidate], cfg: CurateConfig) -> list[Pairing]:
    grid = [
        (c, r)
        for c in good
        for r in pool
        if r.id != c.id and r.key != c.key and c.score - r.score > cfg.min_margin
    ]
    grid.sort(key=lambda p: (-(p[0].score - p[1].score), p[0].order, p[1].order))
    return grid[: cfg.pairs_per_task]


PAIR_BUILDERS: dict[str, Builder] = {
    "correct-vs-incorrect": correct_vs_incorrect,
    "best-vs-worst": best_vs_worst,
    "margin": margin,
}


def get_builder(name: str) -> Builder:
    if name not in PAIR_BUILDERS:
        raise ConfigError(f"unknown pair builder {name!r}; choose from {sorted(PAIR_BUILDERS)}")
    return PAIR_BUILDERS[name]


def pair_margin(chosen: Candidate, rejected: Candidate) -> float:
    """The score gap (pass=1 vs fail=0 gives 1.0), never below 0."""
    return max(0.0, chosen.score - rejected.score)


def pair_stats(pairs: Sequence[tuple[str, Candidate, Candidate, float]]) -> dict[str, Any]:
    """count, mean margin, length bias (mean len(chosen)/len(rejected)), duplicate pairs, per-status rejected."""
    seen: set[tuple[str, str, str]] = set()
    duplicates = 0
    ratios = []
    statuses: dict[str, int] = {}
    for task_id, c, r, _ in pairs:
        key = (task_id, c.key, r.key)
        duplicates += key in seen
        seen.add(key)
        ratios.append(len(c.code) / max(1, len(r.code)))
        statuses[r.status] = statuses.get(r.status, 0) + 1
    n = len(pairs)
    return {
        "count": n,
        "tasks": len({p[0] for p in pairs}),
        "mean_margin": round(sum(p[3] for p in pairs) / n, 4) if n else None,
        "length_bias": round(sum(ratios) / n, 4) if n else None,
        "duplicate_pairs": duplicates,
        "rejected_status": dict(sorted(statuses.items())),
    }
