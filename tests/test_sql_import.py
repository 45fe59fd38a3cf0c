"""The Spider/BIRD importer, on a tiny benchmark folder built in the test."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.errors import UserError
from codekiln.records import Task, read_jsonl
from codekiln.tasks.spider_import import import_tasks


def _benchmark(root: Path, questions_name: str = "dev.json", db_dir: str = "database", bird: bool = False) -> Path:
    db = root / db_dir / "zoo" / "zoo.sqlite"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE animal (id INTEGER PRIMARY KEY, name TEXT, legs INTEGER);"
                       "INSERT INTO animal VALUES (1, 'emu', 2), (2, 'cat', 4), (3, 'ant', 6);")
    conn.commit()
    conn.close()
    key = "SQL" if bird else "query"
    items = [{"db_id": "zoo", "question": "How many animals are there?", key: "SELECT count(*) FROM animal"},
             {"db_id": "zoo", "question": "Names of animals with 4 legs?", key: "SELECT name FROM animal WHERE legs = 4",
              **({"evidence": "legs is the number of legs"} if bird else {"difficulty": "easy"})}]
    (root / questions_name).write_text(json.dumps(items))
    return root


def test_spider_folder(tmp_path):
    tasks = import_tasks(str(_benchmark(tmp_path)), split="test")
    assert [t.prompt for t in tasks] == ["How many animals are there?", "Names of animals with 4 legs?"]
    assert all(t.kind == "sql" and t.split == "test" for t in tasks)
    assert tasks[0].schema.startswith("CREATE TABLE animal")
    assert Path(tasks[0].database).is_absolute() and Path(tasks[0].database).is_file()
    assert tasks[1].reference == "SELECT name FROM animal WHERE legs = 4"
    assert tasks[1].meta["difficulty"] == "easy"
    assert len({t.task_id for t in tasks}) == 2


def test_bird_questions_file_with_evidence(tmp_path):
    root = _benchmark(tmp_path, "dev.json", "dev_databases", bird=True)
    tasks = import_tasks(str(root / "dev.json"), split="val")
    assert tasks[1].prompt.endswith("Hint: legs is the number of legs")
    assert tasks[0].reference == "SELECT count(*) FROM animal" and tasks[0].split == "val"


def test_imported_tasks_verify(tmp_path):
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.verify import get_verifier

    tasks = import_tasks(str(_benchmark(tmp_path)), split="test")
    verifier = get_verifier("sql", VerifyConfig(workers=1, timeout_s=2.0))
    try:
        jobs = [(tasks[1], Sample(task_id=tasks[1].task_id, sample_id=str(i), completion=q))
                for i, q in enumerate(["SELECT name FROM animal WHERE legs > 3 AND legs < 5", "SELECT name FROM animal"])]
        assert [v.status for v in verifier.verify(jobs)] == ["passed", "failed"]
    finally:
        verifier.close()


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="no questions file"):
        import_tasks(str(_benchmark(tmp_path)), split="train")
    (tmp_path / "dev.json").write_text(json.dumps([{"db_id": "nowhere", "question": "q", "query": "SELECT 1"}]))
    with pytest.raises(UserError, match="'nowhere' not found"):
        import_tasks(str(tmp_path), split="test")
    (tmp_path / "dev.json").write_text(json.dumps([{"db_id": "zoo", "question": "q"}]))
    with pytest.raises(UserError, match="missing"):
        import_tasks(str(tmp_path), split="test")


def test_cli_import_writes_task_jsonl(tmp_path):
    root = _benchmark(tmp_path / "bench")
    out = tmp_path / "tasks.jsonl"
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "import", "spider", str(root),
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [t.prompt for t in read_jsonl(out, Task)][0] == "How many animals are there?"
    missing = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "import", "spider",
                              str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
