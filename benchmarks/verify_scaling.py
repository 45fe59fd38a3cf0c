"""Verification scaling: the local sandbox pool vs the Ray executor on this machine, and how many CPU workers
keep one vLLM-serving GPU busy.

    nice -n 10 .venv/bin/python benchmarks/verify_scaling.py                  # 1k and 10k programs
    .venv/bin/python benchmarks/verify_scaling.py --sizes 1000 --gpu-tok-s 2500 --tokens 200

Programs are python-basic tasks' reference answers, wrong answers and syntax errors (a third each, cycled to
the size), checked with `verify.workers` sandbox processes (2: this machine's cores). The local executor runs
one verifier; the Ray executor runs a local Ray cluster with the same CPUs, so it has one actor with the same
2 sandbox processes: the difference is Ray's cost (sharding, shipping tasks and verdicts, actor start). The
cluster's start (a once-per-stage cost on a laptop, zero on a long-lived cluster) is timed separately.
Anchor (issue 11): Ray's overhead under 20% at 10k programs.

The GPU estimate: one GPU serving vLLM generates G tokens/s over all its sequences (--gpu-tok-s; this machine
has no GPU, so G is an input, not a measurement), i.e. G / T programs/s for T tokens a program (--tokens). A
verify worker (one sandbox process, one CPU) checks 1 / c programs/s, c being the measured CPU-seconds a
program costs here. Workers to keep up: (G / T) * c.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task
from codekiln.tasks.load import load_tasks
from codekiln.verify.run import verify_samples

OVERHEAD_TARGET = 0.20


def programs(tasks: list[Task], size: int) -> list[Sample]:
    variants = [lambda t: t.reference or "", lambda t: "    return None\n", lambda t: "def broken(:\n"]
    out = []
    for i in range(size):
        task = tasks[(i // 3) % len(tasks)]
        out.append(Sample(task_id=task.task_id, completion=variants[i % 3](task), sample_id=f"p{i}"))
    return out


def timed(tasks: list[Task], samples: list[Sample], cfg: VerifyConfig, executor: str, folder: Path) -> float:
    out = folder / f"{executor}-{len(samples)}.jsonl"
    start = time.perf_counter()
    verdicts = verify_samples(tasks, samples, cfg, out=out, quiet=True, executor=executor)
    seconds = time.perf_counter() - start
    assert len(verdicts) == len(samples)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gpu-tok-s", type=float, nargs="+", default=[2500.0, 20000.0],
                        help="Tokens/s one vLLM GPU generates over its batch (inputs, no GPU here; defaults: a "
                             "7B model and a ~1B model on one A100-class GPU).")
    parser.add_argument("--tokens", type=float, default=200.0, help="Tokens generated per program.")
    args = parser.parse_args()

    import ray

    tasks = [t for t in load_tasks("python-basic") if t.reference]
    cfg = VerifyConfig(workers=args.workers)
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    startup = time.perf_counter() - start
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            samples = programs(tasks, size)
            local = timed(tasks, samples, cfg, "local", Path(tmp))
            remote = timed(tasks, samples, cfg, "ray", Path(tmp))
            rows.append((size, local, remote))
    ray.shutdown()

    print(f"verify.workers={args.workers}; Ray local cluster start: {startup:.1f} s (once, not in the figures)")
    print(f"{'programs':>9} {'local s':>9} {'local p/s':>10} {'ray s':>9} {'ray p/s':>9} {'ray/local':>10} "
          f"{'overhead':>9}  anchor")
    for size, local, remote in rows:
        overhead = remote / local - 1
        verdict = "ok" if overhead < OVERHEAD_TARGET else "OVER"
        print(f"{size:>9} {local:>9.1f} {size / local:>10.1f} {remote:>9.1f} {size / remote:>9.1f} "
              f"{remote / local:>10.3f} {overhead:>+9.1%}  < {OVERHEAD_TARGET:.0%} ({verdict})")

    size, local, _ = rows[-1]
    cpu_s = local * args.workers / size  # CPU-seconds per program: wall time times busy sandbox processes
    print()
    print("Worked estimate: CPU verify workers per vLLM GPU")
    print(f"  measured here: {cpu_s * 1000:.1f} ms of one CPU per program ({size} programs, {args.workers} workers"
          f" in {local:.1f} s) -> {1 / cpu_s:.1f} programs/s per worker")
    for tok_s in args.gpu_tok_s:
        gpu_programs = tok_s / args.tokens
        workers = gpu_programs * cpu_s
        print(f"  GPU at {tok_s:.0f} tok/s (input) / {args.tokens:.0f} tok per program = {gpu_programs:.1f} programs/s; "
              f"x {cpu_s:.4f} CPU-s = {workers:.2f} -> {int(-(-workers // 1))} CPU worker(s) keep it busy")


if __name__ == "__main__":
    main()
