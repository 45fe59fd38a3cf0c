"""`codekiln run` end to end through the real stages and the real default curation, killed anywhere and resumed.

A deterministic scripted sampler (tests/loop_scripted.py, behind the real `Sampler` protocol, registered by the
launcher tests/loop_launcher.py only) writes the model's replies: passing, failing, erroring, empty, over-long,
duplicate, already-trained-on and contaminated programs. Everything else is the product: the real sandbox verifies
them, the default curation (status/nonempty/length filters, de-duplication within and across rounds,
decontamination against the test split, SFT rows, correct-vs-incorrect pairs) curates them, TRL trains a tiny
random Llama with LoRA on the pairs (dpo+nll, the default method), and the trained model folders are evaluated on
the task file's own validation split (which decides: stopping and `final`), its test split (which reports) and an
extra task file (transfer: base vs final with a paired interval).

One run goes through uninterrupted (the reference); a second run of the same command is SIGKILLed at five points
(sampling, a checkpoint being written, evaluation, curation, the transfer evaluation at the end), each time rerun,
and must end with the same files.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codekiln.records import Task, write_jsonl

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "loop_launcher.py"
sys.path.insert(0, str(HERE))
from loop_scripted import EXTRA_PASS1, PASS1, VAL_PASS1  # noqa: E402

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
    ("inc", "def inc(x):\n    \"\"\"Return x + 1.\"\"\"\n", "assert candidate(1) == 2\n    assert candidate(-1) == 0",
     "def inc(x):\n    return x + 1\n"),
    ("sq", "def sq(x):\n    \"\"\"Return x squared.\"\"\"\n", "assert candidate(3) == 9\n    assert candidate(-2) == 4",
     "def sq(x):\n    return x * x\n"),
]
SPLITS = ["train"] * 3 + ["test"] * 2 + ["val"] * 2
EXTRA = [
    ("maxi", "def maxi(a, b):\n    \"\"\"Return the larger of a and b.\"\"\"\n",
     "assert candidate(1, 2) == 2\n    assert candidate(3, -1) == 3", "def maxi(a, b):\n    return max(a, b)\n"),
    ("mini", "def mini(a, b):\n    \"\"\"Return the smaller of a and b.\"\"\"\n",
     "assert candidate(1, 2) == 1\n    assert candidate(3, -1) == -1", "def mini(a, b):\n    return min(a, b)\n"),
]

# What the default curation must make of the scripted replies (see loop_scripted.TRAIN for each program's role).
EXPECTED_FUNNEL = {
    1: {"total": {"generated": 12, "extracted": 10, "verified_passing": 5, "unique": 4, "decontaminated": 3,
                  "used": 3, "pairs": 2, "reference_rows": 0, "flaky": 0, "truncated": 0},
        "removed_by_stage": {"decontam": 1, "dedup-exact": 2, "length": 1, "nonempty": 1, "status": 2},
        "removed": {"tiny/add#r1s1": "dedup-exact", "tiny/double#r1s2": "nonempty", "tiny/double#r1s3": "decontam",
                    "tiny/first#r1s0": "status", "tiny/first#r1s1": "dedup-exact", "tiny/first#r1s2": "length",
                    "tiny/first#r1s3": "status"},
        "sft": ["tiny/add#r1s0", "tiny/double#r1s0", "tiny/double#r1s1"],
        "pairs": [("tiny/add#r1s0", "tiny/add#r1s2"), ("tiny/add#r1s0", "tiny/add#r1s3")]},
    2: {"total": {"generated": 12, "extracted": 12, "verified_passing": 6, "unique": 4, "decontaminated": 4,
                  "used": 4, "pairs": 7, "reference_rows": 0, "flaky": 0, "truncated": 0},
        "removed_by_stage": {"seen-before": 3},
        "removed": {"tiny/add#r2s0": "seen-before", "tiny/add#r2s2": "seen-before", "tiny/double#r2s0": "seen-before"},
        "sft": ["tiny/add#r2s1", "tiny/double#r2s1", "tiny/first#r2s0", "tiny/first#r2s2"],
        "pairs": [("tiny/add#r2s1", "tiny/add#r2s3"),
                  ("tiny/double#r2s1", "tiny/double#r2s2"), ("tiny/double#r2s1", "tiny/double#r2s3"),
                  ("tiny/first#r2s0", "tiny/first#r2s3"), ("tiny/first#r2s2", "tiny/first#r2s3"),
                  ("tiny/first#r2s0", "tiny/first#r2s1"), ("tiny/first#r2s2", "tiny/first#r2s1")]},
}


def _task_file(path: Path, rows: list[tuple[str, str, str, str]], splits: list[str], prefix: str) -> Path:
    tasks = [Task(task_id=f"{prefix}/{name}", kind="python", prompt=prompt, entry_point=name,
                  test=f"def check(candidate):\n    {asserts}\n", reference=ref, split=split)
             for (name, prompt, asserts, ref), split in zip(rows, splits, strict=True)]
    write_jsonl(path, tasks)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from codekiln.train.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("loop")
    model = build_tiny_model(root / "tiny-model")
    tasks = _task_file(root / "tasks.jsonl", TASKS, SPLITS, "tiny")
    extra = _task_file(root / "extra.jsonl", EXTRA, ["test", "test"], "extra")
    config = root / "tiny.yaml"
    # Curation runs with its defaults; only the sizes are cut so each run takes seconds. Patience 2: validation falls
    # in round 1 and rises in round 2, so the run goes on and picks round 2 where test would pick round 1.
    config.write_text(f"""
