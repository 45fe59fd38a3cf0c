"""Synthesized tests vs the real ones, on python-basic with its tests removed (the references kept).

For the train tasks a real round sampled (`--run`: a finished `codekiln run tasks=python-basic` folder; its
round-1 samples and their real verdicts), tests are made with `codekiln.tasks.synth_tests` (with or without a model
proposing calls), then judged against the real tests:

- on the model's own samples: agreement of verdicts, false passes (a program the real tests fail passes the
  synthesized ones) and false fails (a program the real tests pass fails them);
- on mutants of each reference (up to `--mutants` per task): of the mutants the real tests reject, the share the
  synthesized tests also reject (the issue's goal: at least 90%), and the synthesized tests' own mutation score.

    .venv/bin/python benchmarks/test_synthesis.py --run runs/NAME [--model smollm2-135m|qwen2.5-coder-0.5b|none]

`--task-file OUT` instead writes python-basic for a loop run on synthesized tests: every train task whose test
survives (its test synthesized, real test dropped) and the test split with its real tests (what the run reports).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

from codekiln.config import SampleConfig, VerifyConfig
from codekiln.records import Sample, Task, Verdict, read_jsonl
from codekiln.tasks.ground_truth import GroundTruthOptions, make_ground_truth
from codekiln.tasks.load import load_tasks
from codekiln.tasks.mutants import mutants
from codekiln.tasks.synth_tests import Synthesized
from codekiln.verify.python import PythonVerifier


def verdicts(tasks: dict[str, Task], samples: list[Sample], workers: int) -> list[Verdict]:
    verifier = PythonVerifier(VerifyConfig(workers=workers, recheck=[], rerun_margin=0.0))
    try:
        return verifier.verify([(tasks[s.task_id], s) for s in samples])
    finally:
        verifier.close()


def synthesize(tasks: list[Task], args: argparse.Namespace, work: Path) -> tuple[list[Task], dict[str, Synthesized]]:
    """The kept tasks and every task's Synthesized outcome, as `codekiln tasks synthesize-tests` makes them."""
    sample = SampleConfig(model=args.model) if args.model != "none" else None
    made = make_ground_truth(tasks, GroundTruthOptions(sample=sample, n=8, workers=args.workers,
                                                       min_mutation_score=args.min_mutation_score), work, quiet=True)
    return made.tasks, {r.task.task_id: r for r in made.python}


def write_task_file(args: argparse.Namespace) -> None:
    from codekiln.records import write_jsonl

    train = [dataclasses.replace(t, test=None) for t in load_tasks("python-basic:train")]
    kept, _ = synthesize(train, args, args.task_file.with_name(args.task_file.name + ".work"))
    write_jsonl(args.task_file, kept + load_tasks("python-basic:test"))
    print(f"{len(kept)} of {len(train)} train tasks kept with synthesized tests; wrote {args.task_file}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="A finished python-basic run folder.")
    parser.add_argument("--model", default="none", help="Model proposing calls, or none.")
    parser.add_argument("--mutants", type=int, default=20, help="Mutants per reference for the comparison.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-mutation-score", type=float, default=0.8)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/test_synthesis"),
                        help="Where the model's proposals are kept (a rerun reuses them).")
    parser.add_argument("--task-file", type=Path, default=None,
                        help="Write synthesized train tasks + the real test split here, then stop.")
    args = parser.parse_args()
    if args.task_file is not None:
        write_task_file(args)
        return

    samples = read_jsonl(args.run / "round-1" / "samples.jsonl", Sample)
    real_verdicts = {(v.task_id, v.sample_id): v for v in read_jsonl(args.run / "round-1" / "verdicts.jsonl", Verdict)}
    real = {t.task_id: t for t in load_tasks("python-basic")}
    ids = sorted({s.task_id for s in samples})
    stripped = [dataclasses.replace(real[i], test=None) for i in ids]
    start = time.perf_counter()
    made, outcomes = synthesize(stripped, args, args.work / args.model)
    made_s = time.perf_counter() - start
    results = list(outcomes.values())
    kept = {t.task_id: outcomes[t.task_id] for t in made}
    synth = {t.task_id: t for t in made}

    # 1. The round's own samples, judged by both test sets.
    mine = [s for s in samples if s.task_id in synth]
    by_synth = verdicts(synth, mine, args.workers)
    pairs = [(real_verdicts[(s.task_id, s.sample_id)].passed, v.passed) for s, v in zip(mine, by_synth, strict=True)]
    agree = sum(a == b for a, b in pairs)
    false_pass = sum(b and not a for a, b in pairs)
    false_fail = sum(a and not b for a, b in pairs)
    real_fail, real_pass = sum(not a for a, _ in pairs), sum(a for a, _ in pairs)

    # 2. Mutants of each reference: rejected by the real tests, and by the synthesized ones.
    jobs = []
    for task_id in synth:
        task = real[task_id]
        for j, m in enumerate(mutants(task.prompt + (task.reference or ""), limit=args.mutants)):
            jobs.append(Sample(task_id=task_id, sample_id=f"{task_id}#m{j}", completion=m))
    by_real = verdicts(real, jobs, args.workers)
    by_syn = verdicts(synth, jobs, args.workers)
    real_rejects = [(r, s) for r, s in zip(by_real, by_syn, strict=True) if not r.passed]
    caught = sum(not s.passed for _, s in real_rejects)
    extra = sum(r.passed and not s.passed for r, s in zip(by_real, by_syn, strict=True))
    scores = [r.mutation_score for r in results if r.mutation_score is not None]

    summary = {
        "model": args.model, "tasks": len(ids), "kept": len(kept), "seconds": round(made_s, 1),
        "cases_median": statistics.median(len(r.cases) for r in kept.values()) if kept else 0,
        "mutation_score_median": round(statistics.median(scores), 3) if scores else None,
        "graded": len(scores),
        "samples": len(pairs), "agreement": round(agree / len(pairs), 4) if pairs else None,
        "false_pass": f"{false_pass}/{real_fail}", "false_fail": f"{false_fail}/{real_pass}",
        "mutants": len(jobs), "real_rejects": len(real_rejects),
        "also_rejected_by_synthesized": round(caught / len(real_rejects), 4) if real_rejects else None,
        "rejected_only_by_synthesized": extra,
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
