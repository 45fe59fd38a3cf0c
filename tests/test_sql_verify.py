"""SqlVerifier through the real sandbox: gold queries pass, wrong/hostile queries get the right status."""

from __future__ import annotations

import pytest

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task
from codekiln.verify import get_verifier
from codekiln.verify.sql import DB_NAME, harness

SCHEMA = "CREATE TABLE pets (pet_id INTEGER PRIMARY KEY, name TEXT, kind TEXT, weight REAL);"
ROWS = ("INSERT INTO pets VALUES (1, 'Rex', 'dog', 30.5), (2, 'Tom', 'cat', 4.25), (3, 'Kit', 'cat', 3.5), "
        "(4, 'Bo', 'dog', 12.0), (5, 'Sly', NULL, 0.2);")


def _task(reference: str, task_id: str = "t") -> Task:
    return Task(task_id=task_id, kind="sql", prompt="q", schema=SCHEMA, rows=ROWS, reference=reference)


@pytest.fixture(scope="module")
def verifier():
    v = get_verifier("sql", VerifyConfig(workers=2, timeout_s=2.0, timeout_floor_s=1.0))
    yield v
    v.close()


def _run(verifier, task: Task, queries: list[str]):
    jobs = [(task, Sample(task_id=task.task_id, sample_id=str(i), completion=q)) for i, q in enumerate(queries)]
    seen: list[int] = []
    verdicts = verifier.verify(jobs, on_verdict=lambda v: seen.append(int(v.sample_id)))
    assert sorted(seen) == list(range(len(jobs)))
    return verdicts


def test_statuses_and_feedback(verifier):
    task = _task("SELECT name FROM pets WHERE kind = 'cat'")
    verdicts = _run(verifier, task, [
        "SELECT name FROM pets WHERE kind = 'cat'",
        "select p.name from pets as p where p.kind='cat' order by p.name;",  # order is free: the gold has no ORDER BY
        "SELECT name FROM pets",
        "SELECT name, kind FROM pets WHERE kind = 'cat'",
        "SELECT nme FROM pets",
        "SELECT name FROM pets WHERE",
        "DELETE FROM pets",
        "SELECT 1; DROP TABLE pets",
    ])
    statuses = [v.status for v in verdicts]
    assert statuses == ["passed", "passed", "failed", "failed", "runtime_error", "syntax_error", "invalid", "invalid"]
    assert "expected 2 row(s), got 5" in verdicts[2].feedback
    assert "column count" in verdicts[3].feedback
    assert "no such column" in verdicts[4].feedback
    assert "syntax error" in verdicts[5].feedback or "incomplete" in verdicts[5].feedback
    assert [v.score for v in verdicts[:3]] == [1.0, 1.0, 0.0]


def test_order_matters_when_the_gold_orders(verifier):
    task = _task("SELECT name FROM pets ORDER BY weight DESC", "ordered")
    verdicts = _run(verifier, task, ["SELECT name FROM pets ORDER BY weight DESC",
                                     "SELECT name FROM pets ORDER BY weight ASC"])
    assert [v.status for v in verdicts] == ["passed", "failed"]
    assert "wrong order" in verdicts[1].feedback


def test_a_query_that_runs_forever_is_stopped(verifier):
    task = _task("SELECT COUNT(*) FROM pets", "forever")
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    (verdict,) = _run(verifier, task, [forever])
    assert verdict.status == "timeout" and "longer than" in verdict.feedback


def test_writes_and_attach_are_refused_inside_the_sandbox(verifier):
    """The harness itself (not only the text check) refuses anything but reading, and the copy stays unchanged."""
    sandbox = verifier.sandbox
    db = verifier.gold.database(_task("SELECT 1", "db"))
    for hostile in ("DELETE FROM pets", "ATTACH DATABASE 'other.db' AS other", "PRAGMA query_only = 0",
                    "CREATE TABLE x (a)", "UPDATE pets SET name = 'x'"):
        run = sandbox.run(harness(hostile, 2.0, 100), files={DB_NAME: db}, limits=verifier.limits)
        assert run.status == "ok" and run.sent, hostile
        assert "error" in run.value, (hostile, run.value)
    probe = "SELECT COUNT(*) FROM pets"
    run = sandbox.run(harness(probe, 2.0, 100), files={DB_NAME: db}, limits=verifier.limits)
    assert run.value["rows"] == [[5]]


def test_the_gold_result_is_computed_once(verifier):
    task = _task("SELECT COUNT(*) FROM pets", "cached")
    first = verifier.gold.result(task)
    assert verifier.gold.result(task) is first
    assert first == ([[5]], False)


def test_a_broken_gold_query_is_a_verdict_not_a_crash(verifier):
    (verdict,) = _run(verifier, _task("SELECT nope FROM pets", "broken"), ["SELECT 1"])
    assert verdict.status == "runtime_error" and "gold query" in verdict.feedback


def test_sql_basic_gold_queries_pass_through_the_sandbox(verifier):
    from codekiln.tasks.sql_basic import load

    tasks = load()
    picked = {}
    for task in tasks:  # one task per template: every query shape goes through the real path
        picked.setdefault(task.meta["template"], task)
    jobs = [(t, Sample(task_id=t.task_id, sample_id="gold", completion=t.reference)) for t in picked.values()]
    verdicts = verifier.verify(jobs)
    assert all(v.passed for v in verdicts), [(v.task_id, v.feedback) for v in verdicts if not v.passed]
