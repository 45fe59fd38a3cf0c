"""A worker process that dies is one clear error, never a traceback, and loses no finished work.

The CLI runs in a subprocess as a user runs it; the test kills its workers from outside with SIGSEGV (what a
native crash in llama.cpp or in a sandbox worker looks like to the parent): a llama.cpp model process once
samples are being written, with two model processes and with one (which also runs outside the CLI's process);
and sandbox workers under running programs, once (the sample is checked again on a fresh worker) and again and
again (the verify stage stops). Each time: exit code 2 and one line naming the stage, the signal and the task,
the finished records kept, and a rerun that ends with an uninterrupted run's records, each once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CODEKILN = str(Path(sys.executable).with_name("codekiln"))


def _children(pid: int) -> list[int]:
    """The processes `pid` started (only these are ever signalled here: the machine is shared)."""
    found: list[int] = []
    try:
        for thread in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{thread}/children") as fh:
                found += [int(child) for child in fh.read().split()]
    except OSError:
        pass
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _maps_llama(pid: int) -> bool:
    """Whether llama.cpp's library is loaded in process `pid`."""
    with open(f"/proc/{pid}/maps", "rb") as fh:
        return b"/libllama" in fh.read()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def _one_line_error(cli: subprocess.Popen[str], stderr: str) -> str:
    """The CLI's error after a crash: exit 2 and one line, no traceback."""
    assert cli.returncode == 2, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    return stderr.strip()


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while len(_lines(path)) < count:
        assert proc.poll() is None, f"the command ended before writing {count} records: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {count} records in {path} after 240 s"
        time.sleep(0.01)


# ---------------------------------------------------------------- sampling: llama.cpp model processes


