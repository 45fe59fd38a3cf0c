"""Sampling speed and the baseline pass@k that self-improvement must beat.

Sections (each prints its figures side by side with its anchor, and the ratio):
  llama     codekiln's sample stage (batched llama.cpp decoding) vs plain llama-cpp-python (`create_completion`
            per sample, prompts kept by its prefix cache), same Q8_0 file, tasks, n, seeds, temperature and token
            limit, one process per core each side, interleaved runs: generated tokens per wall-second (target:
            2x), samples per CPU-minute at n = 1, 4, 16, peak resident memory of each side's largest process.
  steps     one llama_decode of k = 1..32 sequences: milliseconds per call and per token (what batching can buy).
  hf        transformers: codekiln's batched generation vs single-stream, same model and requests.
  baseline  pass@1 (greedy) and pass@10 (n=10, T=0.8) of a model on HumanEval and each built-in suite
            (through `evaluate_model`: sample + sandboxed verification), on the first --limit tasks.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sample_throughput.py --section llama
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/sample_throughput.py --section all --limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from codekiln.config import EvalConfig, SampleConfig, VerifyConfig  # noqa: E402
from codekiln.sample.base import GenParams, Request, load_sampler  # noqa: E402
from codekiln.sample.budget import with_budget  # noqa: E402
from codekiln.sample.generate import build_request  # noqa: E402
from codekiln.sample.models import resolve_model  # noqa: E402
from codekiln.sample.run import sample_tasks  # noqa: E402
from codekiln.sample.seeds import sample_seed  # noqa: E402
from codekiln.tasks import load_tasks  # noqa: E402


def requests_for(tasks, n: int, cfg: SampleConfig) -> list[Request]:
    return [build_request(t, sample_seed(0, t.task_id, 0, i), cfg, (), True) for t in tasks for i in range(n)]


def _child_run(side: str, model: str, n: int, tasks: int, workers: int) -> dict:
    """One side's sampling job (run in its own process, so its peak memory is its own): `tasks` python-basic
    train tasks x n samples, T=0.8, top-p 0.95, top-k 40, the python budget (384 tokens), stop at the fence."""
    import multiprocessing

    cfg = with_budget(SampleConfig(model=model, n=n, workers=workers), [])
    chosen = load_tasks("python-basic", split="train")[:tasks]
    cfg = with_budget(cfg, chosen)
    start = time.monotonic()
    if side == "codekiln":
        with tempfile.TemporaryDirectory() as tmp:
            samples = sample_tasks(chosen, cfg, Path(tmp) / "samples.jsonl", quiet=True)
        tokens = sum(s.meta["tokens"] for s in samples)
    else:  # plain llama-cpp-python: create_completion per sample, one process per core, same prompts and seeds
        sampler = load_sampler(resolve_model(model), cfg.model_copy(update={"batch_size": 1}))
        jobs = [[] for _ in range(workers)]
        for k, task in enumerate(chosen):  # a task's samples back to back: llama.cpp's prefix cache keeps its prompt
            for i in range(n):
                r = build_request(task, sample_seed(cfg.seed, task.task_id, 0, i), cfg, (), True)
                jobs[k % workers].append((sampler.tokens(sampler.render(r.messages, r.prefill)), r.seed, list(r.stop)))
        path = str(sampler.llm.model_path)
        sampler.close()
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            tokens = sum(pool.map(_plain_worker, [(path, cfg.context_size, job, cfg.max_tokens) for job in jobs]))
    return {"tokens": tokens, "samples": tasks * n, "wall_s": time.monotonic() - start}


def _plain_worker(args: tuple) -> int:
    from llama_cpp import Llama

    path, context, jobs, max_tokens = args
    llm = Llama(model_path=path, n_ctx=context, n_threads=1, n_threads_batch=1, n_batch=512, verbose=False)
    tokens = 0
    for prompt, seed, stop in jobs:
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.8, top_p=0.95, top_k=40, min_p=0.0,
                                    repeat_penalty=1.0, seed=seed, stop=stop)
        tokens += out["usage"]["completion_tokens"]
    llm.close()
    return tokens


def _timed_child(side: str, model: str, n: int, tasks: int, workers: int) -> dict:
    """Run `_child_run` in a fresh process; its result with the peak resident memory of its largest process."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, __file__, "--child", side, "--model", model, "--n", str(n),
                             "--tasks", str(tasks), "--workers", str(workers)], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{side} child failed (status {status})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def bench_llama(model: str, ns: list[int], samples: int, workers: int, repeats: int) -> dict:
    """codekiln's sample stage vs plain llama-cpp-python, one process per core each, interleaved A B B A ...:
    generated tokens per wall-second and samples per CPU-minute at each n (about `samples` samples per run)."""
    out = {}
    for n in ns:
        tasks = max(1, samples // n)
        runs: dict[str, list[dict]] = {"codekiln": [], "plain": []}
        for r in range(repeats):
            for side in (("codekiln", "plain") if r % 2 == 0 else ("plain", "codekiln")):
                runs[side].append(_timed_child(side, model, n, tasks, workers))
                x = runs[side][-1]
                print(f"  n={n:2d} {side:8s} {x['tokens']:6d} tokens {x['wall_s']:6.1f} s "
                      f"{x['tokens'] / x['wall_s']:6.1f} tok/s  peak {x['peak_rss_mb']:.0f} MB", flush=True)
        ratios = [c["tokens"] / c["wall_s"] / (p["tokens"] / p["wall_s"])
                  for c, p in zip(runs["codekiln"], runs["plain"], strict=True)]
        out[n] = {"tasks": tasks, "runs": runs, "ratios": ratios,
                  "samples_per_cpu_min": {side: [60 * x["samples"] / (x["wall_s"] * workers) for x in xs]
                                          for side, xs in runs.items()}}
    return out


def bench_steps(model: str, ks: list[int], position: int = 200, reps: int = 20) -> dict:
    """CPU milliseconds of one `llama_decode` of k sequences (one token each, every sequence `position` tokens into
    its own KV stream): what batching can buy on this CPU, whatever the sampler around it."""
    cfg = with_budget(SampleConfig(model=model, batch_size=max(ks)), [])
    sampler = load_sampler(resolve_model(model), cfg)
    decoder = sampler._decoder_for(position + reps + 1)
    out = {}
    for k in ks:
        for seq in range(k):  # the same filler tokens in every stream, one batch each
            for start in range(0, position, decoder.n_batch):
                decoder._decode([(100 + j % 500, j, seq) for j in range(start, min(position, start + decoder.n_batch))],
                                logits=False)
        start = time.process_time()
        for r in range(reps):
            decoder._decode([(200 + r, position + r, seq) for seq in range(k)], logits=True)
        ms = 1000 * (time.process_time() - start) / reps
        out[k] = {"ms_per_call": ms, "ms_per_token": ms / k}
        import llama_cpp

        llama_cpp.llama_memory_clear(decoder.memory, True)
        decoder._cached = None
    sampler.close()
    return out


def bench_hf(model: str, tasks, n: int, max_tokens: int, batch: int) -> dict:
    cfg = SampleConfig(model=model, backend="transformers", max_tokens=max_tokens, batch_size=batch)
    sampler = load_sampler(resolve_model(model), cfg)
    requests = requests_for(tasks, n, cfg)
    params = GenParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens, top_k=cfg.top_k)
    out = {}
    for label, size in (("batched", batch), ("single", 1)):
        sampler.batch_size = size
        start = time.process_time()  # CPU seconds (see bench_llama)
        gens = sampler.generate(requests, params)
        seconds = time.process_time() - start
        out[label] = {"tokens": sum(g.n_tokens for g in gens), "seconds": seconds,
                      "tok_s": sum(g.n_tokens for g in gens) / seconds, "samples_per_min": 60 * len(gens) / seconds}
    sampler.close()
    out["speedup"] = out["batched"]["samples_per_min"] / out["single"]["samples_per_min"]
    out["batch_size"] = batch
    return out


