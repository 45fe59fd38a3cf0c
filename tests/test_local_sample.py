"""Sampling in several local model processes writes the file one process writes, byte for byte, and a rerun
after a partial file generates only what is missing: seeds come from (seed, task, round, index), never from
the process or the shard."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.executors.local_sample import local_workers
from codekiln.records import Task
from codekiln.sample.models import resolve_model
from codekiln.sample.run import sample_tasks

TASKS = [Task(f"t{i}", "python", f"def f{i}(a, b):\n", entry_point=f"f{i}", test="def check(c):\n    pass\n")
         for i in range(4)]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny")
    return write_gguf(build_tiny_model(folder / "hf"), folder / "tiny.gguf", "f32")


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr(shards, "SAMPLE_SHARD", 3)  # several shards for two processes
    monkeypatch.setattr(shards, "SAMPLE_SHARD_BATCHES", 1)


def test_processes_write_the_single_process_file(tiny_gguf, tmp_path, small_shards):
    from codekiln.sample.base import load_sampler

    cfg = SampleConfig(model=str(tiny_gguf), n=3, max_tokens=8, temperature=0.9, batch_size=2)
    here, one, two = tmp_path / "here.jsonl", tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    sampler = load_sampler(resolve_model(cfg.model), cfg)  # in this process, as a library caller may pass one
    try:
        expected = sample_tasks(TASKS, cfg, here, round=1, quiet=True, sampler=sampler)
    finally:
        sampler.close()
    assert sample_tasks(TASKS, cfg.model_copy(update={"workers": 1}), one, round=1, quiet=True) == expected
    got = sample_tasks(TASKS, cfg.model_copy(update={"workers": 2}), two, round=1, quiet=True)
    assert got == expected
    assert two.read_bytes() == one.read_bytes() == here.read_bytes()
    assert len({s.raw for s in got}) > 1  # the seeds differ, so do the samples


def test_rerun_after_partial_file_generates_only_the_rest(tiny_gguf, tmp_path, small_shards):
    cfg = SampleConfig(model=str(tiny_gguf), n=3, max_tokens=8, temperature=0.9, batch_size=2, workers=2)
    full, partial = tmp_path / "full.jsonl", tmp_path / "partial.jsonl"
    expected = sample_tasks(TASKS, cfg, full, round=0, quiet=True)
    lines = full.read_text().splitlines(keepends=True)
    # finished samples out of task order (as processes stream them), one twice, and a torn line (a kill)
    partial.write_text("".join(lines[6:9] + lines[:5] + lines[6:7]) + lines[5][:20])
    got = sample_tasks(TASKS, cfg, partial, round=0, quiet=True)
    assert got == expected
    assert partial.read_bytes() == full.read_bytes()


def test_auto_workers_follow_cores_and_backend(tiny_gguf, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    ref = resolve_model(str(tiny_gguf))
    assert local_workers(ref, SampleConfig(model=str(tiny_gguf))) == 4
    assert local_workers(ref, SampleConfig(model=str(tiny_gguf), threads=2)) == 2
    assert local_workers(ref, SampleConfig(model=str(tiny_gguf), workers=3)) == 3
    server = "openai:m@http://127.0.0.1:9"
    assert local_workers(resolve_model(server), SampleConfig(model=server)) == 1  # a server batches by itself


def test_model_processes_die_with_a_killed_parent(tiny_gguf, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(f"""
import os, sys, time
from pathlib import Path
from codekiln.config import SampleConfig
from codekiln.executors import local_sample, sample_worker
from codekiln.records import Task
from codekiln.sample.generate import SampleJob
from codekiln.sample.models import resolve_model

def slow(self, work):  # at module level: a spawned model process runs this file too (as __mp_main__)
    os.write(1, f"{{os.getpid()}}\\n".encode())  # one write: the two processes' lines never interleave
    time.sleep(600)
    yield []

sample_worker.SampleWorker.chunks = slow

if __name__ == "__main__":
    tasks = [Task(f"t{{i}}", "python", "def f():\\n", entry_point="f", test="def check(c):\\n    pass\\n") for i in range(40)]
    cfg = SampleConfig(model={str(tiny_gguf)!r}, n=1, workers=2, batch_size=1)  # shards of 16: one per process
    wanted = {{(t.task_id, 0): 1 for t in tasks}}
    job = SampleJob(resolve_model(cfg.model), cfg, 0, (), tuple((t, 0) for t in tasks), wanted)
    for _ in local_sample.sample_processes(job, 2, Path({str(tmp_path / 'crash.log')!r})):
        pass
""")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    children = [int(parent.stdout.readline()) for _ in range(2)]
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in children if _alive(pid)]
        time.sleep(0.1)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "model processes outlived their killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_model_that_cannot_load_is_the_users_error_from_the_model_process(tmp_path):
    """The model loads in a model process; its UserError comes back as it is (one line for the CLI), not as a
    crashed worker."""
    from codekiln.errors import UserError, WorkerCrashed

    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    with pytest.raises(UserError, match=r"llama.cpp could not load .*bogus\.gguf") as caught:
        sample_tasks(TASKS, SampleConfig(model=str(bogus), n=1, workers=1), tmp_path / "out.jsonl", quiet=True)
    assert not isinstance(caught.value, WorkerCrashed)


def test_a_killed_batched_sampler_resumes_without_duplicates(tiny_gguf, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    tasks = [Task(f"t{i}", "python", f"def f{i}(a, b):\n", entry_point=f"f{i}", test="def check(c):\n    pass\n")
             for i in range(8)]
    cfg = SampleConfig(model=str(tiny_gguf), n=4, max_tokens=24, temperature=0.9, batch_size=4, workers=2)
    out, fresh = tmp_path / "killed.jsonl", tmp_path / "fresh.jsonl"
    script = tmp_path / "parent.py"
    script.write_text(f"""
import time
from pathlib import Path
from codekiln.config import SampleConfig
from codekiln.executors import shards
from codekiln.records import Task
from codekiln.sample import llamacpp_batch
from codekiln.sample.run import sample_tasks

shards.SAMPLE_SHARD_BATCHES = 2  # shards of 8 pairs: both processes work, on several tasks each
decode = llamacpp_batch.BatchDecoder._decode

def slow(self, tokens, logits):  # at module level: the spawned model processes run this file too
    time.sleep(0.02)
    decode(self, tokens, logits)

llamacpp_batch.BatchDecoder._decode = slow

if __name__ == "__main__":
    tasks = [Task(f"t{{i}}", "python", f"def f{{i}}(a, b):\\n", entry_point=f"f{{i}}",
                  test="def check(c):\\n    pass\\n") for i in range(8)]
    sample_tasks(tasks, SampleConfig.model_validate({cfg.model_dump()!r}), Path({str(out)!r}), quiet=True)
""")
    parent = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and parent.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 6:
            break
        time.sleep(0.02)
    assert parent.poll() is None, "the run ended before it could be killed"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    time.sleep(1)  # the model processes die with their parent
    before = [line for line in out.read_text().splitlines(keepends=True) if line.endswith("\n")]
    assert 6 <= len(before) < len(tasks) * cfg.n
    got = sample_tasks(tasks, cfg, out, quiet=True)
    assert got == sample_tasks(tasks, cfg, fresh, quiet=True)
    assert out.read_bytes() == fresh.read_bytes()
    ids = [s.sample_id for s in got]
    assert len(ids) == len(set(ids)) == len(tasks) * cfg.n
    assert set(before) <= set(out.read_text().splitlines(keepends=True))  # what was finished is kept as it was
