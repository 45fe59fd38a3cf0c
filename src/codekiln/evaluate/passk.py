"""pass@k: the unbiased estimator of the Codex paper (Chen et al. 2021), and a table over verdicts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from codekiln.records import Verdict


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct.

    Computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms the huge binomials of C(n-c, k)/C(n, k).
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def default_ks(n_min: int) -> list[int]:
    """k = 1 and every k up to the samples per task (the usual ladder 1, 2, 5, 10, 20, 50, ... past 10)."""
    if n_min <= 10:
        return list(range(1, n_min + 1))
    ladder = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= n_min]
    return sorted(set(ladder) | {n_min})


def pass_at_k_table(verdicts: Iterable[Verdict], ks: Sequence[int] = (1,)) -> dict[str, Any]:
    """pass@k averaged over tasks for each k (k larger than a task's sample count is left out), with counts.

    Returns {"pass@1": fraction, ..., "tasks": T, "samples": N, "passed": C, "tasks_solved": S,
    "n_min": fewest samples of a task, "per_task": {task_id: {"n": n, "c": c}}, "status": {status: count}}.
    """
    n: dict[str, int] = defaultdict(int)
    c: dict[str, int] = defaultdict(int)
    status: Counter[str] = Counter()
    for v in verdicts:
        n[v.task_id] += 1
        c[v.task_id] += int(v.passed)
        status[v.status] += 1
    table: dict[str, Any] = {}
    n_min = min(n.values()) if n else 0
    for k in sorted(set(ks)):
        if n and 1 <= k <= n_min:
            table[f"pass@{k}"] = sum(pass_at_k(n[t], c[t], k) for t in n) / len(n)
    table.update(tasks=len(n), samples=sum(n.values()), passed=sum(c.values()),
                 tasks_solved=sum(1 for t in n if c[t] > 0), n_min=n_min,
                 per_task={t: {"n": n[t], "c": c[t]} for t in n}, status=dict(status))
    return table