def bench_baseline(model: str, suites: list[str], limit: int, n: int, workdir: Path) -> dict:
    from codekiln.evaluate.run import evaluate_model
    from codekiln.tasks.suites import SUITES

    results = {}
    for spec in suites:
        name = spec.partition(":")[0]
        if name not in SUITES:
            results[spec] = {"skipped": "suite not available in this installation"}
            continue
        tasks = load_tasks(spec if ":" in spec else name, split=None if ":" in spec else "test")[:limit]
        scfg = SampleConfig(model=model)
        greedy = evaluate_model(model, tasks, EvalConfig(n=1, k=[1], temperature=0.0), scfg, VerifyConfig(),
                                workdir / f"{name}-greedy", quiet=True)
        sampled = evaluate_model(model, tasks, EvalConfig(n=n, k=[1, n], temperature=0.8), scfg, VerifyConfig(),
                                 workdir / f"{name}-n{n}", quiet=True)
        results[spec] = {"tasks": len(tasks), "pass@1 (greedy)": greedy["pass@1"], "ci": greedy["ci"]["pass@1"],
                         "pass@1 (T=0.8)": sampled["pass@1"], f"pass@{n} (T=0.8)": sampled[f"pass@{n}"],
                         f"ci@{n}": sampled["ci"][f"pass@{n}"], "tokens": greedy["tokens"] + sampled["tokens"]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", choices=["llama", "steps", "hf", "baseline", "all"], default="all")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=20, help="Tasks per suite for the baseline.")
    parser.add_argument("--suites", default="humaneval,python-basic,sql-basic")
    parser.add_argument("--out", default="benchmarks/results/sample_throughput.json")
    parser.add_argument("--workdir", default=None, help="Keep the baseline's samples/verdicts here (resumable).")
    parser.add_argument("--ns", default="1,4,16", help="llama: samples per task to compare at.")
    parser.add_argument("--samples", type=int, default=64, help="llama: samples per run (tasks = samples / n).")
    parser.add_argument("--workers", type=int, default=2, help="llama: processes on each side.")
    parser.add_argument("--repeat", type=int, default=2, help="llama: runs per side, interleaved.")
    parser.add_argument("--child", choices=["codekiln", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child_run(args.child, args.model, args.n, args.tasks, args.workers)))
        return

    humaneval = load_tasks("humaneval")
    report: dict = {"model": args.model, "command": "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python "
                    f"benchmarks/sample_throughput.py --section {args.section} --limit {args.limit}"}
    if args.section in ("llama", "all"):
        print(f"\nllama.cpp sampling, {args.model}, python-basic train tasks, {args.workers} processes each side, "
              "T=0.8, <=384 tokens, stop at the fence")
        r = bench_llama(args.model, [int(x) for x in args.ns.split(",")], args.samples, args.workers, args.repeat)
        report["llama"] = r
        for n, x in r.items():
            spm = x["samples_per_cpu_min"]
            print(f"  n={n:2d}: codekiln/plain tokens per second {', '.join(f'{v:.2f}x' for v in x['ratios'])}; "
                  f"samples per CPU-minute codekiln {', '.join(f'{v:.1f}' for v in spm['codekiln'])}, "
                  f"plain {', '.join(f'{v:.1f}' for v in spm['plain'])}")
    if args.section in ("steps", "all"):
        r = bench_steps(args.model, [1, 2, 3, 4, 8, 16, 24, 32])
        report["steps"] = r
        print(f"\nllama_decode of k sequences, {args.model}, 1 thread, 200 tokens into each stream (CPU ms)")
        for k, x in r.items():
            print(f"  k={k:2d} {x['ms_per_call']:7.1f} ms per call {x['ms_per_token']:6.2f} ms per token")
    if args.section in ("hf", "all"):
        r = bench_hf(args.model, humaneval[:1], n=8, max_tokens=64, batch=8)
        report["hf"] = r
        print("\ntransformers, 8 samples of one HumanEval prompt (T=0.8, <=64 tokens), 1 thread")
        for label in ("batched", "single"):
            x = r[label]
            print(f"  {label:8s} {x['tok_s']:7.1f} tok/CPU-s  {x['samples_per_min']:6.1f} samples/CPU-min  "
                  f"({x['seconds']:.0f} CPU-s)")
        print(f"  batched / single = {r['speedup']:.2f}x (batch {r['batch_size']})")
    if args.section in ("baseline", "all"):
        workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="codekiln-baseline-"))
        r = bench_baseline(args.model, args.suites.split(","), args.limit, 10, workdir)
        report["baseline"] = r
        print(f"\nbaseline of {args.model} (first {args.limit} test tasks per suite; 95% bootstrap CI over tasks)")
        for suite, x in r.items():
            if "skipped" in x:
                print(f"  {suite:14s} skipped: {x['skipped']}")
                continue
            print(f"  {suite:14s} tasks {x['tasks']:3d}  pass@1 greedy {x['pass@1 (greedy)']:.3f} "
                  f"[{x['ci'][0]:.2f}, {x['ci'][1]:.2f}]  pass@1 T=0.8 {x['pass@1 (T=0.8)']:.3f}  "
                  f"pass@10 T=0.8 {x['pass@10 (T=0.8)']:.3f} [{x['ci@10'][0]:.2f}, {x['ci@10'][1]:.2f}]")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
