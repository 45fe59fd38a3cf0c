"""The Ray executor on a local Ray cluster started here (2 CPUs, no dashboard): the verdict files it writes are
the local executor's, byte for byte (duration_s, the wall-clock time of a check, aside: it differs between two
local runs too), and killing a Ray worker and then the driver mid-stage loses nothing and duplicates nothing
on the rerun. The samples are the test's own programs (reference answers, wrong ones, syntax errors, a
crash); they run only in the sandbox, like model code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'codekiln[ray]')")

from codekiln.config import VerifyConfig  # noqa: E402
from codekiln.records import Sample, Task, read_jsonl  # noqa: E402
from codekiln.tasks.load import load_tasks  # noqa: E402
from codekiln.verify.run import verify_samples  # noqa: E402

DURATION = re.compile(rb'"duration_s": [0-9.eE+-]+')


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster on this machine, owned by this test process (ends with it); its address for other drivers."""
    from codekiln.executors.ray_cluster import connect

    connect(None, num_cpus=2)  # two actors whatever the machine, so the kill test's timing holds; no dashboard
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _tasks() -> list[Task]:
    return load_tasks("python-basic")[:12]


def _samples(tasks: list[Task], slow: float = 0.0) -> list[Sample]:
    pause = f"import time\ntime.sleep({slow})\n" if slow else ""
    out = []
    for t in tasks:
        out.append(Sample(task_id=t.task_id, completion=pause + (t.reference or "")))
        out.append(Sample(task_id=t.task_id, completion=pause + "def nope(:\n"))
        out.append(Sample(task_id=t.task_id, completion=pause + "raise SystemExit(3)\n"))
    return out


def _normalized(path: Path) -> bytes:
    return DURATION.sub(b'"duration_s": 0', path.read_bytes())


def test_ray_verdict_files_are_the_local_ones(cluster, tmp_path):
    from codekiln.executors import shards

    tasks, samples = _tasks(), _samples(_tasks())
    cfg = VerifyConfig(workers=1, timeout_s=10)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    verify_samples(tasks, samples, cfg, out=local, quiet=True)
    old = shards.VERIFY_SHARD
    shards.VERIFY_SHARD = 5  # many shards, finishing out of order across the two actors
    try:
        verdicts = verify_samples(tasks, samples, cfg, out=remote, quiet=True, executor="ray", ray_address=cluster)
    finally:
        shards.VERIFY_SHARD = old
    assert _normalized(remote) == _normalized(local)
    assert len(verdicts) == len(samples) and {v.status for v in verdicts} >= {"passed", "syntax_error"}
    assert sum(v.passed for v in verdicts) == len(tasks)


def test_more_sandbox_workers_than_a_node_has_cpus_still_run(cluster, tmp_path):
    from codekiln.executors.ray_cluster import fit_cpus

    assert fit_cpus(ray, 3) == 2 and fit_cpus(ray, 1) == 1
    tasks = _tasks()[:2]
    verdicts = verify_samples(tasks, _samples(tasks), VerifyConfig(workers=3), out=tmp_path / "v.jsonl", quiet=True,
                              executor="ray", ray_address=cluster)  # an actor asking for 3 CPUs would never start
    assert [v.passed for v in verdicts] == [True, False, False] * 2


DRIVER = """
import sys
from pathlib import Path
from codekiln.config import VerifyConfig
from codekiln.executors import shards
from codekiln.records import read_jsonl, Sample
from codekiln.tasks.load import load_tasks
from codekiln.verify.run import verify_samples

shards.VERIFY_SHARD = 3
tasks = load_tasks("python-basic")[:12]
samples = read_jsonl(sys.argv[1], Sample)
verify_samples(tasks, samples, VerifyConfig(workers=1, timeout_s=10), out=Path(sys.argv[2]), quiet=True,
               executor="ray", ray_address=sys.argv[3])
"""


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_for(predicate, what: str, limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _worker_pids() -> list[int]:
    """Processes of this machine's Ray verify actors (the cluster is this test's own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::VerifyWorker"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_killed_worker_and_driver_lose_and_duplicate_nothing(cluster, tmp_path):
    from codekiln.records import write_jsonl

    tasks = _tasks()
    samples = _samples(tasks, slow=0.5)
    src = write_jsonl(tmp_path / "samples.jsonl", samples)
    out = tmp_path / "verdicts.jsonl"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(src), str(out), cluster],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _lines(out) >= 3 or driver.poll() is not None, "the first shard's verdicts")
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        workers = _worker_pids()
        assert workers, "no Ray verify worker found to kill"
        os.kill(workers[0], signal.SIGKILL)  # mid-shard: the actor restarts and the shard is retried
        before = _lines(out)
        _wait_for(lambda: _lines(out) >= before + 3 or driver.poll() is not None, "progress after the kill")
        assert driver.poll() is None, "the driver finished before it could be killed (make the samples slower)"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    finished = out.read_bytes().count(b"\n")  # whole lines; a torn last one is dropped by the rerun
    assert 0 < finished < len(samples)

    verdicts = verify_samples(tasks, samples, VerifyConfig(workers=1, timeout_s=10), out=out, quiet=True,
                              executor="ray", ray_address=cluster)
    keys = [(json.loads(line)["task_id"], json.loads(line)["sample_id"]) for line in out.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == len(samples)  # no duplicate, none missing
    local = tmp_path / "local.jsonl"
    verify_samples(tasks, samples, VerifyConfig(workers=1, timeout_s=10), out=local, quiet=True)
    assert _normalized(out) == _normalized(local)
    assert [v.sample_id for v in verdicts] == [v.sample_id for v in read_jsonl(local, type(verdicts[0]))]