@pytest.fixture(scope="module")
def sampling(tmp_path_factory) -> tuple[list[str], Path]:
    """The `codekiln sample` arguments of a small job on a tiny real GGUF, and the file an uninterrupted run writes."""
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("crash")
    gguf = write_gguf(build_tiny_model(folder / "hf"), folder / "tiny.gguf", "f32")
    config = folder / "config.yaml"
    config.write_text("sample:\n  context_size: 512\n")  # the tiny model's own: llama.cpp then prints nothing
    # 30 tasks x 4 samples, 8 sequences decoded together (two tasks at a time); a few seconds of generation
    args = ["sample", "--model", str(gguf), "--tasks", "python-basic", "--limit", "30", "--n", "4",
            "--max-tokens", "128", "--batch-size", "8", "--config", str(config), "--quiet"]
    reference = folder / "uninterrupted.jsonl"
    done = subprocess.run([CODEKILN, *args, "--out", str(reference)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(_lines(reference)) == 120
    return args, reference


@pytest.mark.parametrize("workers", [2, 1])
def test_a_model_process_killed_by_sigsegv_stops_sampling_with_one_line(sampling, tmp_path, workers):
    args, reference = sampling
    out = tmp_path / "samples.jsonl"
    cli = subprocess.Popen([CODEKILN, *args, "--workers", str(workers), "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lines(out, 1, cli)
        models = [pid for pid in _children(cli.pid) if b"spawn_main" in _cmdline(pid)]
        # llama.cpp (where a native crash happens) runs in `workers` model processes, never in the CLI's own
        assert not _maps_llama(cli.pid) and len(models) == workers and all(map(_maps_llama, models))
        os.kill(models[0], signal.SIGSEGV)
        _, stderr = cli.communicate(timeout=300)
    finally:
        if cli.poll() is None:
            cli.kill()
    said = re.fullmatch(r"codekiln sample: error: sample stopped: a sampling process was killed by SIGSEGV \(signal 11\) "
                        r"\(its stack is in (\S+)\) "
                        r"while generating tasks? (\S+(?:, \S+)*); (\d+) finished samples are kept in (\S+); "
                        r"rerun the same command to resume .*\./setup\.sh.*", _one_line_error(cli, stderr))
    assert said, stderr
    stack = Path(said.group(1)).read_text()  # the native crash's Python stack, kept out of the terminal
    assert "Fatal Python error: Segmentation fault" in stack and "llama" in stack
    kept, full = _lines(out), _lines(reference)
    assert said.group(4) == str(out) and int(said.group(3)) == len(kept) > 0
    assert len(set(kept)) == len(kept) and set(kept) <= set(full)  # finished samples, whole, each once
    in_flight = set(said.group(2).split(", "))
    kept_per_task = Counter(json.loads(line)["task_id"] for line in kept)
    assert in_flight and all(kept_per_task[task] < 4 for task in in_flight)  # each named task still owed samples

    rerun = subprocess.run([CODEKILN, *args, "--workers", str(workers), "--out", str(out)], capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert out.read_bytes() == reference.read_bytes()  # every (task, index) once, in task order: as if never killed


# ---------------------------------------------------------------- verification: sandbox workers

TASKS = [{"task_id": f"t{i}", "kind": "python", "prompt": f"def f{i}(x):\n", "entry_point": f"f{i}",
          "test": f"def check(c):\n    assert c({i}) == {i}\n", "split": "test"} for i in range(12)]
RIGHT = "    import time\n    time.sleep(0.2)\n    return x\n"  # slow enough that a kill lands under a program
WRONG = "    import time\n    time.sleep(0.2)\n    return -1\n"


@pytest.fixture(scope="module")
def verifying(tmp_path_factory) -> tuple[list[str], Path]:
    """`codekiln verify` arguments for 36 slow samples (a third fail), and the verdicts of an uninterrupted run."""
    folder = tmp_path_factory.mktemp("verify")
    tasks, samples = folder / "tasks.jsonl", folder / "samples.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    samples.write_text("".join(json.dumps({"task_id": t["task_id"], "completion": code}) + "\n"
                               for t in TASKS for code in (RIGHT, WRONG, RIGHT)))
    args = ["verify", "--tasks", str(tasks), "--samples", str(samples), "--workers", "2", "--quiet"]
    reference = folder / "uninterrupted.jsonl"
    done = subprocess.run([CODEKILN, *args, "--out", str(reference)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(v["status"] for v in _verdicts(reference).values()) == ["failed"] * 12 + ["passed"] * 24
    return args, reference


def _verdicts(path: Path) -> dict[tuple[str, str], dict]:
    """Verdicts by (task, sample), without their durations; a sample verdicted twice fails the test."""
    out: dict[tuple[str, str], dict] = {}
    for line in _lines(path):
        v = json.loads(line)
        key = (v.pop("task_id"), v.pop("sample_id"))
        v.pop("duration_s")
        assert key not in out, f"{key} verdicted twice in {path}"
        out[key] = v
    return out


def _sandbox_workers(pid: int) -> list[int]:
    """The sandbox workers of the verify command `pid`: the Python process under each bubblewrap (bwrap, its
    namespace's init, then the worker), not bwrap itself, so a kill is what a crash of the worker looks like."""
    return [worker for bwrap in _children(pid) if _cmdline(bwrap).startswith(b"bwrap\0")
            for init in _children(bwrap) for worker in _children(init) if b"_boot(" in _cmdline(worker)]


def test_a_sandbox_worker_killed_under_a_program_is_replaced_and_the_sample_checked_again(verifying, tmp_path):
    args, reference = verifying
    out = tmp_path / "verdicts.jsonl"
    cli = subprocess.Popen([CODEKILN, *args, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        _wait_for_lines(out, 4, cli)
        workers = _sandbox_workers(cli.pid)
        assert workers, "no sandbox worker under the verify command"
        for pid in workers:  # both, under their programs: neither program did it
            os.kill(pid, signal.SIGSEGV)
        _, stderr = cli.communicate(timeout=300)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, stderr
    assert _verdicts(out) == _verdicts(reference)  # no "the sandbox worker died" verdict: each checked again


def test_sandbox_workers_killed_again_and_again_stop_verify_with_one_line(verifying, tmp_path):
    args, reference = verifying
    out = tmp_path / "verdicts.jsonl"
    cli = subprocess.Popen([CODEKILN, *args, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    killed = 0
    try:
        _wait_for_lines(out, 4, cli)
        deadline = time.monotonic() + 240
        while cli.poll() is None and time.monotonic() < deadline:  # every worker, the fresh ones too
            for pid in _sandbox_workers(cli.pid):
                os.kill(pid, signal.SIGSEGV)
                killed += 1
            time.sleep(0.005)
        _, stderr = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    said = re.fullmatch(r"codekiln verify: error: verify stopped: the sandbox worker was killed by SIGSEGV \(signal 11\) "
                        r"while checking sample (\S+) of task (\S+), and again with a fresh worker; (\d+) finished "
                        r"verdicts are kept in (\S+); rerun the same command to resume .*", _one_line_error(cli, stderr))
    assert said, stderr
    kept, expected = _verdicts(out), _verdicts(reference)
    assert said.group(4) == str(out) and int(said.group(3)) == len(kept) >= 4 and killed >= 2
    assert (said.group(2), said.group(1)) in expected and (said.group(2), said.group(1)) not in kept
    assert all(kept[key] == expected[key] for key in kept)  # only the programs' own verdicts, none of a dead worker

    rerun = subprocess.run([CODEKILN, *args, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _verdicts(out) == expected
