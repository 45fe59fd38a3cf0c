"""The verifier for `python` tasks (HumanEval-shaped): the test runs trusted, the candidate runs sandboxed.

`program = task.prompt + "\\n" + sample.completion` is loaded in a sandboxed process (see `sandbox`); the
task's `check(candidate)` runs here, in the trusted verifier process, with `candidate` a proxy that ships each
call's arguments to the sandbox and takes back the return value as plain data. So nothing the candidate does
- exiting, patching builtins or asserts, always-equal objects, walking frames - can reach the check: it only
ever sees plain values, and a verdict of `passed` means `check` returned normally.

The task's prompt is trusted task data and is also run here, so helpers the test calls (HumanEval/32 `poly`,
/38 `encode_cyclic`, /50 `encode_shift`) exist on the trusted side.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict
from codekiln.verify.calibrate import Calibrator
from codekiln.verify.plain import Unplain, decode_plain, encode_plain
from codekiln.verify.predict import predict_calls
from codekiln.verify.sandbox import Limits, Sandbox
from codekiln.verify.seeded_random import seeded_builtins, task_seed
from codekiln.verify.session import Session
from codekiln.verify.slot import WorkerDied
from codekiln.verify.threaded import check_all

FEEDBACK_CHARS = 2000
# Imported once in each warm worker: what most HumanEval-style programs start with (in the 164 HumanEval
# solutions: typing 21, math 6, collections 1, re 1, hashlib 1). Each module preloaded makes every program's
# fork, copy-on-write faults and exit dearer (hashlib alone maps 20 more areas through OpenSSL), so the rare
# ones (hashlib, random, decimal, fractions, statistics) are left to the few programs that import them.
PRELOAD = ("typing", "math", "re", "collections", "itertools", "functools", "string", "heapq", "bisect")
_EXIT_TYPES = {"SystemExit", "KeyboardInterrupt", "GeneratorExit"}
_ANSWER_KINDS = ("return", "raise", "unplain")


class CandidateFault(BaseException):
    """Ends a check for good: a timeout, a dead or forging candidate. A BaseException, so that a test's
    `except Exception` cannot swallow it; the proxy also remembers it, so swallowing would not help."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _candidate_exception(reply: dict[str, Any]) -> Exception:
    """The exception the candidate raised, rebuilt as a builtin type (tests may expect e.g. ValueError)."""
    name = str(reply.get("type", ""))
    cls = getattr(builtins, name, None)
    text = str(reply.get("msg", ""))
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or cls is AssertionError:
        cls = RuntimeError
        text = f"{name}: {text}"
    try:
        err = cls(text)
    except Exception:
        err = RuntimeError(f"{name}: {text}")
    err.__codekiln_candidate__ = True  # type: ignore[attr-defined]
    err.__codekiln_tb__ = str(reply.get("tb", ""))  # type: ignore[attr-defined]
    return err


