"""The loop's pieces that need no model: the stopping rule, the run folder, its markers, lock and config check."""

import json
import os
import subprocess
import sys
import time

import pytest

from codekiln.commands.run import split_items
from codekiln.config import load_config
from codekiln.errors import UserError
from codekiln.loop import best_round, selection_metric, should_stop
from codekiln.records import Task
from codekiln.rundir import RunDir, code_version, config_hash, default_name, hash_path


@pytest.mark.parametrize(
    ("pass1", "min_gain", "patience", "stop"),
    [
        ([0.10], 0.01, 1, False),  # only the baseline: nothing to judge yet
        ([0.10, 0.20], 0.01, 1, False),  # gained 10 points
        ([0.10, 0.105], 0.01, 1, True),  # gained half a point < 1 point
        ([0.10, 0.105], 0.01, 2, False),  # one stale round, patience 2
        ([0.10, 0.105, 0.108], 0.01, 2, True),  # two stale rounds in a row
        ([0.10, 0.105, 0.20, 0.205], 0.01, 2, False),  # the streak was broken by round 2
        ([0.10, 0.30, 0.20], 0.0, 1, True),  # worse than the best so far (not just the previous round)
        ([0.10, 0.30, 0.20, 0.31], 0.02, 1, True),  # 0.31 - best(0.30) = 0.01 < 0.02
        ([0.10, 0.10], 0.0, 1, False),  # equal is not less than a zero threshold
    ],
)
def test_stopping_rule(pass1, min_gain, patience, stop):
    assert should_stop(pass1, min_gain, patience) is stop


def test_best_round_is_a_trained_round_earliest_on_ties():
    assert best_round([0.5]) is None
    assert best_round([0.5, 0.2, 0.3]) == 2  # the base was better, but final must be a trained model
    assert best_round([0.1, 0.3, 0.3, 0.2]) == 1


def test_graded_validation_tasks_decide_on_their_mean_score():
    html, opened, sql = (Task(task_id=f"{k}/1", kind=k, prompt="p") for k in ("html", "open", "sql"))
    assert selection_metric("auto", [html, opened]) == "score"
    assert selection_metric("auto", [html, sql]) == "pass@1"  # a tested kind among them: a pass is a pass
    assert selection_metric("auto", [sql]) == "pass@1"
    assert selection_metric("auto", [opened, opened]) == "score"  # vs-base only when asked for (see its docstring)
    assert selection_metric("pass@1", [html]) == "pass@1" and selection_metric("score", [sql]) == "score"
    with pytest.raises(UserError, match="select_on"):
        load_config(overrides=["eval.select_on=best"])


def test_default_name_is_deterministic_and_ignores_round_count():
    a = load_config(overrides=["rounds=2"])
    b = load_config(overrides=["rounds=5", "min_gain=0.1"])
    c = load_config(overrides=["sample.n=3"])
    assert default_name(a) == default_name(b)
    assert config_hash(a) != config_hash(c) and default_name(a) != default_name(c)
    assert default_name(a).startswith("sql-basic-smollm2-135m-")


