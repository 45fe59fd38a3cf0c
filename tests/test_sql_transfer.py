"""The sql-transfer suite: a test-only text-to-SQL set whose databases and question wording are not sql-basic's;
every gold query informative and passing the real verifier, wrong answers failing."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from contextlib import closing

from codekiln.cli import main
from codekiln.config import VerifyConfig
from codekiln.records import Sample
from codekiln.tasks import load_tasks
from codekiln.tasks.sql_basic import informative
from codekiln.tasks.sql_transfer import build_tasks
from codekiln.verify import get_verifier


def _tables(schema: str) -> set[str]:
    return set(re.findall(r"CREATE TABLE (\w+)", schema))


def _skeleton(question: str, tables: set[str]) -> list[str]:
    """A question's template wording: identifiers, values, numbers and table words replaced by placeholders."""
    text = re.sub(r"`[^`]*`", " C ", question)
    text = re.sub(r"'[^']*'", " V ", text)
    text = re.sub(r"\d+(\.\d+)?", " N ", text)
    nouns = tables | {re.sub(r"(ies|es|s)$", lambda m: "y" if m.group(1) == "ies" else "", t) for t in tables}
    return ["T" if w in nouns else w for w in re.findall(r"[a-zA-Z]+", text.lower())]


def test_suite_is_registered_test_only_and_listed(capsys):
    tasks = load_tasks("sql-transfer")
    assert 100 <= len(tasks) <= 150
    assert {t.split for t in tasks} == {"test"} and {t.kind for t in tasks} == {"sql"}
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert load_tasks("sql-transfer:test") == tasks
    by_db = Counter(t.meta["database_name"] for t in tasks)
    assert len(by_db) >= 5
    spread = Counter(t.meta["difficulty"] for t in tasks)
    assert all(spread[d] >= 5 for d in ("filter", "aggregate", "order", "group", "having", "join", "subquery", "window"))
    assert main(["tasks", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "sql-transfer" in line)
    assert f" {len(tasks)} " in row


def test_generation_is_deterministic():
    first = [(t.task_id, t.prompt, t.reference, t.rows) for t in build_tasks()]
    assert first == [(t.task_id, t.prompt, t.reference, t.rows) for t in build_tasks()]


def test_no_database_table_or_template_wording_is_shared_with_sql_basic():
    transfer, basic = load_tasks("sql-transfer"), load_tasks("sql-basic")
    assert not {t.meta["database_name"] for t in transfer} & {t.meta["database_name"] for t in basic}
    assert not {t.meta["template"] for t in transfer} & {t.meta["template"] for t in basic}
    transfer_tables = set().union(*(_tables(t.schema) for t in transfer))
    basic_tables = set().union(*(_tables(t.schema) for t in basic))
    assert not transfer_tables & basic_tables

    def grams(tasks, tables, n=6):
        return {tuple(words[i:i + n]) for t in tasks for words in [_skeleton(t.prompt, tables)]
                for i in range(len(words) - n + 1)}

    shared = grams(transfer, transfer_tables) & grams(basic, basic_tables)
    assert not shared, sorted(shared)[:5]


def test_neither_suite_flags_the_other_as_contamination():
    """The loop trains on sql-basic and evaluates on sql-transfer: curation must not drop training items for it."""
    from codekiln.curate.decontam import EvalIndex
    from codekiln.sample.prompts import task_text

    transfer, basic = load_tasks("sql-transfer"), load_tasks("sql-basic:train")
    index = EvalIndex(transfer)
    assert [t.task_id for t in basic if index.check(task_text(t)) or index.check(t.reference)] == []


def test_every_gold_query_returns_an_informative_result():
    conns: dict[str, sqlite3.Connection] = {}
    for task in load_tasks("sql-transfer"):
        name = task.meta["database_name"]
        if name not in conns:
            conns[name] = sqlite3.connect(":memory:")
            conns[name].executescript(task.schema + "\n" + task.rows)
        rows = conns[name].execute(task.reference).fetchall()
        assert rows and informative(rows), (task.task_id, task.reference, rows)


def test_references_pass_the_sql_verifier_and_a_wrong_query_fails(tmp_path, monkeypatch):
    """In the sandbox, every gold query passes; the same query missing its last row fails."""
    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path))
    tasks = load_tasks("sql-transfer")
    jobs = []
    for t in tasks:
        jobs.append((t, Sample(task_id=t.task_id, sample_id=f"{t.task_id}#gold", completion=t.reference)))
        short = f"SELECT * FROM ({t.reference}) LIMIT (SELECT COUNT(*) - 1 FROM ({t.reference}))"
        jobs.append((t, Sample(task_id=t.task_id, sample_id=f"{t.task_id}#short", completion=short)))
    with closing(get_verifier("sql", VerifyConfig(workers=2))) as verifier:
        verdicts = verifier.verify(jobs)
    gold = [v for v in verdicts if v.sample_id.endswith("#gold")]
    short = [v for v in verdicts if v.sample_id.endswith("#short")]
    assert all(v.passed for v in gold), [(v.task_id, v.feedback) for v in gold if not v.passed]
    assert {v.status for v in short} == {"failed"}, [(v.task_id, v.status, v.feedback) for v in short if not v.status == "failed"]