runs_dir: {root / 'runs'}
tasks: {tasks}
rounds: 2
patience: 2
sample: {{model: {model}, backend: scripted, n: 4}}
verify: {{workers: 1, timeout_s: 5}}
train: {{max_steps: 2, batch_size: 2, grad_accum: 1, save_steps: 1, max_length: 128, lora_r: 4, lora_alpha: 8,
        report_to: [tensorboard]}}
eval: {{n: 2, temperature: 0.8, bootstrap: 50, extra: [{extra}]}}
""")
    return root, config


def _launch(root: Path, config: Path, *extra: str, kill: str = "") -> subprocess.CompletedProcess:
    """`codekiln run CONFIG --name t --quiet EXTRA` through the launcher; `kill` names where it SIGKILLs itself."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "CODEKILN_CACHE": str(root / "cache"), "CODEKILN_TEST_KILL": kill}
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "run", str(config), "--name", "t", "--quiet", *extra],
                            env=env, cwd=root, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        try:  # whatever the run left behind (sandbox workers die with it; this makes sure)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _markers(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): p.read_text() for p in sorted(run.glob("round-*/done/*.json"))}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def reference(setup) -> Path:
    """The uninterrupted run, moved aside once finished (its files name the run folder, which the killed run
    then reuses, so the two can be compared byte for byte)."""
    root, config = setup
    out = _launch(root, config)
    assert out.returncode == 0, out.stderr
    (root / "reference.stdout").write_text(out.stdout)
    (root / "runs" / "t").rename(root / "reference")
    return root / "reference"


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a TensorBoard log folder, read back from its event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_the_loop_and_the_trainer_log_to_tensorboard(reference):
    loop = _scalars(reference / "tensorboard" / "loop")
    assert loop["val/pass@1"] == [(r, pytest.approx(v)) for r, v in enumerate(VAL_PASS1)]
    assert loop["test/pass@1"] == [(r, pytest.approx(v)) for r, v in enumerate(PASS1)]
    assert all(low <= v <= high for (_, v), (_, low), (_, high)
               in zip(loop["test/pass@1"], loop["test/pass@1_low"], loop["test/pass@1_high"], strict=True))
    assert [r for r, _ in loop["round/pairs"]] == [1, 2] and [r for r, _ in loop["seconds/sample"]] == [1, 2]
    assert [r for r, _ in loop["peak_gib/child"]] == [0, 1, 2] and all(v > 0 for _, v in loop["peak_gib/loop"])
    assert json.loads((reference / "tracking.json").read_text()) == [0, 1, 2]
    steps = _scalars(reference / "round-1" / "model" / "tensorboard")
    assert [s for s, _ in steps["train/loss"]] == [1, 2]  # the trainer's own steps (train.max_steps 2)


