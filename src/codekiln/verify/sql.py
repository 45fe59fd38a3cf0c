"""Verify SQL samples by execution: the candidate query runs in the sandbox on a read-only copy of the task's
database, the rows come back as plain data, and the trusted process compares them with the gold result.

The gold result is computed once per task (in this process: it is the task's own query, run with the same
read-only guards) and cached; the time limit of a task's queries comes from timing its gold query once in the
sandbox (see `calibrate`). Statuses: `invalid` for anything but one SELECT/WITH query (or one that tries
to write, ATTACH or change settings), `syntax_error` for SQL that does not parse, `runtime_error` for other
SQLite errors (unknown column...), `timeout`, `failed` for a wrong result, `passed`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task, Verdict
from codekiln.verify.calibrate import Calibrator
from codekiln.verify.compare import compare_result_sets
from codekiln.verify.sql_text import has_top_level_order_by, statement_problem
from codekiln.verify.threaded import check_all

DB_NAME = "db.sqlite"
GOLD_ROW_LIMIT = 1_000_000
MIN_ROW_LIMIT = 1000


def run_select(path: str, query: str, seconds: float, row_limit: int) -> dict[str, Any]:
    """Run one read-only query on a SQLite file; return rows or an error as plain data.

    Self-contained (stdlib only): its source is also the harness that runs inside the sandbox. The file is
    opened read-only, an authorizer allows only reading (no ATTACH, PRAGMA or writes), and a progress
    handler interrupts the query after `seconds`.
    """
    import sqlite3 as sq
    import time as tm

    allowed = {sq.SQLITE_SELECT, sq.SQLITE_READ, sq.SQLITE_FUNCTION, sq.SQLITE_RECURSIVE}
    denied: list[int] = []

    def authorize(action: int, *args: Any) -> int:
        if action in allowed:
            return sq.SQLITE_OK
        denied.append(action)
        return sq.SQLITE_DENY

    deadline = tm.monotonic() + seconds
    conn = sq.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.set_authorizer(authorize)
        conn.set_progress_handler(lambda: 1 if tm.monotonic() > deadline else 0, 2000)
        try:
            cursor = conn.execute(query.strip().rstrip(";").strip())
            rows = cursor.fetchmany(row_limit + 1)
        except (sq.Error, sq.Warning, ValueError, OverflowError) as err:
            text = str(err)
            return {"error": f"{type(err).__name__}: {text}", "denied": bool(denied),
                    "interrupted": "interrupted" in text, "syntax": "syntax error" in text or "incomplete" in text}
        return {"rows": [list(r) for r in rows[:row_limit]], "truncated": len(rows) > row_limit}
    finally:
        conn.close()


HARNESS_FUNCTION = inspect.getsource(run_select)


def harness(query: str, seconds: float, row_limit: int) -> str:
    """The program the sandbox runs: the function above, called on the copied database; the query is data."""
    return (f"from typing import Any\n{HARNESS_FUNCTION}\n"
            f"__codekiln_send__(run_select({DB_NAME!r}, {query!r}, {seconds!r}, {row_limit!r}))\n")


def build_database(task: Task) -> bytes:
    """The task's database as SQLite file bytes: its `database` file, or one built from `schema` + `rows`."""
    if task.database:
        path = Path(task.database)
        if not path.is_file():
            raise FileNotFoundError(f"task {task.task_id}: database file {task.database} does not exist")
        return path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="codekiln-sql-") as tmp:
        path = Path(tmp) / DB_NAME
        conn = sqlite3.connect(path)
        # The task file is the user's, but it is still SQL from a file: no ATTACH of other files while building.
        conn.set_authorizer(lambda action, *a: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else 0)
        try:
            conn.executescript((task.schema or "") + "\n" + (task.rows or ""))
            conn.commit()
        finally:
            conn.close()
        return path.read_bytes()


class _Gold:
    """Per-task database bytes and gold rows, computed once (thread-safe).

    A human's gold query runs here, in the trusted process, with the read-only guards; a gold query a model wrote
    (`meta.gold == "sampled"`, see `tasks.sql_gold`) is generated code and runs through `run_sampled`, the
    sandbox."""

    def __init__(self, seconds: float,
                 run_sampled: Callable[[str, bytes], dict[str, Any]] | None = None) -> None:
        self.seconds = seconds
        self.run_sampled = run_sampled
        self._dbs: dict[str, bytes] = {}
        self._gold: dict[str, tuple[list[list[Any]], bool] | str] = {}
        self._lock = threading.Lock()

    def database(self, task: Task) -> bytes:
        key = _database_key(task)
        with self._lock:
            if key not in self._dbs:
                self._dbs[key] = build_database(task)
            return self._dbs[key]

    def result(self, task: Task) -> tuple[list[list[Any]], bool] | str:
        """(rows, ordered) or an error text when the gold query itself fails."""
        with self._lock:
            if task.task_id in self._gold:
                return self._gold[task.task_id]
        data = self.database(task)
        if task.meta.get("gold") == "sampled":
            if self.run_sampled is None:
                raise RuntimeError(f"task {task.task_id}: a sampled gold query needs the sandbox to run")
            out = self.run_sampled(task.reference or "", data)
        else:
            with tempfile.TemporaryDirectory(prefix="codekiln-gold-") as tmp:
                path = os.path.join(tmp, DB_NAME)
                Path(path).write_bytes(data)
                out = run_select(path, task.reference or "", max(self.seconds, 30.0), GOLD_ROW_LIMIT)
        value: tuple[list[list[Any]], bool] | str
        if "error" in out:
            value = f"the task's gold query fails: {out['error']}"
        else:
            value = (out["rows"], has_top_level_order_by(task.reference or ""))
        with self._lock:
            self._gold[task.task_id] = value
        return value


