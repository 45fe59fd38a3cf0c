"""Sampling speed of each llama.cpp build of tools/llama/build.py that is cached on this machine, side by side.

Every build runs the same workload in its own child process (`LLAMA_CPP_LIB_PATH` names the build's libraries):
the embedded model as `codekiln run` samples it (the Q8_0 file, one thread, T=0.6, top-k 40, up to 256 tokens),
`--n` samples of each of the first `--tasks` sql-basic test tasks, seeded per sample. The builds take turns
(A B C A B C ...) so the machine's drift hits them alike; each figure is generated tokens per wall-second of
generation (model load excluded), with its ratio to the installed build, round by round.

    .venv/bin/python benchmarks/llama_variants.py --rounds 3            # builds: tools/llama/build.py build NAME
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build_tool():
    spec = importlib.util.spec_from_file_location("llama_build", ROOT / "tools" / "llama" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def child(tasks: int, n: int) -> None:
    from codekiln.config import RunConfig
    from codekiln.sample.base import load_sampler
    from codekiln.sample.generate import build_request, gen_params
    from codekiln.sample.models import resolve_model
    from codekiln.sample.seeds import sample_seed
    from codekiln.tasks.load import load_tasks

    cfg = RunConfig().sample
    sampler = load_sampler(resolve_model(cfg.model), cfg)
    chosen = load_tasks(RunConfig().tasks, split="test")[:tasks]
    requests = [build_request(t, sample_seed(cfg.seed, t.task_id, 1, i), cfg, [], True) for t in chosen
                for i in range(n)]
    started = time.perf_counter()
    out = sampler.generate(requests, gen_params(cfg))
    seconds = time.perf_counter() - started
    import llama_cpp

    print(json.dumps({"tokens": sum(g.n_tokens for g in out), "seconds": seconds,
                      "texts_sha": hashlib.sha256("\x1e".join(g.text for g in out).encode()).hexdigest()[:8],
                      "system_info": llama_cpp.llama_print_system_info().decode().strip()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.tasks, args.n)
        return 0
    build = _build_tool()
    isa = build.native_isa()
    folders = {}
    for name in build.CANDIDATE_ORDER:
        folder = build.build_dir(build.variant(name, isa), isa)
        if build.wheel_of(folder) is not None:
            folders[name] = folder
    installed = next((n for n, f in folders.items() if build.installed_is(f)), None)
    print(f"builds: {', '.join(folders)}; installed: {installed}; AMX here: {build.amx_flags(isa) or 'none'}")
    speed: dict[str, list[float]] = {name: [] for name in folders}
    for r in range(args.rounds):
        for name, folder in folders.items():
            env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(folder / "lib"), "OMP_NUM_THREADS": "1"}
            proc = subprocess.run([sys.executable, __file__, "--child", "--tasks", str(args.tasks), "--n",
                                   str(args.n)], env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"round {r + 1} {name}: failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            speed[name].append(result["tokens"] / result["seconds"])
            print(f"round {r + 1} {name}: {result['tokens']} tokens in {result['seconds']:.1f} s = "
                  f"{speed[name][-1]:.1f} tok/s (outputs {result['texts_sha']})", flush=True)
    anchor = installed or next(iter(folders))
    print(f"\nmedian generated tok/s over {args.rounds} rounds; ratio to {anchor} per round:")
    for name, values in speed.items():
        if not values:
            continue
        ratios = [v / a for v, a in zip(values, speed[anchor], strict=False)]
        print(f"  {name:14s} {statistics.median(values):6.1f} tok/s   ratio {statistics.median(ratios):.2f} "
              f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