def test_export_writes_hub_ready_folders_of_the_final_round(setup, reference, tmp_path, monkeypatch):
    root, _ = setup
    monkeypatch.setenv("CODEKILN_CACHE", str(root / "cache"))
    out = tmp_path / "export"
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "export", str(reference), "--out", str(out),
                           "--push-to-hub", "someone/model"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "CODEKILN_CACHE": str(root / "cache")})
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("codekiln export: error: cannot "
                                                                                   "push to the Hub: offline")
    card = (out / "adapter" / "README.md").read_text()
    assert "library_name: peft" in card and "round 2 of a codekiln run" in card  # the final round, chosen on val
    assert f"| round 2 | validation | {VAL_PASS1[2]:.1%}" in card and f"| round 2 | test | {PASS1[2]:.1%}" in card
    assert (out / "adapter" / "adapter_config.json").is_file() and not (out / "adapter" / "training_args.bin").exists()
    import datasets
    from transformers import AutoModelForCausalLM

    # its own cache: datasets may serve an earlier local folder of the same name and config from its shared cache
    pairs = datasets.load_dataset(str(out / "data"), "pairs", cache_dir=str(tmp_path / "hf"))["train"]
    want = sum(len(_lines(reference / f"round-{r}" / "curated" / "pairs.jsonl")) for r in (1, 2))
    assert len(pairs) == want and sorted(set(pairs["round"])) == [1, 2]
    assert AutoModelForCausalLM.from_pretrained(str(out / "merged")).num_parameters() > 0
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(out / "gguf" / "model.gguf"), n_ctx=64, verbose=False)
    assert llm.n_vocab() > 0 and (out / "gguf" / "adapter.gguf").is_file()
    assert "FROM ./model.gguf" in (out / "gguf" / "Modelfile").read_text()


