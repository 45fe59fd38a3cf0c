"""Sampling on a local Ray cluster (one llama.cpp model per actor) writes the local executor's sample file,
byte for byte: seeds come from (seed, task, round, index), never from the worker or the shard."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'codekiln[ray]')")

from codekiln.config import SampleConfig  # noqa: E402
from codekiln.records import Task  # noqa: E402
from codekiln.sample.run import sample_tasks  # noqa: E402

TASKS = [Task(f"t{i}", "python", f"def f{i}(a, b):\n", entry_point=f"f{i}", test="def check(c):\n    pass\n")
         for i in range(3)]


@pytest.mark.slow
def test_ray_samples_are_the_local_ones(tmp_path):
    from codekiln.executors import shards
    from codekiln.executors.ray_cluster import connect
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    gguf = write_gguf(build_tiny_model(tmp_path / "hf"), tmp_path / "tiny.gguf", "f32")
    cfg = SampleConfig(model=str(gguf), n=3, max_tokens=10, temperature=0.9, batch_size=2)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    expected = sample_tasks(TASKS, cfg, local, round=1, quiet=True)
    connect(None)  # a local cluster on this machine's 2 CPUs
    old = shards.SAMPLE_SHARD, shards.SAMPLE_SHARD_BATCHES
    shards.SAMPLE_SHARD, shards.SAMPLE_SHARD_BATCHES = 2, 1  # five shards over two actors
    try:
        got = sample_tasks(TASKS, cfg, remote, round=1, quiet=True, executor="ray")
    finally:
        shards.SAMPLE_SHARD, shards.SAMPLE_SHARD_BATCHES = old
        ray.shutdown()
    assert got == expected
    assert Path(remote).read_bytes() == Path(local).read_bytes()
    assert len({s.raw for s in got}) > 1  # the seeds differ, so do the samples
