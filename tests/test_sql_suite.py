"""The sql-basic suite: sizes, splits, difficulty spread, and every gold query runs and returns rows."""

from __future__ import annotations

import sqlite3
from collections import Counter

from codekiln.tasks import load_tasks
from codekiln.tasks.sql_basic import DATABASES, database, load


def test_suite_is_registered_and_sized():
    tasks = load_tasks("sql-basic")
    splits = Counter(t.split for t in tasks)
    assert splits["train"] >= 300 and splits["test"] >= 100
    assert len(DATABASES) >= 8
    assert {t.meta["database_name"] for t in tasks} == set(DATABASES)
    assert {t.kind for t in tasks} == {"sql"}
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert load_tasks("sql-basic:test") == [t for t in tasks if t.split == "test"]


def test_train_and_test_share_no_question_and_no_database():
    tasks = load()
    train = {t.prompt for t in tasks if t.split == "train"}
    test = {t.prompt for t in tasks if t.split == "test"}
    assert train and test and not train & test
    assert not {t.schema for t in tasks if t.split == "train"} & {t.schema for t in tasks if t.split == "test"}


def test_training_items_are_not_flagged_as_test_contamination():
    """Curation drops training items that contain a test prompt or gold query: none of the suite's may be."""
    from codekiln.curate.decontam import EvalIndex
    from codekiln.sample.prompts import task_text

    tasks = load()
    index = EvalIndex([t for t in tasks if t.split == "test"])
    flagged = [t.task_id for t in tasks if t.split == "train" and (index.check(task_text(t)) or index.check(t.reference))]
    assert flagged == []


def test_difficulty_spread_in_both_splits():
    tasks = load()
    for split in ("train", "test"):
        kinds = Counter(t.meta["difficulty"] for t in tasks if t.split == split)
        for kind in ("filter", "join", "group", "having", "subquery", "window"):
            assert kinds[kind] >= (10 if split == "train" else 3), (split, kind, kinds)


def test_generation_is_deterministic():
    database.cache_clear()
    first = [(t.task_id, t.reference, t.rows) for t in load()]
    database.cache_clear()
    assert first == [(t.task_id, t.reference, t.rows) for t in load()]


def test_every_gold_query_runs_and_returns_rows():
    conns: dict[str, sqlite3.Connection] = {}
    for task in load():
        name = task.meta["database_name"]
        if name not in conns:
            conns[name] = sqlite3.connect(":memory:")
            conns[name].executescript(task.schema + "\n" + task.rows)
        rows = conns[name].execute(task.reference).fetchall()
        assert rows, task.task_id
        assert rows != [(0,)] and rows != [(None,)], (task.task_id, task.reference)


def test_questions_name_the_columns_they_need():
    for task in load()[:200]:
        assert "`" in task.prompt, task.prompt
        assert "CREATE TABLE" in task.schema and len(task.schema) < 1200