def test_default_curation_end_to_end(setup, reference):
    root, _ = setup
    run = reference
    for r, want in EXPECTED_FUNNEL.items():
        curated = run / f"round-{r}" / "curated"
        funnel = json.loads((curated / "funnel.json").read_text())
        assert funnel["total"] == want["total"], r
        assert funnel["removed_by_stage"] == want["removed_by_stage"], r
        removed = {row["sample_id"]: row["stage"] for row in map(json.loads, _lines(curated / "removed.jsonl"))}
        assert removed == want["removed"], r
        sft = [json.loads(line)["sample_id"] for line in _lines(curated / "sft.jsonl")]
        assert sft == want["sft"], r
        pairs = [(p["chosen_id"], p["rejected_id"]) for p in map(json.loads, _lines(curated / "pairs.jsonl"))]
        assert pairs == want["pairs"], r
    decontam = json.loads(_lines(run / "round-1" / "curated" / "removed.jsonl")[2])
    assert decontam["eval_task"] == "tiny/last"  # contaminated by the test split's task, found by its text

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["pass1"] == PASS1  # test: base 0.25, round 1 0.75, round 2 0.5 (test alone would pick round 1)
    assert manifest["val_pass1"] == VAL_PASS1  # validation: 0.5, 0.25, 0.75
    assert manifest["selection_split"] == "val"
    assert manifest["final"] == "round-2/model" and os.readlink(run / "final") == "round-2/model"
    assert manifest["stop_reason"] == "finished 2 round(s)"  # round 1 fell on validation, patience 2
    assert manifest["code"]["version"] and manifest["model"]["sha256"]
    data = manifest["data"]
    assert (data["train_tasks"], data["val_tasks"], data["test_tasks"], data["val_source"]) == (3, 2, 2, "split")
    assert len(manifest["invocations"]) == 1

    # Validation tasks were evaluated for every model and never sampled for training.
    val_ids = {"tiny/inc", "tiny/sq"}
    for r in (0, 1, 2):
        assert {json.loads(line)["task_id"] for line in _lines(run / f"round-{r}" / "val" / "samples.jsonl")} == val_ids
    for r in (1, 2):
        sampled = {json.loads(line)["task_id"] for line in _lines(run / f"round-{r}" / "samples.jsonl")}
        assert sampled == {"tiny/add", "tiny/double", "tiny/first"}

    # The extra set: base and final only, each a stage of its own, compared with a paired interval.
    from codekiln.report.stats import extra_gain, run_stats
    from codekiln.splits import extra_name

    name = extra_name(str(root / "extra.jsonl"))
    assert manifest["transfer"] == {name: {"spec": str(root / "extra.jsonl"), "tasks": 2,
                                           "pass1": [EXTRA_PASS1[0], EXTRA_PASS1[2]]}}
    assert sorted(p.parents[2].name for p in run.glob(f"round-*/extra/{name}/metrics.json")) == ["round-0",
                                                                                                   "round-2"]
    assert (run / "round-2" / "done" / f"extra-{name}.json").exists()
    rounds = run_stats(run, 50)
    gain = extra_gain(rounds[0], rounds[2], name, 50)
    assert gain is not None and (gain.value, gain.tasks, gain.better, gain.worse) == (0.5, 2, 2, 0)

    # Each round trained on its pairs (dpo+nll: the default) and round 2 started from round 1's model.
    for r, start in ((1, str(root / "tiny-model")), (2, str(root / "runs" / "t" / "round-1" / "model"))):
        train = json.loads((run / f"round-{r}" / "done" / "train.json").read_text())["summary"]
        assert train["start"] == start and len(train["adapter_sha256"]) == 64
        info = json.loads((run / f"round-{r}" / "model" / "codekiln-model.json").read_text())
        assert info["method"] == "dpo+nll" and info["steps"] == 2
        assert not (run / f"round-{r}" / "model" / "checkpoints").exists()
    html = (run / "report.html").read_text()
    assert 'data-chart="passk"' in html and 'data-chart="loss"' in html and 'data-chart="overfit"' in html
    assert "final = round 2, chosen on validation pass@1 (75.0%; base 50.0%)" in html
    assert f'<tr class="transfer"><td>{name} ' in html and "+50.0 pts" in html
    stdout = (root / "reference.stdout").read_text()
    assert "test pass@1, final vs base: +25.0 pts" in stdout and "final model" in stdout
    assert f"transfer to {name} (never seen by the loop), final vs base: 25.0%" in stdout
    # Both models drew 6 passing train samples of 12 (no rise) while validation fell 50% -> 25%: no alarm, and the
    # line says what was compared (the alarms themselves: tests/test_run_alarms.py).
    checked = "no over-fitting sign (train pass rate vs validation pass@1, 1 pair(s) of models)"
    assert checked in stdout and checked in html


def _facts(run: Path) -> dict[str, Any]:
    """Everything a finished run must agree on with another run of the same command, by file.

    Bytes where the file is deterministic; verdicts without `duration_s` (a measured time); the training log's
    per-step values without its timings; stage records without their timings and peak memory.
    """
    facts: dict[str, Any] = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        rel = str(path.relative_to(run))
        if rel in {"report.html", ".lock"} or rel.endswith(".tmp"):
            continue
        if path.parent.name == "tensorboard" or path.parent.parent.name == "tensorboard":
            # Event files are named by time and process: compare what they hold, per folder, step by step
            # (a step logged before a kill and again after it must hold the same value); timings left out, and
            # the trainer's closing mean loss (over the steps the last process ran, not the whole training).
            folder = str(path.parent.relative_to(run))
            once = folder == "tensorboard/loop"  # the loop sends a round once, resumed or not: no step twice
            facts[folder] = {tag: series if once else dict(series) for tag, series in _scalars(path.parent).items()
                             if not tag.startswith(("seconds/", "peak_gib/")) and "runtime" not in tag
                             and "per_second" not in tag
                             and tag != "train/train_loss"}
            continue
        if path.name == "verdicts.jsonl":
            rows = [json.loads(line) for line in _lines(path)]
            facts[rel] = [{k: v for k, v in row.items() if k != "duration_s"} for row in rows]
        elif path.name == "train_log.jsonl":
            facts[rel] = [{k: v for k, v in row.items() if "runtime" not in k and "per_s" not in k}
                          for row in map(json.loads, _lines(path))]
        elif path.parent.name == "done":
            facts[rel] = json.loads(path.read_text())["summary"]
        elif rel == "manifest.json":
            manifest = json.loads(path.read_text())
            facts[rel] = {k: manifest[k] for k in ("pass1", "val_pass1", "selection_split", "final", "transfer",
                                                   "stop_reason", "model", "data", "seeds")}
        elif rel == "config.yaml":
            facts[rel] = path.read_text()
        else:
            facts[rel] = path.read_bytes()
    facts["final ->"] = os.readlink(run / "final")
    return facts


