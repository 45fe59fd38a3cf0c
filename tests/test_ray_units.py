"""The executor choice without a Ray cluster: names, shards, and one clear line when Ray is not installed."""

from __future__ import annotations

import sys

import pytest

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.executors.shards import shard
from codekiln.records import Sample
from codekiln.tasks.load import load_tasks
from codekiln.verify.run import verify_samples


def test_shards_keep_order_and_cover_everything():
    items = list(range(10))
    parts = shard(items, 4)
    assert parts == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert shard([], 4) == []
    with pytest.raises(ValueError):
        shard(items, 0)


def _one(tmp_path):
    task = load_tasks("python-basic")[0]
    return [task], [Sample(task_id=task.task_id, completion=task.reference or "")], tmp_path / "v.jsonl"


def test_unknown_executor_is_a_user_error(tmp_path):
    tasks, samples, out = _one(tmp_path)
    with pytest.raises(UserError, match="unknown executor 'slurm'; choose from local, ray"):
        verify_samples(tasks, samples, VerifyConfig(), out=out, executor="slurm")
    assert not out.exists()


def test_ray_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    tasks, samples, out = _one(tmp_path)
    with pytest.raises(UserError, match=r"executor=ray needs Ray: pip install 'codekiln\[ray\]'"):
        verify_samples(tasks, samples, VerifyConfig(), out=out, quiet=True, executor="ray")