def test_config_saved_then_mismatch_refused(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.check_or_save_config(load_config(overrides=["rounds=1"])) is False
    assert "rounds: 1" in run.config_path.read_text()
    # more rounds: the same run, extended
    assert run.check_or_save_config(load_config(overrides=["rounds=3"])) is True
    assert "rounds: 3" in run.config_path.read_text()
    default_steps = load_config().train.max_steps
    with pytest.raises(UserError, match=rf"train\.max_steps={default_steps}, not 5"):
        run.check_or_save_config(load_config(overrides=["rounds=3", "train.max_steps=5"]))


def test_markers_and_manifest(tmp_path):
    run = RunDir(tmp_path / "r")
    run.update_manifest(invocations=[{"started": "x"}])
    assert run.done(1, "sample") is None
    started = time.time()
    run.mark_done(1, "verify", started, {"passed": 3})
    run.mark_done(1, "sample", started, {"samples": 8})
    run.mark_done(0, "eval", started, {"pass@1": 0.25})
    assert run.done(1, "sample").summary == {"samples": 8}
    manifest = run.update_manifest(final=None)
    assert [(s["round"], s["stage"]) for s in manifest["stages"]] == [(0, "eval"), (1, "sample"), (1, "verify")]
    assert json.loads(run.manifest_path.read_text())["stages"][0]["summary"] == {"pass@1": 0.25}
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_a_stage_record_holds_the_peak_memory_of_the_loop_and_of_its_largest_child(tmp_path):
    """A process marks a stage done after a child of its touched 512 MiB more than this test's process ever held.
    (Linux carries a process's peak across exec, so the marking process starts at up to this one's peak.)"""
    import resource

    child_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 + 512
    script = (
        "import subprocess, sys, time\n"
        "from codekiln.rundir import RunDir\n"
        f"subprocess.run([sys.executable, '-c', 'b = bytearray({child_mib} << 20); b[::4096] = bytes(len(b[::4096]))'],"
        " check=True)\n"
        "RunDir(sys.argv[1]).mark_done(1, 'train', time.time(), {})\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "r")], check=True)
    record = RunDir(tmp_path / "r").done(1, "train")
    assert record is not None
    assert record.peak_gib["child"] >= child_mib / 1024 > record.peak_gib["loop"] + 0.4 > 0.4


def test_lock_refuses_a_second_process(tmp_path):
    run = RunDir(tmp_path / "r")
    run.root.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(60)", str(run.root / ".lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match="in use by another"):
            with run.lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    with run.lock():  # the dead holder's lock is gone
        pass


def test_link_final_points_at_round_model(tmp_path):
    run = RunDir(tmp_path / "r")
    for r in (1, 2):
        model = run.round_dir(r) / "model"
        model.mkdir(parents=True)
        (model / "codekiln-model.json").write_text(json.dumps({"round": r}))
    run.link_final(run.round_dir(1) / "model")
    run.link_final(run.round_dir(2) / "model")  # replaced, not nested
    link = run.root / "final"
    assert os.readlink(link) == os.path.join("round-2", "model")
    assert json.loads((link / "codekiln-model.json").read_text()) == {"round": 2}


def test_hash_path_changes_with_content(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"1")
    first = hash_path(folder)
    (folder / "a.bin").write_bytes(b"2")
    assert hash_path(folder) != first
    assert hash_path(tmp_path / "missing") is None


def test_code_version_reports_commit():
    version = code_version()
    assert version["version"]
    if version["commit"] is not None:  # running from a git checkout
        assert len(version["commit"]) == 40 and isinstance(version["dirty"], bool)


def test_split_items():
    assert split_items([]) == (None, [])
    assert split_items(["c.yaml", "rounds=2", "sample.n=3"]) == ("c.yaml", ["rounds=2", "sample.n=3"])
    assert split_items(["rounds=2"]) == (None, ["rounds=2"])
    with pytest.raises(UserError, match="at most one config file"):
        split_items(["a.yaml", "b.yaml"])
    with pytest.raises(UserError, match="must come before"):
        split_items(["rounds=2", "a.yaml"])


def test_cli_run_bad_override_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "run", "rounds=2", "sample.nn=3"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "sample.nn" in out.stderr and "Traceback" not in out.stderr


def test_cli_report_missing_run_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "report", str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "not a run folder" in out.stderr and "Traceback" not in out.stderr


def test_cli_run_overrides_after_options_reach_the_config(tmp_path):
    # A wrong key after the options must be reported as a config error (so it was parsed as an override).
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "run", "--quiet", "--name", "x", "rounds=1",
                          "train.nope=1"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "train.nope" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "run", "--quiet", "--bogus"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "--bogus" in out.stderr
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "list", "extra=1"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "unrecognized arguments: extra=1" in out.stderr


def test_round_tasks_rotate_through_the_train_split():
    from codekiln.loop import round_tasks

    tasks = list(range(10))
    assert round_tasks(tasks, None, 3) == tasks
    assert round_tasks(tasks, 20, 2) == tasks
    assert round_tasks(tasks, 4, 1) == [0, 1, 2, 3]
    assert round_tasks(tasks, 4, 2) == [4, 5, 6, 7]
    assert round_tasks(tasks, 4, 3) == [8, 9, 0, 1]  # wraps around


def test_run_defaults_apply_key_by_key():
    from codekiln.config import RunConfig, SampleConfig

    assert RunConfig().sample.n == 4 and SampleConfig().n == 8  # run's own default, the sample command's kept
    cfg = load_config(overrides=["sample.temperature=0.5"])
    assert cfg.sample.n == 4 and cfg.sample.top_k == 40 and cfg.sample.temperature == 0.5
    assert load_config(overrides=["sample.n=6"]).sample.n == 6
    with pytest.raises(UserError, match="patience"):
        load_config(overrides=["patience=0"])
