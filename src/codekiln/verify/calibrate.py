"""Calibrated verdicts: each task's time limit comes from its reference's time on this host, and verdicts that a
loaded host could have turned around are checked twice.

- Limit. A task's reference (gold program or query) is timed once per machine, in the sandbox, through the same
  path its samples take; the time is cached on disk (`$CODEKILN_CACHE/calibration/<machine>/<task>.json`,
  keyed by the task's content and the verifier's harness, so a changed reference is timed again). Its programs
  then get max(`verify.timeout_floor_s`, `verify.timeout_factor` x that time), as EvalPlus does (max(4 s, 4 x gold)).
  A task without a reference, one whose reference does not pass, and html/open tasks (no reference to time) keep
  `verify.timeout_s`.
- Reruns. A program that timed out, or whose verdict came within `verify.rerun_margin` of its limit, is run once
  more, and so is every program whose status is in `verify.recheck` (default: passes, so that a program that
  passes only sometimes is never trained on). Two runs that disagree give the status `flaky`: never passed,
  never chosen, rejected or an SFT row.

What changed is kept in `Verdict.details` and counted by `verdict_changes` (the curate funnel's "verdicts").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import STATUSES, Sample, Task, Verdict, to_dict, write_json

# Bump when the way references are timed changes: every cached time is then measured again.
CALIBRATION_VERSION = 1
REFERENCE_LIMIT_S = 60.0  # the most a reference may take to be timed (it then sets a limit of 4x that)

# Times the reference of `task` under a limit of that many seconds; returns its seconds, or None when the
# reference did not run to a passing end (the task then keeps verify.timeout_s).
TimeReference = Callable[[Task, float], float | None]
RunCheck = Callable[[Task, Sample, float], Verdict]


def cache_root() -> Path:
    return Path(os.environ.get("CODEKILN_CACHE") or Path.home() / ".cache" / "codekiln") / "calibration"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_facts() -> dict[str, Any]:
    """What a reference's time depends on besides the task: the host, its CPU and the interpreter."""
    return {"host": platform.node(), "machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "python": sys.version, "executable": sys.executable, "calibration": CALIBRATION_VERSION}


def machine_id() -> str:
    return hashlib.sha256(json.dumps(machine_facts(), sort_keys=True).encode()).hexdigest()[:16]


def task_key(task: Task, harness: str) -> str:
    """The cache key of a task's reference time: its content (not its id or split) and the verifier's harness."""
    content = {k: v for k, v in to_dict(task).items() if k not in ("task_id", "split")}
    text = json.dumps({"task": content, "harness": harness}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ReferenceTimes:
    """Reference times on disk, one small JSON file per task, written atomically (two processes timing the same
    task both write the same kind of value; the last rename wins). An unreadable cache is timed again."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / machine_id()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> float | None:
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
            seconds = float(data["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return seconds if seconds >= 0 else None

    def put(self, key: str, seconds: float, task: Task) -> None:
        try:
            if not (self.folder / "machine.json").exists():
                write_json(self.folder / "machine.json", machine_facts())
            write_json(self.path(key), {"seconds": seconds, "task_id": task.task_id, "kind": task.kind,
                                        "measured": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except OSError:
            pass  # a read-only cache only costs a timing per run


@dataclass(frozen=True)
class Limit:
    """The wall-clock limit of a task's programs; `reference_s` is None when it is verify.timeout_s."""

    seconds: float
    reference_s: float | None = None


class Calibrator:
    """Per-task limits (timed once per task, thread-safe) and the two-run check; one per verifier."""

    def __init__(self, cfg: VerifyConfig, harness: str, time_reference: TimeReference,
                 extra_key: Callable[[Task], str] | None = None, cache: ReferenceTimes | None = None) -> None:
        """`harness` names the verifier's way of running programs (bump it when that changes); `extra_key(task)`
        adds what the task's fields do not hold to its cache key (e.g. the content of a database file)."""
        unknown = sorted(set(cfg.recheck) - set(STATUSES))
        if unknown:
            raise UserError(f"verify.recheck names unknown status {unknown[0]!r}; choose from {list(STATUSES)}")
        self.cfg = cfg
        self.harness = harness
        self.time_reference = time_reference
        self.extra_key = extra_key
        self.cache = cache if cache is not None else ReferenceTimes()
        self._by_task: dict[int, tuple[Task, Limit]] = {}  # by id(task): the hot path skips hashing
        self._by_key: dict[str, Limit] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def limit(self, task: Task) -> Limit:
        found = self._by_task.get(id(task))
        if found is not None and found[0] is task:
            return found[1]
        limit = self._limit(task)
        with self._lock:
            self._by_task[id(task)] = (task, limit)
        return limit

    def _limit(self, task: Task) -> Limit:
        if not self.cfg.calibrate or not task.reference:
            return Limit(self.cfg.timeout_s)
        key = task_key(task, self.harness + (self.extra_key(task) if self.extra_key else ""))
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one thread times a task; the others wait for its result
            with self._lock:
                if key in self._by_key:
                    return self._by_key[key]
            seconds = self.cache.get(key)
            if seconds is None:
                seconds = self.time_reference(task, max(self.cfg.timeout_s, REFERENCE_LIMIT_S))
                if seconds is not None:
                    self.cache.put(key, seconds, task)
            if seconds is None:
                limit = Limit(self.cfg.timeout_s)
            else:
                reference_s = round(seconds, 6)
                limit = Limit(round(max(self.cfg.timeout_floor_s, self.cfg.timeout_factor * reference_s), 6),
                              reference_s)
            with self._lock:
                self._by_key[key] = limit
            return limit

    def check(self, task: Task, sample: Sample, run: RunCheck) -> Verdict:
        """`run(task, sample, limit_s)` once, or twice when the first verdict calls for it (see the module)."""
        limit = self.limit(task)
        first = run(task, sample, limit.seconds)
        details: dict[str, Any] = {}
        if limit.reference_s is not None:
            details.update(limit_s=limit.seconds, reference_s=limit.reference_s)
            changed = _calibration_change(first, limit.seconds, self.cfg.timeout_s)
            if changed:
                details["calibration"] = changed
        reason = self._rerun_reason(first, limit.seconds)
        if reason is None:
            return _with_details(first, details)
        second = run(task, sample, limit.seconds)
        details.update(rerun=reason, runs=[first.status, second.status])
        if second.status == first.status:
            return _with_details(first, details)
        failing = first if second.passed else second
        why = f": {failing.feedback}" if failing.feedback else ""
        return Verdict(task_id=first.task_id, sample_id=first.sample_id, status="flaky", passed=False, score=0.0,
                       feedback=f"the verdict differs between two runs: {first.status}, then {second.status}{why}"[:2000],
                       duration_s=round(first.duration_s + second.duration_s, 6), details=details)

    def _rerun_reason(self, verdict: Verdict, limit_s: float) -> str | None:
        near = verdict.status == "timeout" or verdict.duration_s >= (1.0 - self.cfg.rerun_margin) * limit_s
        if near and self.cfg.rerun_margin > 0:  # 0: one run, whatever the time (online-RL rewards)
            return "near_limit"
        if verdict.status in self.cfg.recheck:
            return "recheck"
        return None


def _calibration_change(verdict: Verdict, limit_s: float, constant_s: float) -> str | None:
    """How a calibrated limit may have changed this verdict against verify.timeout_s: `extended` (it ran past the
    constant limit and still got a verdict: the constant would have made it a timeout), `tightened` (a timeout
    under a limit below the constant: the constant might have let it finish)."""
    if verdict.status == "timeout":
        return "tightened" if limit_s < constant_s else None
    return "extended" if verdict.duration_s > constant_s else None


def _with_details(verdict: Verdict, details: dict[str, Any]) -> Verdict:
    return dataclasses.replace(verdict, details={**verdict.details, **details}) if details else verdict


def verdict_changes(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """What calibration and reruns did to a set of verdicts: `calibrated` (limit from a reference time),
    `calibration_extended` (would have been timeouts under verify.timeout_s), `calibration_tightened` (timeouts
    under a calibrated limit below it: at most this many changed), `rerun` (programs run twice), `rerun_changed`
    (their second run differed), `flaky` (verdicts with that status)."""
    counts = dict.fromkeys(("calibrated", "calibration_extended", "calibration_tightened", "rerun", "rerun_changed",
                            "flaky"), 0)
    for v in verdicts:
        d = v.details
        counts["calibrated"] += "limit_s" in d
        counts["calibration_extended"] += d.get("calibration") == "extended"
        counts["calibration_tightened"] += d.get("calibration") == "tightened"
        runs = d.get("runs")
        if isinstance(runs, list) and len(runs) == 2:
            counts["rerun"] += 1
            counts["rerun_changed"] += runs[0] != runs[1]
        counts["flaky"] += v.status == "flaky"
    return counts