def _no_duplicates(run: Path) -> None:
    for folder, n, tasks in [(run / f"round-{r}", 4, 3) for r in (1, 2)] + \
            [(run / f"round-{r}" / split, 2, 2) for r in (0, 1, 2) for split in ("val", "eval")] + \
            [(p, 2, 2) for p in run.glob("round-*/extra/*")]:
        samples = [json.loads(line)["sample_id"] for line in _lines(folder / "samples.jsonl")]
        verdicts = [json.loads(line)["sample_id"] for line in _lines(folder / "verdicts.jsonl")]
        assert len(samples) == len(set(samples)) == n * tasks, folder
        assert verdicts == samples, folder


def test_killed_at_every_stage_finishes_like_an_uninterrupted_run(setup, reference):
    root, config = setup
    run = root / "runs" / "t"
    seen: dict[str, str] = {}  # every stage marker written before some kill: never rewritten afterwards

    def killed(point: str) -> None:
        out = _launch(root, config, kill=point)
        assert out.returncode == -signal.SIGKILL, (point, out.returncode, out.stderr[-2000:])
        for name, text in _markers(run).items():
            assert seen.setdefault(name, text) == text, f"{name} was rewritten by the rerun after {point}"

    # (a) Sampling: half of the 6th sample line is on disk.
    killed("sample")
    samples = (run / "round-1" / "samples.jsonl").read_bytes()
    assert samples.count(b"\n") == 5 and not samples.endswith(b"\n")
    streamed = samples[: samples.rfind(b"\n") + 1]
    round0 = {"round-0/done/val.json", "round-0/done/eval.json"}
    assert set(_markers(run)) == round0

    # (b) Training: checkpoint-2 holds its weights and optimizer, not yet its RNG and trainer state.
    killed("checkpoint")
    assert (run / "round-1" / "samples.jsonl").read_bytes().startswith(streamed)
    checkpoints = run / "round-1" / "model" / "checkpoints"
    assert (checkpoints / "checkpoint-2" / "optimizer.pt").exists()
    assert not (checkpoints / "checkpoint-2" / "trainer_state.json").exists()
    assert (checkpoints / "checkpoint-1" / "trainer_state.json").exists()
    assert not (run / "round-1" / "model" / "codekiln-model.json").exists()
    assert set(_markers(run)) == round0 | {f"round-1/done/{s}.json" for s in ("sample", "verify", "curate")}

    # (c) Evaluation: two verdicts of round 1's evaluation are streamed.
    killed("eval")
    eval_dir = run / "round-1" / "eval"
    streamed_verdicts = _lines(eval_dir / "verdicts.jsonl")
    assert len(streamed_verdicts) == 2 and not (eval_dir / "metrics.json").exists()
    assert "round-1/done/train.json" in _markers(run) and "round-1/done/eval.json" not in _markers(run)
    assert not checkpoints.exists()

    # (d) Curation: round 2's sft.jsonl is written, its other files are not.
    killed("curate")
    curated = run / "round-2" / "curated"
    assert (curated / "sft.jsonl").exists() and not (curated / "funnel.json").exists()
    assert "round-2/done/curate.json" not in _markers(run)
    # Verdicts streamed before the kill were kept as they were (measured times included), not computed again.
    assert set(streamed_verdicts) <= set(_lines(eval_dir / "verdicts.jsonl"))

    # (e) Transfer: the base model's evaluation on the extra set has two verdicts streamed; every round is done.
    killed("extra")
    (extra_dir,) = run.glob("round-0/extra/*")
    streamed_extra = _lines(extra_dir / "verdicts.jsonl")
    assert len(streamed_extra) == 2 and not (extra_dir / "metrics.json").exists()
    assert "round-2/done/eval.json" in _markers(run) and not list(run.glob("round-*/done/extra-*.json"))
    assert os.readlink(run / "final") == "round-2/model"  # linked before the transfer evaluations
    assert "transfer" not in json.loads((run / "manifest.json").read_text())  # the run's end was not reached

    out = _launch(root, config)
    assert out.returncode == 0, out.stderr
    assert set(streamed_extra) <= set(_lines(extra_dir / "verdicts.jsonl"))
    for name, text in seen.items():
        assert _markers(run)[name] == text, name
    _no_duplicates(run)
    _no_duplicates(reference)
    got, want = _facts(run), _facts(reference)
    assert sorted(got) == sorted(want)
    assert [name for name in want if got[name] != want[name]] == [], "differ from the uninterrupted run's"
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["invocations"]) == 6
    (root / "kill-test-done").write_text("ok")


