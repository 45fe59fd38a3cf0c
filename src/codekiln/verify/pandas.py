"""Verify pandas samples: run `setup` + candidate in the sandbox (pandas and numpy preloaded), send the named
result back as plain data, and compare it in the trusted process with the reference's value, computed the
same way once per task (that run also times the reference, which sets the task's limit: see `calibrate`). A task
with unittest `test` code (BigCodeBench style) is judged by its tests instead.

Limitation of the unittest mode: the tests run in the candidate's own process, so a hostile candidate could
patch `unittest` itself; the value mode has no such hole (the comparison never runs candidate code).
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task, Verdict
from codekiln.verify.calibrate import REFERENCE_LIMIT_S, Calibrator
from codekiln.verify.compare import ValueOptions, compare_values
from codekiln.verify.threaded import check_all

PRELOAD = ("numpy", "pandas")


def to_plain(value: Any) -> Any:
    """A pandas/numpy/Python value as the plain shapes `compare.compare_values` reads (runs in the sandbox)."""
    import datetime
    import decimal

    import numpy as np
    import pandas as pd

    def scalar(x: Any) -> Any:
        if x is None or x is pd.NaT or x is pd.NA:
            return None
        if isinstance(x, bool | np.bool_):
            return bool(x)
        if isinstance(x, int | np.integer):
            return int(x)
        if isinstance(x, float | np.floating | decimal.Decimal):
            return float(x)
        if isinstance(x, str):
            return str(x)
        if isinstance(x, pd.Timestamp | datetime.datetime | datetime.date | datetime.time):
            return x.isoformat()
        if isinstance(x, pd.Timedelta | datetime.timedelta):
            return f"timedelta:{pd.Timedelta(x).total_seconds()}"
        if isinstance(x, tuple | list | np.ndarray):
            return [scalar(i) for i in x]
        return f"{type(x).__name__}:{x}"

    def index(idx: Any) -> Any:
        if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1:
            return None
        return [scalar(i) for i in idx]

    if isinstance(value, pd.DataFrame):
        return {"type": "dataframe", "columns": [scalar(c) for c in value.columns], "index": index(value.index),
                "rows": [[scalar(x) for x in row] for row in value.itertuples(index=False, name=None)]}
    if isinstance(value, pd.Series):
        return {"type": "series", "name": scalar(value.name), "index": index(value.index),
                "values": [scalar(x) for x in value.tolist()]}
    if isinstance(value, pd.Index):
        return {"type": "list", "items": [scalar(x) for x in value]}
    if isinstance(value, np.ndarray):
        return {"type": "list", "items": [scalar(x) for x in value.tolist()]}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return {"type": "list", "items": [scalar(x) for x in items]}
    if isinstance(value, dict):
        return {"type": "dict", "items": [[scalar(k), to_plain(v)] for k, v in value.items()]}
    return {"type": "scalar", "value": scalar(value)}


def run_program(setup: str, code: str, result_name: str, test: str) -> dict[str, Any]:
    """Run setup + code (and unittest `test`) in one namespace; report the result or the tests as plain data."""
    import traceback
    import unittest

    try:
        compiled = compile(code, "<candidate>", "exec")
    except (SyntaxError, ValueError) as err:
        return {"syntax": f"{type(err).__name__}: {err}"}
    ns: dict[str, Any] = {"__name__": "__main__"}
    if setup:
        exec(compile(setup, "<setup>", "exec"), ns)
    try:
        exec(compiled, ns)
    except Exception as err:
        lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == "<candidate>"]
        where = f" (line {lines[-1]} of the program)" if lines else ""
        return {"error": f"{type(err).__name__}: {err}{where}"}
    if test:
        ns["__name__"] = "__tests__"  # test files often end with `if __name__ == "__main__": unittest.main()`
        exec(compile(test, "<tests>", "exec"), ns)
        suite = unittest.TestSuite()
        loader = unittest.TestLoader()
        for obj in list(ns.values()):
            if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj is not unittest.TestCase:
                suite.addTests(loader.loadTestsFromTestCase(obj))
        outcome = unittest.TestResult()
        suite.run(outcome)
        problems = [(str(case), text.strip().splitlines()[-1] if text.strip() else "")
                    for case, text in outcome.failures + outcome.errors]
        return {"tests": outcome.testsRun, "problems": [list(p) for p in problems]}
    if result_name not in ns:
        return {"missing": result_name}
    return {"value": to_plain(ns[result_name])}


HARNESS = f"from typing import Any\n{inspect.getsource(to_plain)}\n{inspect.getsource(run_program)}\n"


def harness(setup: str, code: str, result_name: str, test: str) -> str:
    """The sandboxed program: the functions above, called with the task's texts as string data."""
    return HARNESS + f"__codekiln_send__(run_program({setup!r}, {code!r}, {result_name!r}, {test!r}))\n"


def _verdict(task: Task, sample: Sample, status: str, feedback: str, start: float, score: float = 0.0) -> Verdict:
    return Verdict(task_id=task.task_id, sample_id=sample.sample_id, status=status, passed=status == "passed",
                   score=1.0 if status == "passed" else score, feedback=feedback[:2000],
                   duration_s=round(time.monotonic() - start, 4))


