"""codekiln's sandboxed verifiers as an online-RL reward: `reward_function(tasks)` for TRL, verl and OpenRLHF.

The callable has TRL's reward-function signature, `f(prompts, completions, **columns) -> list[float]`: the
dataset column `task_id` names each completion's task. A completion is plain text or a conversational turn list
(`[{"role": "assistant", "content": ...}]`); the program is pulled out of it the way the sampler does
(`codekiln.sample.extract`) and checked by its kind's verifier. The verifiers (their sandbox pools, browsers,
judges) are started on first use and stay warm across calls, so a training run pays their start once; the
completions of one call are checked in parallel (`VerifyConfig.workers`).

Reward per kind: tested kinds (python, sql, pandas) 1.0 when the check passes and 0.0 otherwise; with
`partial_credit`, a failing python check earns the share of its calls to the candidate that returned before the
failing one (off by default: partial credit pays programs that get the easy cases right, an opening for reward
hacking). html: the relevance score of the rendered page; open: the judge's score. A program that exits early,
forges results, patches builtins, hangs or crashes its sandbox gets 0.0, never an exception.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict
from codekiln.sample.extract import extract_code
from codekiln.verify import Verifier, get_verifier
from codekiln.verify.threaded import CheckCrashed

TESTED_KINDS = ("python", "sql", "pandas")
SCORED_KINDS = ("html", "open")


def resolve_tasks(tasks: str | Path | Iterable[Task]) -> list[Task]:
    """Task records from a suite name (`NAME` or `NAME:SPLIT`), a task file, or the records themselves."""
    if isinstance(tasks, (str, Path)):
        from codekiln.tasks.load import load_tasks

        return load_tasks(str(tasks))
    out = list(tasks)
    if not all(isinstance(t, Task) for t in out):
        raise UserError("reward_function(tasks=...) takes a suite name, a task file or a list of Task records")
    return out


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the assistant turns of a conversational completion joined."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        parts = []
        for turn in completion:
            if not isinstance(turn, dict):
                raise UserError(f"a conversational completion holds {type(turn).__name__}, not a message dict")
            if turn.get("role", "assistant") == "assistant":
                content = turn.get("content", "")
                parts.append(content if isinstance(content, str) else "".join(
                    part.get("text", "") for part in content if isinstance(part, dict)))
        return "\n".join(parts)
    raise UserError(f"a completion is a string or a list of chat messages, not {type(completion).__name__}")


def reward_of(task: Task, verdict: Verdict, partial_credit: bool = False) -> float:
    """The reward a verdict earns (see the module docstring)."""
    if task.kind in SCORED_KINDS:
        return float(verdict.score) if verdict.status not in ("invalid",) else 0.0
    if verdict.passed:
        return 1.0
    if partial_credit and verdict.status == "failed":
        made, expected = verdict.details.get("calls_made", 0), verdict.details.get("calls_expected", 0)
        if expected > 0:
            return max(0.0, min(made - 1, expected) / expected)
    return 0.0


class RewardFunction:
    """The reward callable. Thread-safe: concurrent calls take turns per task kind, each call in parallel inside."""

    def __init__(self, tasks: str | Path | Iterable[Task], cfg: VerifyConfig | None = None,
                 partial_credit: bool = False, name: str = "codekiln") -> None:
        self.tasks = {t.task_id: t for t in resolve_tasks(tasks)}
        if not self.tasks:
            raise UserError("reward_function got no tasks")
        self.cfg = cfg or VerifyConfig()
        self.partial_credit = partial_credit
        self.__name__ = name  # TRL logs each reward function under its __name__
        self._verifiers: dict[str, Verifier] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._ids = itertools.count()

    def task(self, task_id: Any) -> Task:
        task = self.tasks.get(str(task_id)) if task_id is not None else None
        if task is None:
            known = ", ".join(sorted(self.tasks)[:5])
            raise UserError(f"task_id {task_id!r} is not among the reward function's {len(self.tasks)} tasks "
                            f"(e.g. {known}); give the tasks the dataset was built from")
        return task

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 task_id: Sequence[Any] | None = None, prefill: Sequence[str] | None = None,
                 **columns: Any) -> list[float]:
        """One reward per completion. `prefill` (a dataset column, optional): text the prompt ended with that
        begins the answer (codekiln's GRPO prompts end with the opening code fence); it is put back in front."""
        if completions is None:
            raise UserError("the reward function needs `completions`")
        if task_id is None:
            raise UserError("the reward function needs a `task_id` column naming each completion's task; add it "
                            "to the training dataset (one task_id per prompt)")
        if len(task_id) != len(completions):
            raise UserError(f"{len(completions)} completions but {len(task_id)} task ids")
        tasks = [self.task(t) for t in task_id]
        texts = [completion_text(c) for c in completions]
        if prefill is not None:
            texts = [(p or "") + t for p, t in zip(prefill, texts, strict=True)]
        return self.score(tasks, texts)

    async def acall(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                    **columns: Any) -> list[float]:
        """The same reward from async code (an async reward function): the checks run off the event loop."""
        return await asyncio.to_thread(self.__call__, prompts, completions, **columns)

    def score(self, tasks: Sequence[Task], replies: Sequence[str]) -> list[float]:
        """The reward of each reply to its task, in order."""
        return [reward_of(t, v, self.partial_credit) for t, v in zip(tasks, self.verdicts(tasks, replies), strict=True)]

    def verdicts(self, tasks: Sequence[Task], replies: Sequence[str]) -> list[Verdict]:
        """Each reply's verdict, in order; the replies of each task kind are checked together, in parallel."""
        batch = next(self._ids)
        jobs_by_kind: dict[str, list[tuple[int, Task, Sample]]] = defaultdict(list)
        for i, (task, reply) in enumerate(zip(tasks, replies, strict=True)):
            sample = Sample(task_id=task.task_id, sample_id=f"reward-{batch}-{i}",
                            completion=extract_code(task, reply), raw=reply)
            jobs_by_kind[task.kind].append((i, task, sample))
        out: list[Verdict | None] = [None] * len(tasks)
        for kind, jobs in jobs_by_kind.items():
            for (i, _, _), verdict in zip(jobs, self._check(kind, [(t, s) for _, t, s in jobs]), strict=True):
                out[i] = verdict
        return [v for v in out if v is not None]

    def _verifier(self, kind: str) -> Verifier:
        with self._guard:
            if kind not in self._verifiers:
                self._verifiers[kind] = get_verifier(kind, self.cfg)
            return self._verifiers[kind]

    def _check(self, kind: str, jobs: list[tuple[Task, Sample]]) -> list[Verdict]:
        verifier = self._verifier(kind)
        with self._locks[kind]:
            try:
                return verifier.verify(jobs)
            except CheckCrashed:  # a program broke its sandbox twice: check one by one, it alone gets 0
                return [self._check_alone(verifier, job) for job in jobs]

    @staticmethod
    def _check_alone(verifier: Verifier, job: tuple[Task, Sample]) -> Verdict:
        try:
            return verifier.verify([job])[0]
        except CheckCrashed as err:
            return Verdict(task_id=job[0].task_id, sample_id=job[1].sample_id, status="invalid", passed=False,
                           feedback=str(err))

    def close(self) -> None:
        """Stop the warm verifiers (sandbox pools, browsers); a later call starts them again."""
        with self._guard:
            verifiers, self._verifiers = list(self._verifiers.values()), {}
        for verifier in verifiers:
            verifier.close()

    def __enter__(self) -> RewardFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reward_function(tasks: str | Path | Iterable[Task], *, partial_credit: bool = False, workers: int | None = None,
                    timeout_s: float | None = None, verify: VerifyConfig | None = None,
                    name: str = "codekiln") -> RewardFunction:
    """A TRL-style reward function over `tasks` (a suite name, a task file or Task records).

    `workers`: sandbox workers checking one call's completions in parallel (default `VerifyConfig.workers`);
    `timeout_s`: each program's wall-clock limit; `verify`: a whole `VerifyConfig` (html scorer, judge, limits).
    Call `.close()` (or use it as a context manager) to stop its warm sandboxes before the process ends.

    Without `verify`, every answer is run once (`recheck=[]`, `rerun_margin=0`), as the reward functions of TRL,
    verl and OpenRLHF do: the loop's default reruns each pass (to catch flaky ones) and each program that ended near
    its limit, which costs a reward up to half its throughput and doubles the wait on a hanging answer. `timeout_s`
    is the limit of a task whose reference is fast, and the floor of the calibrated limits (4 x the reference's
    time) of slower ones."""
    cfg = verify or VerifyConfig(recheck=[], rerun_margin=0.0)
    updates: dict[str, Any] = {}
    if workers is not None:
        updates["workers"] = workers
    if timeout_s is not None:
        updates.update(timeout_s=timeout_s, timeout_floor_s=timeout_s)
    return RewardFunction(tasks, cfg.model_copy(update=updates) if updates else cfg, partial_credit, name)