class CandidateProxy:
    """Stands in for the candidate function in the trusted check: plain data in, plain data out."""

    def __init__(self, session: Session, name: str, sent_ahead: Sequence[str] = ()) -> None:
        self._session = session
        self.__name__ = name
        self.fault: CandidateFault | None = None
        self.calls = 0
        self.loaded = False
        self._ahead = deque(sent_ahead)  # calls already sent (predicted), answered in this order
        self._skip = 0  # answers to predicted calls the check did not make, to be read and dropped

    def ensure_loaded(self) -> None:
        """Read the program's load report: "ready", or a load error. The first call is sent without waiting
        for it (a round trip less), and a program that finds calls already waiting answers them without
        saying "ready" (a message less): its first answer then stands for it."""
        if self.loaded:
            return
        first = self._session.recv()
        if first is not None and first.get("kind") in _ANSWER_KINDS:
            self._session.inbox.appendleft(first)
        elif first is None or first.get("kind") != "ready":
            raise self._fail(*_load_failure(self._session, first))
        self.loaded = True

    def _fail(self, status: str, message: str) -> CandidateFault:
        if self.fault is None:
            self.fault = CandidateFault(status, message)
        return self.fault

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fault is not None:
            raise self.fault
        try:
            payload = encode_plain((args, kwargs))
        except Unplain as err:
            raise TypeError(f"the test passed a non-plain argument ({err.type_name}) to the candidate") from None
        self.calls += 1
        session = self._session
        if self._ahead and self._ahead[0] == payload:
            self._ahead.popleft()
            sent = True
        else:  # the check went another way than predicted: drop the rest of the prediction
            self._skip += len(self._ahead)
            self._ahead.clear()
            session.queue_call(payload)
            sent = session.send()
        self.ensure_loaded()
        while sent and self._skip:
            if session.recv() is None:
                raise self._ended(session)
            self._skip -= 1
        reply = session.recv() if sent else None
        if reply is None:
            raise self._ended(session)
        if session.bad_frame:
            raise self._fail("invalid", "the candidate wrote malformed frames to the result channel")
        kind = reply.get("kind")
        if kind == "return":
            try:
                return decode_plain(reply.get("value"))
            except (ValueError, TypeError):
                raise self._fail("invalid", "the candidate sent malformed data instead of a return value") from None
        if kind == "unplain":
            if reply.get("custom_eq"):
                raise self._fail("invalid", f"returned an object of type {reply.get('type')} with its own __eq__ "
                                            "instead of plain data")
            raise self._fail("failed", f"returned a {reply.get('type')}, which is not plain data")
        if kind == "raise":
            name = reply.get("type")
            if name in _EXIT_TYPES:
                raise self._fail("invalid", f"the candidate raised {name} to leave its check")
            if name == "MemoryError":
                raise self._fail("memory", "MemoryError: the candidate ran out of its memory limit")
            raise _candidate_exception(reply)
        raise self._fail("invalid", f"the candidate broke the call protocol (sent {kind!r})")

    def _ended(self, session: Session) -> CandidateFault:
        if session.timed_out:
            return self._fail("timeout", "wall-clock limit reached; the candidate's process tree was killed")
        return self._fail(*_exit_status(session))


def _exit_status(session: Session) -> tuple[str, str]:
    """Why a candidate that owed an answer is gone."""
    code = session.exit_code
    if session.worker_died:
        return "runtime_error", "the sandbox worker died"
    if session.bad_frame:
        return "invalid", "the candidate wrote malformed frames to the result channel"
    if code == 0:
        return "invalid", "the candidate's process exited (sys.exit/os._exit/atexit) instead of answering"
    if code == -24:
        return "timeout", "CPU-time limit reached"
    if code is not None and code < 0:
        return "runtime_error", f"the candidate's process was killed by signal {-code}"
    return "runtime_error", f"the candidate's process exited with code {code}"


def _load_failure(session: Session, first: dict[str, Any] | None) -> tuple[str, str]:
    if first is None:
        if session.timed_out:
            return "timeout", "wall-clock limit reached; the candidate's process tree was killed"
        return _exit_status(session)
    if first.get("kind") != "load_error":
        return "invalid", f"the program broke the load protocol (sent {first.get('kind')!r})"
    name = str(first.get("type"))
    text = f"{name}: {first.get('msg', '')}\n{first.get('tb', '')}".strip()
    if name in _EXIT_TYPES:
        return "invalid", f"the program raised {name} while loading, instead of defining the function"
    if name == "MemoryError":
        return "memory", text
    return "runtime_error", text


def _with_source_lines(text: str, program: str) -> str:
    """Put the program's line under each `File "<candidate>", line N` of a traceback (the sandbox has no
    source to show: it runs the compiled code)."""
    lines = program.splitlines()

    def add(match: re.Match[str]) -> str:
        number = int(match.group(1))
        source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
        return f"{match.group(0)}\n    {source}" if source else match.group(0)

    return re.sub(r'File "<candidate>", line (\d+), in [^\n]*', add, text)


def _clip(text: str) -> str:
    return text if len(text) <= FEEDBACK_CHARS else text[: FEEDBACK_CHARS - 3] + "..."


