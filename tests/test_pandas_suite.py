"""The pandas-basic suite: sizes, splits, and every reference produces a comparable result."""

from __future__ import annotations

from collections import Counter

from codekiln.tasks import load_tasks
from codekiln.tasks.pandas_basic import load
from codekiln.verify.compare import ValueOptions, compare_values
from codekiln.verify.pandas import run_program


def test_suite_is_registered_and_sized():
    tasks = load_tasks("pandas-basic")
    splits = Counter(t.split for t in tasks)
    assert splits["train"] >= 150 and splits["test"] >= 50
    assert {t.kind for t in tasks} == {"pandas"}
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert not {t.setup for t in tasks if t.split == "train"} & {t.setup for t in tasks if t.split == "test"}


def test_training_items_are_not_flagged_as_test_contamination():
    from codekiln.curate.decontam import EvalIndex
    from codekiln.sample.prompts import task_text

    tasks = load()
    index = EvalIndex([t for t in tasks if t.split == "test"])
    flagged = [t.task_id for t in tasks if t.split == "train" and (index.check(task_text(t)) or index.check(t.reference))]
    assert flagged == []


def test_every_reference_produces_its_result():
    """References are the project's own code, so they may run here; the sandbox path is tested elsewhere."""
    for task in load():
        out = run_program(task.setup, task.reference, task.result_name, "")
        assert "value" in out, (task.task_id, out)
        value = out["value"]
        assert value["type"] in ("dataframe", "series", "scalar", "list", "dict"), task.task_id
        assert compare_values(value, value, ValueOptions.from_meta(task.meta)).equal, task.task_id


def test_references_differ_from_a_naive_answer():
    """A task whose answer is `df` itself would teach nothing: every reference differs from the raw input."""
    for task in load():
        gold = run_program(task.setup, task.reference, "result", "")["value"]
        naive = run_program(task.setup, "result = df", "result", "")["value"]
        assert not compare_values(gold, naive, ValueOptions.from_meta(task.meta)).equal, task.task_id
