"""Choose the judging protocol on train tasks only: which way of asking the judge agrees with tests, and is order-blind.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/judge_protocol.py --judge qwen2.5-coder-0.5b \\
        --py-tasks 10 --open-tasks 8

Answers: SmolLM2-135M and qwen2.5-coder-0.5b each answer the first `--py-tasks` python-basic *train* tasks and
`--open-tasks` open-basic *train* tasks (n=2 each, T=0.8, the kind's token budget), so each task has four
answers of mixed quality. The sandbox verifies the python answers against their tests: that is the ground
truth the judge is measured against. No test or validation task is read.

Protocols (all with the rubric of one preference, greedy first answer, up to 2 retries, ties allowed; a single
answer's rating is its expectation under the judge's rating probabilities unless `verify.judge.expected_rating` is
off, which `--written-ratings` does):

- `single`: one answer per call (`group_size=1`), no reference;
- `single+ref`: one answer per call with the task's reference answer shown (python tasks have one);
- `group-both`: the task's four answers in one call, in a shuffled order and again in the reverse order,
  ratings averaged (`group_size=4, both_orders=true`);
- `group-both+ref`: the same with the reference shown;
- `pair-both`: two answers of a task per call, both orders (what `codekiln compare` and `eval.select_on=vs-base` do).

Reported per protocol: concordance with the tests on python (share of (passing, failing) answer pairs of a task
the judge orders right; a tie counts half, 50% = chance), the share of those pairs it ties, its own threshold's
accuracy, order agreement (group protocols: share of answer pairs the two orders rank the same way), and on
open-basic (no tests, no reference) the order agreement and the within-task spread of scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from codekiln.config import JudgeConfig, SampleConfig, VerifyConfig
from codekiln.judge.agreement import judge_test_agreement
from codekiln.judge.cache import JudgeCache
from codekiln.judge.run import Judge
from codekiln.records import Sample, Task, Verdict
from codekiln.sample.base import load_sampler
from codekiln.sample.models import resolve_model
from codekiln.sample.run import sample_tasks
from codekiln.tasks import load_tasks
from codekiln.verify import get_verifier
from codekiln.verify.judge import JudgeVerifier

PROTOCOLS = {
    "single": {"group_size": 1, "both_orders": False, "use_reference": False},
    "single+ref": {"group_size": 1, "both_orders": False, "use_reference": True},
    "group-both": {"group_size": 4, "both_orders": True, "use_reference": False},
    "group-both+ref": {"group_size": 4, "both_orders": True, "use_reference": True},
    "pair-both": {"group_size": 2, "both_orders": True, "use_reference": False},
}


def answers(tasks: list[Task], work: Path, tag: str) -> list[Sample]:
    """Two answers from each policy model per task, with distinct sample ids."""
    out: list[Sample] = []
    for model in ("smollm2-135m", "qwen2.5-coder-0.5b"):
        cfg = SampleConfig(model=model, n=2, temperature=0.8)
        got = sample_tasks(tasks, cfg, work / f"{tag}-{model}.jsonl", quiet=True)
        out += [dataclasses.replace(s, sample_id=f"{s.sample_id}@{model}") for s in got]
    order = {t.task_id: i for i, t in enumerate(tasks)}
    return sorted(out, key=lambda s: order[s.task_id])


def order_agreement(verdicts: list[Verdict]) -> float | None:
    values = []
    seen = set()
    for v in verdicts:
        for pref, value in (v.judgement.agreement if v.judgement else {}).items():
            key = (v.task_id, pref, value)
            if value is not None and key not in seen:  # one value per group, repeated on each answer
                seen.add(key)
                values.append(value)
    return sum(values) / len(values) if values else None


def spread(verdicts: list[Verdict]) -> float:
    """Mean over tasks of the standard deviation of the task's answer scores (0 = the judge cannot rank)."""
    by_task: dict[str, list[float]] = {}
    for v in verdicts:
        if v.status != "invalid":
            by_task.setdefault(v.task_id, []).append(v.score)
    sds = [statistics.pstdev(s) for s in by_task.values() if len(s) > 1]
    return sum(sds) / len(sds) if sds else 0.0


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", default="qwen2.5-coder-0.5b")
    ap.add_argument("--py-tasks", type=int, default=10)
    ap.add_argument("--open-tasks", type=int, default=8)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--work", default=None, help="Folder for answers and caches (a rerun reuses both).")
    ap.add_argument("--written-ratings", action="store_true", help="Single answers keep the integer they write.")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="judge-protocol-"))
    work.mkdir(parents=True, exist_ok=True)
    names = args.protocols.split(",")

    py = load_tasks("python-basic:train")[: args.py_tasks]
    open_tasks = load_tasks("open-basic:train")[:: max(1, 75 // max(1, args.open_tasks))][: args.open_tasks]
    t0 = time.perf_counter()
    py_answers = answers(py, work, "py")
    open_answers = answers(open_tasks, work, "open")
    by_id = {t.task_id: t for t in py + open_tasks}
    tester = get_verifier("python", VerifyConfig())
    try:
        tested = tester.verify([(by_id[s.task_id], s) for s in py_answers])
    finally:
        tester.close()
    print(f"answers: {len(py_answers)} on {len(py)} python-basic train tasks ({sum(v.passed for v in tested)} pass "
          f"their tests), {len(open_answers)} on {len(open_tasks)} open-basic train tasks "
          f"({time.perf_counter() - t0:.0f} s)")

    sampler_cfg = JudgeConfig(model=args.judge)
    sampler = load_sampler(resolve_model(args.judge), SampleConfig(model=args.judge,
                                                                   context_size=sampler_cfg.context_size))
    print(f"\n{'protocol':<16} {'py: concord.':>12} {'ties':>5} {'thresh.':>7} {'order agr.':>10} "
          f"{'open: order agr.':>16} {'spread':>6} {'calls':>5} {'s/answer':>8}")
    try:
        for name in names:
            cfg = JudgeConfig(model=args.judge, preferences=["instruction-following"], retries=2,
                              cache_dir=str(work / "cache"), expected_rating=not args.written_ratings,
                              **PROTOCOLS[name])
            judge = Judge(sampler, cfg, JudgeCache(work / f"cache-{name}.sqlite"))
            verifier = JudgeVerifier(VerifyConfig(judge=cfg), judge=judge)
            t1 = time.perf_counter()
            judged_py = verifier.verify([(by_id[s.task_id], s) for s in py_answers])
            agreement = judge_test_agreement(tested, judged_py)
            judged_open: list[Verdict] = []
            if not cfg.use_reference:  # open-basic has no references: the +ref protocols equal their base there
                judged_open = verifier.verify([(by_id[s.task_id], s) for s in open_answers])
            seconds = (time.perf_counter() - t1) / max(1, len(judged_py) + len(judged_open))
            ties = agreement["ties"] / agreement["pairs"] if agreement["pairs"] else None
            print(f"{name:<16} {fmt(agreement['concordance']):>8} /{agreement['pairs']:<3} {fmt(ties):>5} "
                  f"{fmt(agreement['threshold_accuracy']):>7} {fmt(order_agreement(judged_py)):>10} "
                  f"{fmt(order_agreement(judged_open)) if judged_open else '-':>16} "
                  f"{f'{spread(judged_open):.3f}' if judged_open else '-':>6} {judge.calls:>5} {seconds:>8.1f}",
                  flush=True)
            judge.cache.close()
    finally:
        sampler.close()
    print("\nconcordance: share of (passing, failing) answer pairs of a task ranked right by the judge (tie = half; "
          "50% = chance); order agr.: share of answer pairs both presentation orders rank the same way")


if __name__ == "__main__":
    main()