class PandasVerifier:
    """Value match against the reference (or the task's unittest tests); see the module docstring."""

    def __init__(self, cfg: VerifyConfig) -> None:
        from codekiln.verify.sandbox import Limits, Sandbox

        self.cfg = cfg
        self.limits = Limits.from_config(cfg)
        self.sandbox = Sandbox(workers=max(1, cfg.workers), preload=PRELOAD)
        self._gold: dict[str, tuple[Any, float]] = {}  # by task id: the reference's report and its seconds
        self._lock = threading.Lock()
        self.calibrator = Calibrator(cfg, "pandas/1", self._time_reference)

    def run(self, task: Task, code: str, with_tests: bool, limit_s: float | None = None) -> Any:
        """Run `code` for `task` in the sandbox; returns the harness's report or a status string."""
        return self._run(task, code, with_tests, limit_s)[0]

    def _run(self, task: Task, code: str, with_tests: bool, limit_s: float | None) -> tuple[Any, float]:
        source = harness(task.setup or "", code, task.result_name or "result", (task.test or "") if with_tests else "")
        limits = self.limits if limit_s is None else dataclasses.replace(self.limits, timeout_s=limit_s)
        result = self.sandbox.run(source, limits=limits)
        if result.status in ("timeout", "memory"):
            return result.status, result.duration_s
        if result.status != "ok" or not result.sent or not isinstance(result.value, dict):
            return f"error:{result.error or 'the program did not report a result'}", result.duration_s
        return result.value, result.duration_s

    def _reference(self, task: Task) -> tuple[Any, float]:
        """The reference's report and seconds, run once per task (with the task's tests, if it has them), under
        the generous limit a reference is timed with."""
        with self._lock:
            if task.task_id in self._gold:
                return self._gold[task.task_id]
        found = self._run(task, task.reference or "", bool(task.test), max(self.cfg.timeout_s, REFERENCE_LIMIT_S))
        with self._lock:
            self._gold[task.task_id] = found
        return found

    def gold(self, task: Task) -> Any:
        return self._reference(task)[0]

    def _time_reference(self, task: Task, limit_s: float) -> float | None:
        out, seconds = self._reference(task)
        if not isinstance(out, dict) or "syntax" in out or "error" in out or "missing" in out:
            return None
        if task.test and (out.get("problems") or not out.get("tests")):
            return None
        return seconds

    def check(self, task: Task, sample: Sample) -> Verdict:
        """The sample's verdict under its task's calibrated limit, run twice when needed (see `calibrate`)."""
        return self.calibrator.check(task, sample, self._check_once)

    def _check_once(self, task: Task, sample: Sample, limit_s: float) -> Verdict:
        start = time.monotonic()
        try:
            return self._check(task, sample, start, limit_s)
        except Exception as err:  # a verdict never raises
            return _verdict(task, sample, "runtime_error", f"could not check this sample: {err}", start)

    def _check(self, task: Task, sample: Sample, start: float, limit_s: float) -> Verdict:
        with_tests = bool(task.test)
        if not with_tests:
            gold = self.gold(task)
            if not isinstance(gold, dict) or "value" not in gold:
                return _verdict(task, sample, "runtime_error", f"the task's reference does not run: {gold}", start)
        out = self.run(task, sample.completion, with_tests, limit_s)
        if out == "timeout":
            return _verdict(task, sample, "timeout", f"the program ran longer than {limit_s:g} s", start)
        if out == "memory":
            return _verdict(task, sample, "memory", f"the program needed more than {self.cfg.memory_mb} MiB", start)
        if isinstance(out, str):
            return _verdict(task, sample, "runtime_error", out.removeprefix("error:"), start)
        if "syntax" in out:
            return _verdict(task, sample, "syntax_error", str(out["syntax"]), start)
        if "error" in out:
            return _verdict(task, sample, "runtime_error", str(out["error"]), start)
        if with_tests:
            ran, problems = int(out.get("tests", 0)), out.get("problems") or []
            if ran == 0:
                return _verdict(task, sample, "runtime_error", "the task's tests found no test cases", start)
            if not problems:
                return _verdict(task, sample, "passed", "", start)
            name, why = problems[0]
            return _verdict(task, sample, "failed", f"{len(problems)} of {ran} tests failed; first: {name}: {why}",
                            start, score=(ran - len(problems)) / ran)
        if "missing" in out:
            return _verdict(task, sample, "failed", f"the program did not set `{out['missing']}`", start)
        result = compare_values(gold["value"], out.get("value"), ValueOptions.from_meta(task.meta))
        if result.equal:
            return _verdict(task, sample, "passed", "", start)
        return _verdict(task, sample, "failed", result.reason, start)

    def verify(
        self, jobs: Sequence[tuple[Task, Sample]], on_verdict: Callable[[Verdict], None] | None = None
    ) -> list[Verdict]:
        return check_all(self.check, jobs, self.cfg.workers, on_verdict)

    def close(self) -> None:
        self.sandbox.close()