def _database_key(task: Task) -> str:
    return task.database or hashlib.sha256(f"{task.schema}\n--\n{task.rows}".encode()).hexdigest()


def query_seconds(limit_s: float) -> float:
    """The query's own clock (SQLite's progress handler) under a wall-clock limit: the rest starts the harness."""
    return max(0.5, limit_s * 0.8)


def _verdict(task: Task, sample: Sample, status: str, feedback: str, start: float) -> Verdict:
    return Verdict(task_id=task.task_id, sample_id=sample.sample_id, status=status, passed=status == "passed",
                   score=1.0 if status == "passed" else 0.0, feedback=feedback[:2000],
                   duration_s=round(time.monotonic() - start, 4))


class SqlVerifier:
    """Execution match against the gold query's result (see the module docstring)."""

    def __init__(self, cfg: VerifyConfig) -> None:
        from codekiln.verify.sandbox import Limits, Sandbox

        self.cfg = cfg
        self.limits = Limits.from_config(cfg)
        self.query_seconds = query_seconds(cfg.timeout_s)
        self.sandbox = Sandbox(workers=max(1, cfg.workers), preload=("sqlite3",))
        self.gold = _Gold(self.query_seconds, self._run_sampled_gold)
        self.calibrator = Calibrator(cfg, "sql/1", self._time_reference, extra_key=self._database_digest)

    def check(self, task: Task, sample: Sample) -> Verdict:
        """The sample's verdict under its task's calibrated limit, run twice when needed (see `calibrate`)."""
        return self.calibrator.check(task, sample, self._check_once)

    def _run_sampled_gold(self, query: str, database: bytes) -> dict[str, Any]:
        """A model-written gold query's rows (or error), run in the sandbox like a sample's query."""
        run = self.sandbox.run(harness(query, max(self.query_seconds, 30.0), MIN_ROW_LIMIT),
                               files={DB_NAME: database}, limits=dataclasses.replace(self.limits, timeout_s=60.0))
        if run.status != "ok" or not run.sent or not isinstance(run.value, dict):
            return {"error": f"it did not run in the sandbox: {run.status} {run.error}".strip()}
        if run.value.get("truncated"):
            return {"error": f"it returns more than {MIN_ROW_LIMIT} rows"}
        return run.value

    def _database_digest(self, task: Task) -> str:
        """A database file's content, not its path, keys its queries' reference time."""
        if not task.database:
            return ""
        try:
            return hashlib.sha256(self.gold.database(task)).hexdigest()
        except Exception:
            return "missing"

    def _time_reference(self, task: Task, limit_s: float) -> float | None:
        """Seconds the gold query takes in the sandbox, through the same harness as a sample's query."""
        if isinstance(self.gold.result(task), str):  # computed first: its own time is not the query's
            return None
        reference = Sample(task_id=task.task_id, sample_id=f"{task.task_id}#reference", completion=task.reference or "")
        verdict = self._check_once(task, reference, limit_s)
        return verdict.duration_s if verdict.passed else None

    def _check_once(self, task: Task, sample: Sample, limit_s: float) -> Verdict:
        start = time.monotonic()
        try:
            return self._check(task, sample, start, limit_s)
        except Exception as err:  # a verdict never raises: a broken task is reported, not crashed on
            return _verdict(task, sample, "runtime_error", f"could not check this sample: {err}", start)

    def _check(self, task: Task, sample: Sample, start: float, limit_s: float) -> Verdict:
        query = sample.completion
        problem = statement_problem(query)
        if problem:
            return _verdict(task, sample, "invalid", problem, start)
        gold = self.gold.result(task)
        if isinstance(gold, str):
            return _verdict(task, sample, "runtime_error", gold, start)
        expected, ordered = gold
        row_limit = max(MIN_ROW_LIMIT, len(expected) + 1)
        seconds = query_seconds(limit_s)
        limits = self.limits if limit_s == self.limits.timeout_s else dataclasses.replace(self.limits, timeout_s=limit_s)
        run = self.sandbox.run(harness(query, seconds, row_limit), files={DB_NAME: self.gold.database(task)},
                               limits=limits)
        if run.status == "timeout":
            return _verdict(task, sample, "timeout", f"the query ran longer than {limit_s:g} s", start)
        if run.status == "memory":
            return _verdict(task, sample, "memory", "the query ran out of memory", start)
        if run.status != "ok" or not run.sent or not isinstance(run.value, dict):
            return _verdict(task, sample, "runtime_error", f"the query did not run: {run.error}".strip(), start)
        out = run.value
        if "error" in out:
            error = str(out["error"])
            if out.get("denied"):
                return _verdict(task, sample, "invalid", f"the query tried something other than reading: {error}", start)
            if out.get("interrupted"):
                return _verdict(task, sample, "timeout", f"the query ran longer than {seconds:g} s", start)
            return _verdict(task, sample, "syntax_error" if out.get("syntax") else "runtime_error", error, start)
        rows = out.get("rows") or []
        if out.get("truncated"):
            return _verdict(task, sample, "failed",
                            f"row count differs: expected {len(expected)} row(s), got more than {row_limit}", start)
        result = compare_result_sets(expected, rows, ordered=ordered)
        if result.equal:
            return _verdict(task, sample, "passed", "", start)
        return _verdict(task, sample, "failed", result.reason, start)

    def verify(
        self, jobs: Sequence[tuple[Task, Sample]], on_verdict: Callable[[Verdict], None] | None = None
    ) -> list[Verdict]:
        return check_all(self.check, jobs, self.cfg.workers, on_verdict)

    def close(self) -> None:
        self.sandbox.close()
