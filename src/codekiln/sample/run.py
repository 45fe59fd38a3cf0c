"""`sample_tasks`: n samples per task from a model, streamed to a JSONL file, resumable.

Every sample's seed is `sample_seed(cfg.seed, task_id, round, index)`, so a rerun, a different batch size
or another worker count gives the same samples (for llama.cpp's batched decoding: where the CPU's kernels compute
a row alike in a matrix of one row and of many, see sample/llamacpp_batch.py and the self-test). The stage builds
a `SampleJob`, an executor yields the samples as they finish, and each is appended at once; a rerun reads the
file back and generates only the (task, index) pairs still missing. Once all are in, the file holds them
in task order, once each: a resumed run leaves the file an uninterrupted one writes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

from codekiln.config import SampleConfig
from codekiln.errors import WorkerCrashed
from codekiln.executors import check_executor
from codekiln.executors.local_sample import ProcessDied, local_workers
from codekiln.progress import console, progress_bar
from codekiln.records import JsonlAppender, Sample, Task, dump_line, from_dict, read_jsonl_resumable
from codekiln.sample.base import Sampler, backend_for, load_sampler
from codekiln.sample.budget import with_budget
from codekiln.sample.generate import SampleJob, gen_params, generate_pairs, prompt_order
from codekiln.sample.models import ModelRef, resolve_model
from codekiln.sample.quantize import fast_gguf
from codekiln.sample.seeds import sample_index, sample_seed


def sample_tasks(
    tasks: Sequence[Task],
    cfg: SampleConfig,
    out: Path,
    round: int = 0,
    quiet: bool = False,
    examples: Sequence[Task] = (),
    sampler: Sampler | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    stage: str = "sample",
) -> list[Sample]:
    """`cfg.n` samples per task, in task order; finished ones already in `out` are kept, not redone.

    Locally, llama.cpp generates in `cfg.workers` spawned model processes, one at least (see
    executors.local_sample), so a native crash stops the stage with one line (a `WorkerCrashed` naming `stage`)
    instead of killing the caller; a `sampler` passed in lets a caller reuse a loaded model across calls instead
    (in this process; it is then not closed here). `executor` is where generation runs (codekiln.executors:
    local, or ray: one model per Ray worker, on the cluster at `ray_address`); the per-sample seeds, hence the
    samples, are the same.
    """
    check_executor(executor)
    out = Path(out)
    cfg = with_budget(cfg, tasks)  # max_tokens and context by task kind where the user set none
    ref = resolve_model(cfg.model)  # validates --model even when everything is already sampled
    model_name = sampler.name if sampler is not None else ref.name
    wanted = {(t.task_id, i): sample_seed(cfg.seed, t.task_id, round, i) for t in tasks for i in range(cfg.n)}
    have: dict[tuple[str, int], Sample] = {}
    others: list[bytes] = []  # the file's lines that are not this call's samples, kept as they are
    for line, s in _read_lines(out):
        key = (s.task_id, sample_index(s.sample_id))
        same_model = s.model == model_name or s.model.startswith(f"{model_name} (")
        if s.round == round and wanted.get(key) == s.seed and same_model:
            have[key] = s
        else:
            others.append(line)
    todo = prompt_order([(t, i) for t in tasks for i in range(cfg.n) if (t.task_id, i) not in have], cfg, examples)
    if todo and cfg.temperature == 0 and cfg.n > 1 and not quiet:
        console.print(f"[yellow]note:[/] temperature 0 is greedy: the {cfg.n} samples of a task will be identical "
                      "(seeds differ, but greedy decoding ignores them); use --temperature > 0 for pass@k with k > 1")
    job = SampleJob(ref, cfg, round, tuple(examples), tuple(todo), wanted)
    try:
        if todo and executor == "ray":
            from codekiln.executors.ray_sample import sample_ray

            _collect(out, job, sample_ray(job, ray_address), have, quiet)
        elif todo and sampler is None and _in_processes(ref, cfg):
            from codekiln.executors.local_sample import sample_processes

            if ref.gguf is not None:
                fast_gguf(ref.gguf, cfg.threads)  # re-quantize once here, not in every process
            crash_log = out.with_name(f"{out.name}.crash.log")
            _collect(out, job, sample_processes(job, local_workers(ref, cfg), crash_log), have, quiet)
        elif todo:
            own = sampler is None
            sampler = sampler or load_sampler(ref, cfg)
            try:
                _collect(out, job, generate_pairs(sampler, todo, cfg, round, examples, wanted, gen_params(cfg)),
                         have, quiet)
            finally:
                if own:
                    sampler.close()
    except ProcessDied as died:
        raise WorkerCrashed(f"{stage} stopped: {died}; {len(have)} finished samples are kept in {out}; rerun the "
                            f"same command to resume (they are not redone); if it crashes again, "
                            f"{_crash_hint(ref, cfg)}") from None
    samples = [have[(t.task_id, i)] for t in tasks for i in range(cfg.n)]
    _in_task_order(out, b"".join(others), samples)
    return samples


def _in_processes(ref: ModelRef, cfg: SampleConfig) -> bool:
    """Whether to sample in model processes: always for llama.cpp (native code that may crash takes only its
    process down), and for any backend when several workers are asked for."""
    return backend_for(ref, cfg.backend) == "llama.cpp" or local_workers(ref, cfg) > 1


def _crash_hint(ref: ModelRef, cfg: SampleConfig) -> str:
    backend = backend_for(ref, cfg.backend)
    if backend == "llama.cpp":
        return "run ./setup.sh, which re-checks the llama.cpp build on this machine"
    return f"check that the {backend} backend runs on this machine (sample.workers=1 samples in one process)"


def _read_lines(out: Path) -> list[tuple[bytes, Sample]]:
    """The samples in `out` with their lines as written (a torn last line, left by a kill, is dropped)."""
    read_jsonl_resumable(out, Sample)  # truncates a torn last line; names a line that is not a sample
    if not out.exists():
        return []
    lines = [line + b"\n" for line in out.read_bytes().split(b"\n") if line.strip()]
    return [(line, from_dict(Sample, json.loads(line))) for line in lines]


def _in_task_order(out: Path, others: bytes, samples: list[Sample]) -> None:
    """Leave `out` as one uninterrupted sequential run writes it: its other lines, then `samples` in task order,
    each once (samples streamed in as they finished, or a resumed file, are put in order here)."""
    want = others + "".join(dump_line(s) for s in samples).encode("utf-8")
    if out.exists() and out.read_bytes() == want or not out.exists() and not want:
        return
    rewrite_in_order(out, others, samples)


def _collect(out: Path, job: SampleJob, finished: Iterator[list[Sample]], have: dict[tuple[str, int], Sample],
             quiet: bool) -> None:
    """Take the samples an executor yields as they finish (a shard, or part of one): each goes to `have` and is
    appended to `out` at once, so a kill or a crash loses only unfinished ones. The executor's iterator is closed
    on the way out, which stops its workers."""
    tokens, started = 0, time.monotonic()
    with closing(finished), JsonlAppender(out) as sink, progress_bar(
            "sampling", len(job.seeds), quiet, completed=len(job.seeds) - len(job.todo)) as bar:
        for samples in finished:
            for sample in samples:
                sink.append(sample)
                have[(sample.task_id, sample_index(sample.sample_id))] = sample
                tokens += int(sample.meta.get("tokens", 0))
            bar.advance(len(samples))
            bar.note(f"{tokens / max(1e-9, time.monotonic() - started):.1f} tok/s")


def rewrite_in_order(out: Path, prefix: bytes, samples: list[Sample]) -> None:
    """`out` as a single sequential worker would leave it: `prefix` (the file's other records), then `samples`."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(prefix)
            fh.write("".join(dump_line(s) for s in samples).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
