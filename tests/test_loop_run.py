"""`codekiln run` end to end with a tiny random model through the real stages, killed mid-run and resumed.

The tiny model writes garbage, so no sample passes; `curate.reference_as_chosen` turns each task's reference into
the chosen side of a pair against the model's own (failing) samples, and the `nonempty` filter is left out so
garbage counts as a rejected answer: the real pair builder then gives the trainer real pairs to learn from.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codekiln.records import Task, write_jsonl

pytestmark = pytest.mark.slow

TASKS = [
    ("add", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0",
     "def add(a, b):\n    return a + b\n"),
    ("double", "def double(x):\n    \"\"\"Return 2 * x.\"\"\"\n", "assert candidate(2) == 4\n    assert candidate(0) == 0",
     "def double(x):\n    return 2 * x\n"),
    ("first", "def first(xs):\n    \"\"\"Return the first item of xs, or None when it is empty.\"\"\"\n",
     "assert candidate([3, 4]) == 3\n    assert candidate([]) is None", "def first(xs):\n    return xs[0] if xs else None\n"),
    ("neg", "def neg(x):\n    \"\"\"Return -x.\"\"\"\n", "assert candidate(2) == -2\n    assert candidate(0) == 0",
     "def neg(x):\n    return -x\n"),
    ("last", "def last(xs):\n    \"\"\"Return the last item of xs, or None when it is empty.\"\"\"\n",
     "assert candidate([3, 4]) == 4\n    assert candidate([]) is None", "def last(xs):\n    return xs[-1] if xs else None\n"),
]


def _task_file(path: Path) -> Path:
    tasks = [Task(task_id=f"tiny/{name}", kind="python", prompt=prompt, entry_point=name,
                  test=f"def check(candidate):\n    {asserts}\n", reference=ref, split="train" if i < 3 else "test")
             for i, (name, prompt, asserts, ref) in enumerate(TASKS)]
    write_jsonl(path, tasks)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from codekiln.train.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("loop")
    model = build_tiny_model(root / "tiny-model")
    tasks = _task_file(root / "tasks.jsonl")
    config = root / "tiny.yaml"
    config.write_text(f"""
runs_dir: {root / 'runs'}
tasks: {tasks}
rounds: 2
min_gain: -1.0   # never stop early here; the stopping rule is exercised by test_rerun_with_stricter_rule
sample: {{model: {model}, n: 2, max_tokens: 12, temperature: 1.0, batch_size: 4}}
verify: {{workers: 1, timeout_s: 5}}
curate: {{reference_as_chosen: true, decontaminate: false, filters: [status, length]}}
train: {{max_steps: 2, batch_size: 2, save_steps: 1, max_length: 128, lora_r: 4, lora_alpha: 8}}
eval: {{n: 1, bootstrap: 50}}
""")
    return root, config


def _cmd(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codekiln.cli", "run", str(config), "--name", "t", "--quiet", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _markers(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): p.read_text() for p in sorted(run.glob("round-*/done/*.json"))}


def test_kill_mid_run_then_resume(setup):
    root, config = setup
    run = root / "runs" / "t"
    proc = subprocess.Popen(_cmd(config), env=_env(), cwd=root, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Kill the whole process group (sandbox workers too) once round 1 has verified: curate/train are in flight.
    deadline = time.monotonic() + 240
    while not (run / "round-1" / "done" / "verify.json").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "round 1 never finished verifying"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _markers(run)
    samples_before = (run / "round-1" / "samples.jsonl").read_bytes()
    assert {"round-0/done/eval.json", "round-1/done/sample.json", "round-1/done/verify.json"} <= set(before)
    assert not (run / "round-2" / "done" / "eval.json").exists()

    out = subprocess.run(_cmd(config), env=_env(), cwd=root, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr

    after = _markers(run)
    for name, text in before.items():  # nothing finished before the kill ran again
        assert after[name] == text, name
    assert (run / "round-1" / "samples.jsonl").read_bytes() == samples_before
    stages = {"round-0/done/eval.json"} | {f"round-{r}/done/{s}.json" for r in (1, 2)
                                            for s in ("sample", "verify", "curate", "train", "eval")}
    assert set(after) == stages
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["invocations"]) == 2
    assert {s["invocation"] for s in manifest["stages"] if f"round-{s['round']}/done/{s['stage']}.json" in before} \
        == {0}
    assert {s["invocation"] for s in manifest["stages"]
            if f"round-{s['round']}/done/{s['stage']}.json" not in before} == {1}
    assert manifest["code"]["version"] and manifest["model"]["sha256"] and manifest["data"]["train_tasks"] == 3
    assert len(manifest["pass1"]) == 3  # base + 2 rounds

    # Round 2 started from round 1's model (which is also its DPO reference).
    train2 = json.loads((run / "round-2" / "done" / "train.json").read_text())["summary"]
    assert Path(train2["start"]).resolve() == (run / "round-1" / "model").resolve()
    sample2 = [json.loads(line) for line in (run / "round-2" / "samples.jsonl").read_text().splitlines()]
    assert len(sample2) == 3 * 2 and all(s["round"] == 2 for s in sample2)

    final = run / "final"
    assert final.is_symlink() and (final / "codekiln-model.json").exists()
    assert json.loads((final / "codekiln-model.json").read_text())["format"] == "codekiln-model/1"
    html = (run / "report.html").read_text()
    assert 'data-chart="passk"' in html and 'data-chart="loss"' in html
    assert "held-out pass@1" in out.stdout and "final model" in out.stdout
    (root / "kill-test-done").write_text("ok")


def test_rerun_with_stricter_rule_repeats_nothing(setup):
    root, config = setup
    run = root / "runs" / "t"
    if not (root / "kill-test-done").exists():
        pytest.skip("needs the finished run of test_kill_mid_run_then_resume")
    before = _markers(run)
    out = subprocess.run(_cmd(config, "rounds=4", "min_gain=0.5"), env=_env(), cwd=root, capture_output=True,
                         text=True, timeout=200)
    assert out.returncode == 0, out.stderr
    assert _markers(run) == before  # every stage was done; the rule stops before round 3
    assert not (run / "round-3").exists()
    assert "stopped after round 1" in out.stdout
    train1 = json.loads((run / "round-1" / "done" / "train.json").read_text())["summary"]
    assert len(train1["adapter_sha256"]) == 64
    # A different config in the same folder is refused with one line.
    bad = subprocess.run(_cmd(config, "sample.n=3"), env=_env(), cwd=root, capture_output=True, text=True)
    assert bad.returncode == 2 and "sample.n=2, not 3" in bad.stderr and "Traceback" not in bad.stderr
    # So are changed tasks (same config, same file name, different content).
    tasks = root / "tasks.jsonl"
    original = tasks.read_text()
    try:
        tasks.write_text(original.replace("Return -x.", "Return minus x."))
        changed = subprocess.run(_cmd(config), env=_env(), cwd=root, capture_output=True, text=True)
        assert changed.returncode == 2 and "changed since run 't' started" in changed.stderr
    finally:
        tasks.write_text(original)
