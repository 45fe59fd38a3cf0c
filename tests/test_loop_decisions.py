"""`codekiln run` decides on validation only: the stopping rule and `final` follow the validation numbers and
ignore the test numbers. Each case resumes a run folder whose every stage is already marked done (the real resume
path: `run` reads each stage's pass@1 back from its done-marker), with the validation and test figures written
into the markers, so the whole decision path of `run` is exercised without a model."""

import json
import os
import time

import pytest

from codekiln.config import load_config
from codekiln.errors import UserError
from codekiln.loop import run
from codekiln.records import Task, write_jsonl
from codekiln.rundir import RunDir


def _config(tmp_path, *overrides: str):
    tasks = [Task(task_id=f"t/{i}", kind="python", prompt=f"def f{i}(x):\n", entry_point=f"f{i}",
                  test="def check(candidate):\n    assert True\n", split="train" if i < 12 else "test")
             for i in range(14)]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    return load_config(overrides=[f"runs_dir={tmp_path / 'runs'}", f"tasks={tmp_path / 'tasks.jsonl'}", "name=t",
                                  "rounds=2", "min_gain=0.01", "patience=1", "eval.val_size=3", "eval.extra=[]",
                                  *overrides])


def _replay(tmp_path, val: list[float], test: list[float | None], *overrides: str,
            judged: dict[tuple[int, str], float] | None = None):
    """Run `codekiln run` on a folder whose stages all finished with these pass@1 figures; its result and manifest.

    `judged`: (round, stage) -> rating difference of finished side-by-side judgings (`val-vs-base`, `eval-vs-base`).
    """
    root = tmp_path / "runs" / "t"
    if root.exists():  # each case starts from its own folder
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    run_dir = RunDir(root)
    started = time.time()
    for r in range(len(val)):
        if r:
            for name in ("samples.jsonl", "verdicts.jsonl"):
                write_jsonl(run_dir.round_dir(r) / name, [])
            run_dir.mark_done(r, "sample", started, {"samples": 0})
            run_dir.mark_done(r, "verify", started, {"verdicts": 0})
            run_dir.mark_done(r, "curate", started, {"sft_rows": 1, "pairs": 1, "funnel": {}})
            run_dir.mark_done(r, "train", started, {"model": str(run_dir.round_dir(r) / "model")})
        run_dir.mark_done(r, "val", started, {"pass@1": val[r]})
        if test[r] is not None:
            run_dir.mark_done(r, "eval", started, {"pass@1": test[r]})
    for (r, stage), diff in (judged or {}).items():
        run_dir.mark_done(r, stage, started, {"difference": diff, "ci95": [diff - 1, diff + 1], "tasks": 3})
    result = run(_config(tmp_path, *overrides), quiet=True)
    return result, json.loads((root / "manifest.json").read_text())


def test_stopping_and_final_follow_validation_not_test(tmp_path):
    # Validation falls in round 2: stop there, and round 1 is final, although test is best in round 2.
    first, manifest = _replay(tmp_path, val=[0.1, 0.3, 0.2], test=[0.1, 0.2, 0.4])
    assert (first.final_round, first.stop_reason) == (1, "validation pass@1 gained less than 0.01 for 1 round(s) "
                                                         "(stopped after round 2)")
    assert manifest["selection_split"] == "val" and manifest["final"] == "round-1/model"
    assert (manifest["val_pass1"], manifest["pass1"]) == ([0.1, 0.3, 0.2], [0.1, 0.2, 0.4])
    assert os.readlink(tmp_path / "runs" / "t" / "final") == "round-1/model"

    # Only the test numbers change (whatever they say): nothing decided changes.
    for test in ([0.9, 0.1, 0.5], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]):
        same, manifest = _replay(tmp_path, val=[0.1, 0.3, 0.2], test=test)
        assert (same.final_round, same.stop_reason) == (first.final_round, first.stop_reason), test
        assert manifest["pass1"] == test

    # Only the validation numbers change: final and the stopping rule follow them.
    later, _ = _replay(tmp_path, val=[0.1, 0.3, 0.4], test=[0.1, 0.2, 0.4])
    assert (later.final_round, later.stop_reason) == (2, "finished 2 round(s)")
    early, _ = _replay(tmp_path, val=[0.3, 0.3, 0.9], test=[0.1, 0.2, 0.4])
    assert early.final_round == 1 and "stopped after round 1" in early.stop_reason  # round 2 never looked at