def test_rerun_with_stricter_rule_repeats_nothing(setup):
    from codekiln.splits import extra_name

    root, config = setup
    run = root / "runs" / "t"
    if not (root / "kill-test-done").exists():
        pytest.skip("needs the finished run of test_killed_at_every_stage_finishes_like_an_uninterrupted_run")
    before = _markers(run)
    out = _launch(root, config, "rounds=4", "patience=1")
    assert out.returncode == 0, out.stderr
    # Round 1 lost validation pass@1, so with patience 1 the rule stops there and round 1 becomes final (round 2,
    # trained from it, is not a candidate any more); the only new stage is round 1's transfer evaluation.
    name = extra_name(str(root / "extra.jsonl"))
    assert set(_markers(run)) - set(before) == {f"round-1/done/extra-{name}.json"}
    assert {k: v for k, v in _markers(run).items() if k in before} == before
    assert not (run / "round-3").exists()
    assert "stopped after round 1" in out.stdout
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["pass1"], manifest["val_pass1"]) == (PASS1[:2], VAL_PASS1[:2])
    assert manifest["final"] == "round-1/model" and os.readlink(run / "final") == "round-1/model"
    assert manifest["transfer"][name]["pass1"] == [EXTRA_PASS1[0], EXTRA_PASS1[1]]
    # A different config in the same folder is refused with one line.
    bad = _launch(root, config, "sample.n=3")
    assert bad.returncode == 2 and "sample.n=4, not 3" in bad.stderr and "Traceback" not in bad.stderr
    # So are changed tasks (same config, same file name, different content).
    tasks = root / "tasks.jsonl"
    original = tasks.read_text()
    try:
        tasks.write_text(original.replace("Return -x.", "Return minus x."))
        changed = _launch(root, config)
        assert changed.returncode == 2 and "changed since run 't' started" in changed.stderr
    finally:
        tasks.write_text(original)


def test_grpo_rounds_train_online_and_evaluate_like_the_others(setup):
    """`codekiln run train.method=grpo`: each round trains online on its train tasks (the tiny model's noise earns
    0, so the adapter barely moves: what is checked is the loop's shape), then evaluates on val and test."""
    root, config = setup
    out = _launch(root, config, "train.method=grpo", "train.num_generations=2", "train.completion_tokens=8",
                  "rounds=1", "--name", "g")
    assert out.returncode == 0, out.stderr
    run = root / "runs" / "g"
    rdir = run / "round-1"
    assert not (rdir / "samples.jsonl").exists() and not (rdir / "curated").exists()
    trained = json.loads((rdir / "model" / "codekiln-model.json").read_text())
    assert trained["method"] == "grpo" and trained["steps"] == 2
    assert {t["task_id"] for t in map(json.loads, _lines(rdir / "train_tasks.jsonl"))} == {
        "tiny/add", "tiny/double", "tiny/first"}
    assert any("reward" in row for row in map(json.loads, _lines(rdir / "model" / "train_log.jsonl")))
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["val_pass1"]) == 2 and manifest["pass1"][1] is not None
    assert (run / "report.html").is_file()
    assert "reward " in out.stdout  # the table's train column shows the online round's mean reward