def no_tests_message(tasks: Sequence[Task]) -> str:
    """The one line for python tasks that arrived without tests."""
    names = ", ".join(t.task_id for t in tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
    return (f"{len(tasks)} python task(s) have no test ({names}); make tests from their references with "
            "`codekiln tasks synthesize-tests --tasks FILE --out TESTED.jsonl` and use TESTED.jsonl")


class _TaskCode:
    """A task's prompt and test, compiled once; run here in the trusted process."""

    def __init__(self, task: Task) -> None:
        if not task.test:
            raise UserError(no_tests_message([task]))
        self.seed = task_seed(task.task_id)
        self.test_lines = (task.test or "").splitlines()
        try:
            self.test: CodeType = compile(task.test or "", "<test>", "exec")
        except (SyntaxError, ValueError) as err:
            raise UserError(f"task {task.task_id}: its test is not valid Python ({err})") from None
        try:
            self.prompt: CodeType | None = compile(task.prompt, "<prompt>", "exec")
        except (SyntaxError, ValueError):
            self.prompt = None  # a prose prompt: no helpers to share with the test
        if "check" not in self.test.co_names and "check" not in (task.test or ""):
            raise UserError(f"task {task.task_id}: its test does not define check(candidate)")

    def check_function(self, proxy: CandidateProxy) -> Callable[[Any], Any]:
        """The task's check, in a fresh namespace where the entry point's name is the proxy too
        (some tests call it by name, e.g. HumanEval/33 compares with `sort_third(...)`), and where `random`
        draws from a generator seeded by the task (see `seeded_random`)."""
        namespace: dict[str, Any] = {"__name__": "__codekiln_check__", "__builtins__": seeded_builtins(self.seed)}
        if self.prompt is not None:
            try:
                exec(self.prompt, namespace)
            except Exception:
                pass
        namespace[proxy.__name__] = proxy
        exec(self.test, namespace)
        check = namespace.get("check")
        if not callable(check):
            raise UserError("the task's test does not define check(candidate)")
        return check

    def failing_line(self, err: BaseException) -> str:
        for frame in reversed(traceback.extract_tb(err.__traceback__)):
            if frame.filename == "<test>" and frame.lineno and 0 < frame.lineno <= len(self.test_lines):
                return self.test_lines[frame.lineno - 1].strip()
        return ""


class PythonVerifier:
    """Checks python samples: syntax in the trusted process, then the task's check against a sandboxed candidate."""

    def __init__(self, cfg: VerifyConfig, sandbox: Sandbox | None = None) -> None:
        self.cfg = cfg
        self.limits = Limits.from_config(cfg)
        self._own = sandbox is None
        # Its slots are borrowed only by the threads `verify` makes for them, so they may keep a CPU each.
        self.sandbox = sandbox or Sandbox(workers=cfg.workers, preload=PRELOAD, pin_cpus=True)
        self._code: dict[str, _TaskCode] = {}
        self._predicted: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.predict = True  # send the check's calls ahead (see predict.py); False: one round trip a call
        self.calibrator = Calibrator(cfg, "python/1", self._time_reference)

    def _task_code(self, task: Task) -> _TaskCode:
        with self._lock:
            if task.task_id not in self._code:
                self._code[task.task_id] = _TaskCode(task)
            return self._code[task.task_id]

    def _predicted_calls(self, task: Task, code: _TaskCode) -> list[str]:
        if not self.predict:
            return []
        calls = self._predicted.get(task.task_id)
        if calls is None:  # computed once per task (two threads may both compute it: harmless)
            calls = predict_calls(code.check_function, task.entry_point or "candidate", task.test or "")
            self._predicted[task.task_id] = calls
        return calls

    def verify(
        self, jobs: Sequence[tuple[Task, Sample]], on_verdict: Callable[[Verdict], None] | None = None
    ) -> list[Verdict]:
        for task, _ in jobs:  # a broken task is the user's mistake: say so before running anything
            self._task_code(task)
        if not jobs:
            return []
        try:
            self.sandbox.start()
        except WorkerDied as err:
            raise UserError(f"the sandbox could not start ({err}); check that bubblewrap works here "
                            "(bwrap --ro-bind / / true)") from None
        try:
            return check_all(self.verify_one, jobs, self.cfg.workers, on_verdict)
        finally:
            self.sandbox.flush()  # the last programs' stops, held for a next run that does not come

    def verify_one(self, task: Task, sample: Sample) -> Verdict:
        """The sample's verdict under its task's calibrated limit, run twice when needed (see `calibrate`)."""
        return self.calibrator.check(task, sample, self._verify_once)

    def _time_reference(self, task: Task, limit_s: float) -> float | None:
        """Seconds the task's reference takes through the same path as a sample, or None if it does not pass."""
        reference = Sample(task_id=task.task_id, sample_id=f"{task.task_id}#reference", completion=task.reference or "")
        verdict = self._verify_once(task, reference, limit_s)
        return verdict.duration_s if verdict.passed else None

    def _verify_once(self, task: Task, sample: Sample, limit_s: float) -> Verdict:
        start = time.monotonic()
        status, feedback, calls = self._verify(task, sample, limit_s)
        return Verdict(task_id=task.task_id, sample_id=sample.sample_id, status=status, passed=status == "passed",
                       score=1.0 if status == "passed" else 0.0, feedback=_clip(feedback),
                       duration_s=round(time.monotonic() - start, 6), details=calls)

    def _verify(self, task: Task, sample: Sample, limit_s: float) -> tuple[str, str, dict[str, int]]:
        """(status, feedback, calls): on a `failed` check, `calls` holds how many calls the check made to the
        candidate (`calls_made`, the last one being the failing one) of the calls predicted for the whole check
        (`calls_expected`), the partial credit of `codekiln.rewards`; empty otherwise."""
        program = task.prompt + "\n" + sample.completion
        try:
            compiled = compile(program, "<candidate>", "exec")  # compiling runs nothing
        except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as err:
            line = f" (line {err.lineno})" if isinstance(err, SyntaxError) and err.lineno else ""
            return "syntax_error", f"{type(err).__name__}: {getattr(err, 'msg', None) or err}{line}", {}
        code = self._task_code(task)
        # The code object goes over marshalled (host to sandbox only: the host never unmarshals candidate data).
        setup = {"mode": "serve", "entry": task.entry_point, "code": compiled}
        predicted = self._predicted_calls(task, code)
        limits = self.limits if limit_s == self.limits.timeout_s else dataclasses.replace(self.limits, timeout_s=limit_s)
        with self.sandbox.session(setup, limits) as session:
            for payload in predicted:  # one write with the program: one wake-up of the candidate for all
                session.queue_call(payload)
            sent = predicted if session.send() else []
            proxy = CandidateProxy(session, task.entry_point or "candidate", sent)
            check = code.check_function(proxy)
            status, feedback = self._run_check(check, proxy, code)
            feedback = _with_source_lines(feedback, program)
            session.detach = status in ("passed", "failed")  # known without the exit report
        if status not in ("passed", "failed"):  # the candidate's own words may say why
            stderr = session.output("stderr").strip()
            if stderr:
                feedback = f"{feedback}\nstderr: {stderr[-500:]}"
        calls = {"calls_made": proxy.calls, "calls_expected": len(predicted)} if status == "failed" and predicted else {}
        return status, feedback, calls

    @staticmethod
    def _run_check(check: Callable[[Any], Any], proxy: CandidateProxy, code: _TaskCode) -> tuple[str, str]:
        try:
            check(proxy)
        except CandidateFault as fault:
            return fault.status, fault.message
        except Exception as err:
            if proxy.fault is not None:
                return proxy.fault.status, proxy.fault.message
            if getattr(err, "__codekiln_candidate__", False):
                tb = getattr(err, "__codekiln_tb__", "")
                name = "RecursionError" if isinstance(err, RecursionError) else type(err).__name__
                return "runtime_error", f"{name}: {err}\n{tb}".strip()
            line = code.failing_line(err)
            where = f" at `{line}`" if line else ""
            return "failed", f"{type(err).__name__}{where}: {err}".rstrip(": ")
        if proxy.fault is not None:  # the test swallowed a fault: the fault still decides
            return proxy.fault.status, proxy.fault.message
        if proxy.calls == 0:
            try:
                proxy.ensure_loaded()
            except CandidateFault as fault:
                return fault.status, fault.message
            return "failed", "the check never called the candidate"
        return "passed", ""

    def clear_cache(self) -> None:
        """Forget compiled task code and predicted calls (a benchmark run then pays for them again)."""
        self._code.clear()
        self._predicted.clear()

    def close(self) -> None:
        if self._own:
            self.sandbox.close()