def test_a_judged_run_decides_on_its_rounds_judged_beside_the_base(tmp_path):
    """eval.select_on=vs-base: round R's validation answers judged beside the base's (a `val-vs-base` marker each)
    decide, whatever pass@1 says; the final model is then judged beside the base on test too (`eval-vs-base`)."""
    judged = {(1, "val-vs-base"): -0.5, (2, "val-vs-base"): 0.3, (2, "eval-vs-base"): 0.2}
    result, manifest = _replay(tmp_path, [0.5, 0.9, 0.1], [0.1, 0.2, 0.4], "eval.select_on=vs-base", "patience=2",
                               judged=judged)
    assert result.final_round == 2 and manifest["selection_metric"] == "vs-base"
    assert manifest["val_selection"] == [0.0, -0.5, 0.3] and manifest["val_pass1"] == [0.5, 0.9, 0.1]
    result, manifest = _replay(tmp_path, [0.5, 0.9, 0.1], [0.1, 0.2, 0.4], "eval.select_on=pass@1", "patience=2",
                               judged=judged)
    assert result.final_round == 1 and manifest["selection_metric"] == "pass@1"


def test_per_round_test_evaluation_off_evaluates_only_the_final_model_on_test(tmp_path, monkeypatch):
    """eval.test_each_round=false: no round is evaluated on test during the loop; the final model is, at the end.
    The evaluation itself is replaced by a recorder (what is tested is which models the loop evaluates)."""
    import codekiln.evaluate.run as evaluate_run

    calls = []

    def record(model, tasks, *args, **kwargs):
        calls.append((model, len(tasks)))
        return evaluate_run.EvalResult(pass_at={1: 0.7}, ci={}, score=None, tasks=len(tasks), samples=len(tasks),
                                       metrics={})

    monkeypatch.setattr(evaluate_run, "evaluate_model", record)
    result, manifest = _replay(tmp_path, [0.1, 0.3, 0.2], [0.1, None, None], "eval.test_each_round=false")
    root = tmp_path / "runs" / "t"
    assert result.final_round == 1 and calls == [(str(root / "round-1" / "model"), 2)]
    assert manifest["pass1"] == [0.1, 0.7, None]
    assert json.loads((root / "round-1" / "done" / "eval.json").read_text())["summary"]["pass@1"] == 0.7


def test_a_run_folder_from_before_validation_splits_is_refused(tmp_path):
    """A codekiln-run/1 folder made with this very config: its rounds sampled what are validation tasks now."""
    from codekiln.config import config_to_yaml
    from codekiln.rundir import hash_tasks
    from codekiln.tasks.load import load_tasks

    cfg = _config(tmp_path)
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"val_size": 100, "extra": None})})  # defaults
    root = tmp_path / "runs" / "t"
    tasks = load_tasks(cfg.tasks)
    data = {f"{split}_sha256": hash_tasks([t for t in tasks if t.split == split]) for split in ("train", "test")}
    RunDir(root).update_manifest(format="codekiln-run/1", created="2026-01-01", data=data, pass1=[0.1, 0.2],
                                 final="round-1/model")
    saved = config_to_yaml(cfg)
    for line in ("  val_size: 100\n", "  test_each_round: true\n", "  extra: null\n"):
        assert line in saved
        saved = saved.replace(line, "")  # the old config had no such keys: read back, they take their defaults
    (root / "config.yaml").write_text(saved)
    with pytest.raises(UserError, match=r"holds a codekiln-run/1 run, made before validation splits.*another --name"):
        run(cfg, quiet=True)
    assert (root / "config.yaml").read_text() == saved  # refused before anything was written
    assert not (root / "round-0").exists()
