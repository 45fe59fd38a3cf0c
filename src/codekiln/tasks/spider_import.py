"""Import Spider / BIRD style text-to-SQL benchmarks: `database/NAME/NAME.sqlite` plus a questions JSON.

A questions file is a JSON list of objects with `db_id`, `question` and the gold `query` (Spider) or `SQL`
(BIRD, whose optional `evidence` hint is appended to the question). PATH is the benchmark folder (the
questions file is chosen by split: test → test.json or dev.json, val → dev.json, train → train_spider.json,
train_others.json, train.json) or a questions file inside it. The schema shown to the model is read from the
database itself; tasks point at the database file by absolute path.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from codekiln.errors import UserError
from codekiln.records import Task

QUESTION_FILES = {
    "test": (("test.json",), ("dev.json",)),
    "val": (("dev.json",),),
    "train": (("train_spider.json", "train_others.json"), ("train.json",)),
}
DATABASE_DIRS = ("database", "test_database", "dev_databases", "train_databases", "databases")


def _question_files(folder: Path, split: str) -> list[Path]:
    for group in QUESTION_FILES[split]:
        found = [folder / name for name in group if (folder / name).is_file()]
        if found:
            return found
    present = sorted(p.name for p in folder.glob("*.json"))
    wanted = " or ".join("+".join(g) for g in QUESTION_FILES[split])
    raise UserError(f"{folder}: no questions file for split {split!r} (looked for {wanted}; found {present or 'none'}); "
                    "pass the questions JSON file itself as PATH")


def _database_roots(folder: Path, questions: Path) -> list[Path]:
    names = list(DATABASE_DIRS)
    if questions.stem == "test" and (folder / "test_database").is_dir():
        names.remove("test_database")
        names.insert(0, "test_database")
    roots = [folder / n for n in names if (folder / n).is_dir()]
    if not roots:
        raise UserError(f"{folder}: no database folder ({' or '.join(DATABASE_DIRS)}) next to {questions.name}")
    return roots


def _find_database(roots: list[Path], db_id: str) -> Path | None:
    for root in roots:
        for candidate in (root / db_id / f"{db_id}.sqlite", root / db_id / f"{db_id}.db"):
            if candidate.is_file():
                return candidate.resolve()
    return None


def read_schema(path: Path) -> str:
    """The CREATE statements of a SQLite file (tables, then indexes are left out: the model needs columns)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        ).fetchall()
    except sqlite3.DatabaseError as err:
        raise UserError(f"{path}: not a readable SQLite database ({err})") from None
    finally:
        conn.close()
    return "\n".join(sql.strip().rstrip(";") + ";" for (sql,) in rows)


def _load_questions(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
    return data


def import_tasks(path: str | None, split: str = "test") -> list[Task]:
    """Tasks (kind sql) from a Spider/BIRD folder or questions file, all in `split`."""
    if path is None:
        raise UserError("tasks import spider needs the benchmark folder (or its questions JSON) as PATH")
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or folder")
    if split not in QUESTION_FILES:
        raise UserError(f"unknown split {split!r}; choose from {sorted(QUESTION_FILES)}")
    folder, files = (p, _question_files(p, split)) if p.is_dir() else (p.parent, [p])
    roots = _database_roots(folder, files[0])
    schemas: dict[Path, str] = {}
    tasks: list[Task] = []
    for qfile in files:
        for number, item in enumerate(_load_questions(qfile)):
            where = f"{qfile}: question {number}"
            if not isinstance(item, dict):
                raise UserError(f"{where}: expected an object, got {type(item).__name__}")
            query = item.get("query", item.get("SQL"))
            missing = [k for k, v in (("db_id", item.get("db_id")), ("question", item.get("question")),
                                      ("query", query)) if not v]
            if missing:
                raise UserError(f"{where}: missing {missing} (have {sorted(item)})")
            db = _find_database(roots, item["db_id"])
            if db is None:
                raise UserError(f"{where}: database {item['db_id']!r} not found as NAME/NAME.sqlite under "
                                f"{', '.join(str(r) for r in roots)}")
            if db not in schemas:
                schemas[db] = read_schema(db)
            prompt = item["question"].strip()
            if item.get("evidence"):
                prompt += f"\nHint: {item['evidence'].strip()}"
            tasks.append(Task(
                task_id=f"{folder.name}/{qfile.stem}/{number}", kind="sql", prompt=prompt, split=split,
                database=str(db), schema=schemas[db], reference=query.strip(),
                meta={"source": "spider-layout", "db_id": item["db_id"], "questions_file": qfile.name,
                      **({"difficulty": item["difficulty"]} if item.get("difficulty") else {})},
            ))
    if not tasks:
        raise UserError(f"{p}: holds no questions")
    return tasks
