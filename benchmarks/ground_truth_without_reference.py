"""Ground truth made from the model's own samples, judged against the real ground truth.

Takes train tasks of a suite, removes their ground truth (sql: the gold query; python: the test and the reference),
makes it again with `codekiln.tasks.ground_truth` (sql: self-consistency over sampled queries; python: model-written
assertions agreed on by sampled solutions), and checks what came out against what was removed:

- sql: coverage (tasks that got a gold query) and precision (the sampled gold's result equals the real gold's, by
  the real verifier), at several agreement thresholds from the same samples (the threshold is chosen here, on
  train tasks);
- python: coverage, whether the agreed-on solution passes the real test, and whether the real reference passes
  the made test (a made test the real reference fails would reject correct programs).

    .venv/bin/python benchmarks/ground_truth_without_reference.py --suite sql-basic --model smollm2-135m --limit 64

The model's samples are kept in `--work` (a rerun reuses them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from contextlib import closing
from pathlib import Path

from codekiln.config import SampleConfig, VerifyConfig
from codekiln.records import Sample, Task
from codekiln.tasks.ground_truth import GroundTruthOptions, make_ground_truth
from codekiln.tasks.load import load_tasks
from codekiln.tasks.sql_gold import self_consistent_gold
from codekiln.verify.python import PythonVerifier
from codekiln.verify.sandbox import Limits, Sandbox
from codekiln.verify.sql import SqlVerifier

THRESHOLDS = (0.25, 0.375, 0.5, 0.625, 0.75)


def passes(verifier: SqlVerifier | PythonVerifier, jobs: list[tuple[Task, str]]) -> list[bool]:
    samples = [(t, Sample(task_id=t.task_id, sample_id=f"{t.task_id}#{i}", completion=c))
               for i, (t, c) in enumerate(jobs)]
    return [v.passed for v in verifier.verify(samples)]


def sql_report(real: dict[str, Task], stripped: list[Task], args: argparse.Namespace) -> dict[str, object]:
    from codekiln.records import read_jsonl

    samples = read_jsonl(args.work / "samples.jsonl", Sample)
    by_task: dict[str, list[str]] = {}
    for s in samples:
        by_task.setdefault(s.task_id, []).append(s.completion)
    rows = []
    with Sandbox(workers=args.workers, preload=("sqlite3",)) as box:
        golds = {t.task_id: self_consistent_gold(t, by_task.get(t.task_id, []), box, Limits(timeout_s=5.0), 0.0)
                 for t in stripped}
    with closing(SqlVerifier(VerifyConfig(workers=args.workers, recheck=[]))) as verifier:
        found = [g for g in golds.values() if g.found]
        right = passes(verifier, [(real[g.task.task_id], g.task.reference or "") for g in found])
        any_right = passes(verifier, [(real[t], q) for t, qs in by_task.items() for q in qs])
    correct = dict(zip([g.task.task_id for g in found], right, strict=True))
    for threshold in THRESHOLDS:
        chosen = [g for g in found if g.agreement >= threshold]
        good = sum(correct[g.task.task_id] for g in chosen)
        rows.append({"min_agreement": threshold, "tasks_with_gold": len(chosen),
                     "coverage": round(len(chosen) / len(stripped), 3),
                     "precision": round(good / len(chosen), 3) if chosen else None})
    return {"sample_pass_rate": round(sum(any_right) / max(1, len(any_right)), 3),
            "median_agreement": round(statistics.median(g.agreement for g in golds.values()), 3),
            "by_threshold": rows}


def python_report(real: dict[str, Task], made: list[Task], stripped: list[Task],
                  args: argparse.Namespace) -> dict[str, object]:
    with closing(PythonVerifier(VerifyConfig(workers=args.workers, recheck=[]))) as verifier:
        agreed_right = passes(verifier, [(real[t.task_id], t.reference or "") for t in made])
        real_ref_passes = passes(verifier, [(t, real[t.task_id].prompt + (real[t.task_id].reference or ""))
                                            for t in made])
    return {"tasks_with_tests": len(made), "coverage": round(len(made) / len(stripped), 3),
            "agreed_solution_passes_real_test": round(sum(agreed_right) / len(made), 3) if made else None,
            "real_reference_passes_made_test": round(sum(real_ref_passes) / len(made), 3) if made else None,
            "false_fail_tasks": [t.task_id for t, ok in zip(made, real_ref_passes, strict=True) if not ok][:10]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="sql-basic", help="sql-basic or python-basic (or a task file).")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=64, help="First N train tasks.")
    parser.add_argument("--n", type=int, default=8, help="Samples (and assertions) per task.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="Default: benchmarks/out/ground_truth/SUITE/MODEL.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ground_truth_without_reference.jsonl"))
    args = parser.parse_args()
    args.work = args.work or Path("benchmarks/out/ground_truth") / args.suite / args.model
    train = [t for t in load_tasks(args.suite) if t.split == "train"][: args.limit]
    real = {t.task_id: t for t in train}
    stripped = [dataclasses.replace(t, reference=None, test=None) for t in train]
    start = time.perf_counter()
    options = GroundTruthOptions(sample=SampleConfig(model=args.model, n=args.n), n=args.n, workers=args.workers)
    made = make_ground_truth(stripped, options, args.work, quiet=False)
    seconds = round(time.perf_counter() - start, 1)
    kind = train[0].kind
    report = sql_report(real, stripped, args) if kind == "sql" else python_report(real, made.tasks, stripped, args)
    line = {"suite": args.suite, "model": args.model, "tasks": len(train), "n": args.n, "seconds": seconds, **report}
    print(json.dumps(line, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
