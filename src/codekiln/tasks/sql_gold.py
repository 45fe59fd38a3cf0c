"""A gold query for SQL tasks that have a question and a database but none: self-consistency over sampled queries.

Every sampled query runs in the sandbox on a read-only copy of the task's database (the verifier's harness and
guards); the result sets that come back are grouped by equality as the verifier compares them (same multiset of
rows, numbers within tolerance). The largest group wins when its share of all samples (queries that failed count
in the denominator) reaches `min_agreement` and its result is not empty (an empty result tells wrong queries from
right ones poorly). The task's `reference` becomes the winning group's most frequent query (shortest on a tie), and
`meta` records `gold: sampled`, `trust: low` and the agreement, so users and reports can tell such gold from
a human's. The verifier later runs a sampled reference in the sandbox too (`verify.sql`), never in its own process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from codekiln.records import Task
from codekiln.verify.compare import compare_result_sets
from codekiln.verify.sandbox import Limits, Sandbox
from codekiln.verify.sql import DB_NAME, MIN_ROW_LIMIT, build_database, harness, query_seconds
from codekiln.verify.sql_text import statement_problem

SAMPLED = "sampled"


@dataclass(frozen=True)
class SqlGold:
    """One task's outcome: the task (with a reference when agreement was reached) and how the votes fell."""

    task: Task
    samples: int
    ran: int
    agreeing: int
    groups: int

    @property
    def agreement(self) -> float:
        return self.agreeing / self.samples if self.samples else 0.0

    @property
    def found(self) -> bool:
        return self.task.meta.get("gold") == SAMPLED and bool(self.task.reference)


def run_query(query: str, database: bytes, sandbox: Sandbox, limits: Limits,
              row_limit: int = MIN_ROW_LIMIT) -> list[list[Any]] | None:
    """The rows `query` returns on the database, run in the sandbox; None for anything but one read-only query that
    finished within the limits and the row limit."""
    if statement_problem(query):
        return None
    run = sandbox.run(harness(query, query_seconds(limits.timeout_s), row_limit), files={DB_NAME: database},
                      limits=limits)
    if run.status != "ok" or not run.sent or not isinstance(run.value, dict) or "error" in run.value:
        return None
    if run.value.get("truncated") or not isinstance(run.value.get("rows"), list):
        return None
    return run.value["rows"]


def _group(results: Sequence[tuple[str, list[list[Any]]]]) -> list[list[tuple[str, list[list[Any]]]]]:
    """Queries grouped by equal result sets (as the verifier compares them, order aside)."""
    groups: list[list[tuple[str, list[list[Any]]]]] = []
    for query, rows in results:
        for group in groups:
            if compare_result_sets(group[0][1], rows, ordered=False).equal:
                group.append((query, rows))
                break
        else:
            groups.append([(query, rows)])
    return groups


def self_consistent_gold(task: Task, queries: Sequence[str], sandbox: Sandbox, limits: Limits,
                         min_agreement: float = 0.5) -> SqlGold:
    """The task with the gold query most samples agree on (see the module docstring), or unchanged without one."""
    database = build_database(task)
    results = [(q.strip(), rows) for q in queries if (rows := run_query(q, database, sandbox, limits)) is not None]
    groups = sorted(_group(results), key=len, reverse=True)
    best = groups[0] if groups else []
    outcome = SqlGold(task=task, samples=len(queries), ran=len(results), agreeing=len(best), groups=len(groups))
    if not best or not best[0][1] or outcome.agreement < min_agreement:
        return outcome
    counts = Counter(q for q, _ in best)
    reference = min(counts, key=lambda q: (-counts[q], len(q), q))
    meta = {**task.meta, "gold": SAMPLED, "trust": "low", "agreement": round(outcome.agreement, 4),
            "agreeing_samples": len(best), "samples": len(queries)}
    return replace(outcome, task=replace(task, reference=reference, meta=meta))
