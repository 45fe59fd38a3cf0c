"""Prove that this machine can run the main job's model: load the embedded model exactly as `codekiln run` does
(the re-quantized Q8_0 file, the llama.cpp backend, the run's sampling settings) in a child process, and generate.

`./setup.sh` runs it last (`python -m codekiln.sample.selftest`), and tools/llama/build.py runs it on each candidate
llama.cpp build (`--json`, with `LLAMA_CPP_LIB_PATH` naming the build's libraries) to pick one that works here.
The work happens in a child process, so a native crash (a SIGSEGV or SIGILL inside llama.cpp) is reported by name
instead of killing the caller: a build whose kernels crash on this CPU is caught at setup, not minutes into a run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codekiln.config import SampleConfig
    from codekiln.records import Task
    from codekiln.sample.base import Sampler

TIMEOUT_S = 600.0
"""The child's wall-clock limit: the first run also re-quantizes the model to Q8_0 (~10 s here)."""


@dataclass(frozen=True)
class SelfTest:
    """What the child did: `ok` when it loaded the model and generated at least one token."""

    ok: bool
    model: str = ""  # the name the sampler records (the Q8_0 file it loaded)
    text: str = ""  # the greedy reply (compared across builds: a build that computes wrong answers differs)
    tokens: int = 0
    load_s: float = 0.0  # model load (the Q8_0 file already made)
    first_s: float = 0.0  # prompt evaluation + `tokens` generated tokens
    decode_tok_s: float = 0.0  # the same request again: the prompt's KV state is reused, so mostly decoding
    library: str = ""  # the llama.cpp library that was loaded
    system_info: str = ""  # llama.cpp's CPU feature line (AVX512, AMX_INT8, ...)
    error: str = ""  # why it failed, one line
    batch_invariant: bool = True  # sampled replies decoded together equal the same replies decoded one at a time


def _child(tokens: int) -> SelfTest:
    """Load and generate in this process, as `codekiln run` does."""
    from codekiln.config import RunConfig
    from codekiln.sample.base import GenParams, load_sampler
    from codekiln.sample.generate import build_request
    from codekiln.sample.models import resolve_model
    from codekiln.sample.quantize import fast_gguf
    from codekiln.tasks.load import load_tasks

    cfg = RunConfig().sample  # the embedded default run's sampling settings
    ref = resolve_model(cfg.model)
    if ref.gguf is not None:
        fast_gguf(ref.gguf, cfg.threads)  # the Q8_0 copy the run samples from, made once
    task = load_tasks(RunConfig().tasks, split="test")[0]
    started = time.perf_counter()
    sampler = load_sampler(ref, cfg)
    loaded = time.perf_counter()
    request = build_request(task, cfg.seed, cfg, [], sampler.supports_prefill)
    params = GenParams(temperature=0.0, top_p=1.0, max_tokens=tokens, top_k=0)  # greedy: comparable across builds
    first = sampler.generate([request], params)[0]
    generated = time.perf_counter()
    again = sampler.generate([request], params)[0]
    decoded = time.perf_counter()
    invariant = _batch_invariant(sampler, task, cfg, tokens)
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
    library = str(getattr(llama_cpp.llama_cpp, "_lib", None) and llama_cpp.llama_cpp._lib._name)
    close = getattr(sampler, "close", None)
    if close is not None:
        close()
    if first.n_tokens < 1:
        return SelfTest(False, sampler.name, first.text, 0, error="the model loaded but generated no token")
    if again.text != first.text:
        return SelfTest(False, sampler.name, first.text, first.n_tokens,
                        error="two greedy generations of the same prompt differ: the build computes unstable results")
    return SelfTest(True, sampler.name, first.text, first.n_tokens, round(loaded - started, 3),
                    round(generated - loaded, 3), round(again.n_tokens / max(1e-9, decoded - generated), 2),
                    library, info, batch_invariant=invariant)


def _batch_invariant(sampler: Sampler, task: Task, cfg: SampleConfig, tokens: int) -> bool:
    """Whether six sampled replies decoded together are the ones decoded one at a time. llama.cpp's batched
    decoding keeps each sequence's numbers apart, but whether a row's result is the same in a matrix kernel of
    one row and of several depends on the CPU's kernels (identical on AVX-512 here); where it is not, samples
    depend on how they were batched."""
    from codekiln.sample.base import GenParams
    from codekiln.sample.generate import build_request

    params = GenParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=tokens, top_k=cfg.top_k)
    requests = [build_request(task, cfg.seed + i, cfg, [], sampler.supports_prefill) for i in range(6)]
    together = sampler.generate(requests, params)
    return all(sampler.generate([r], params)[0] == g for r, g in zip(requests, together, strict=True))


def describe_exit(code: int) -> str:
    """'killed by SIGSEGV (signal 11)' for a negative return code, else 'exited with code N'."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} (signal {-code})"
    return f"exited with code {code}"


def run_selftest(tokens: int = 32, env: dict[str, str] | None = None, timeout_s: float = TIMEOUT_S) -> SelfTest:
    """Run the self-test in a child process (with `env` added to this one's) and say what happened."""
    cmd = [sys.executable, "-m", "codekiln.sample.selftest", "--child", "--tokens", str(tokens)]
    try:
        proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return SelfTest(False, error=f"the model did not generate {tokens} tokens within {timeout_s:.0f} s")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode == 0 and lines:
        return SelfTest(**json.loads(lines[-1]))
    last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode < 0:
        return SelfTest(False, error=f"the model process was {describe_exit(proc.returncode)} inside llama.cpp; "
                                     f"its last line: {last}")
    return SelfTest(False, error=f"the model process {describe_exit(proc.returncode)}: {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codekiln.sample.selftest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=32, help="tokens to generate (default 32)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        try:
            result = _child(args.tokens)
        except Exception as err:  # reported to the parent as one line; the parent decides what it means
            result = SelfTest(False, error=f"{type(err).__name__}: {err}".splitlines()[0])
        print(json.dumps(asdict(result)), flush=True)
        return 0
    result = run_selftest(args.tokens)
    if args.json:
        print(json.dumps(asdict(result)))
        return 0 if result.ok else 1
    if result.ok:
        print(f"self-test: ok: {result.model} generated {result.tokens} tokens with llama.cpp "
              f"({result.decode_tok_s:.0f} tok/s decoding; {result.library})")
        if not result.batch_invariant:
            print("self-test: note: on this CPU llama.cpp computes a sequence decoded beside others slightly "
                  "differently from one decoded alone, so a sample can depend on how it was batched (sample.batch_size, "
                  "the number of processes, a resumed run); sample.batch_size=1 makes samples reproducible, at about "
                  "half the sampling speed")
        return 0
    print(f"self-test: error: the embedded model cannot run here: {result.error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
