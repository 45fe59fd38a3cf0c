"""codekiln's reward as verl's custom reward function.

In verl's config (`custom_reward_function.path` = this file's path, printed by
`python -c "import codekiln.rewards.verl as m; print(m.__file__)"`):

    custom_reward_function.name=compute_score                 # verl's naive reward manager: one call per answer
    custom_reward_function.name=compute_score_batch           # reward_model.reward_manager=batch: one call per batch
    +custom_reward_function.reward_kwargs.tasks=python-basic  # a suite name or a task file

Each parquet row names its task in `reward_model.ground_truth` (the task_id) or in `extra_info.task_id`.
Without `tasks`, the environment variable CODEKILN_REWARD_TASKS is read, then the row's `data_source` when it
names a built-in suite. One warm `RewardFunction` per task spec is kept for the process's life.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from codekiln.errors import UserError
from codekiln.rewards.function import RewardFunction, reward_function

_FUNCTIONS: dict[str, RewardFunction] = {}
_LOCK = threading.Lock()


def _tasks_spec(tasks: str | None, data_source: str | None) -> str:
    spec = tasks or os.environ.get("CODEKILN_REWARD_TASKS") or data_source
    if not spec:
        raise UserError("codekiln's verl reward needs its tasks: set custom_reward_function.reward_kwargs.tasks "
                        "(a suite name or a task file) or CODEKILN_REWARD_TASKS")
    return str(spec)


def _function(spec: str, partial_credit: bool) -> RewardFunction:
    key = f"{spec}|{partial_credit}"
    with _LOCK:
        if key not in _FUNCTIONS:
            _FUNCTIONS[key] = reward_function(spec, partial_credit=partial_credit)
        return _FUNCTIONS[key]


def _task_id(ground_truth: Any, extra_info: dict[str, Any] | None) -> Any:
    if isinstance(extra_info, dict) and extra_info.get("task_id") is not None:
        return extra_info["task_id"]
    return ground_truth


def compute_score(data_source: str | None, solution_str: str, ground_truth: Any = None,
                  extra_info: dict[str, Any] | None = None, tasks: str | None = None,
                  partial_credit: bool = False, **_: Any) -> float:
    """The reward of one answer (verl's naive reward manager calls this once per answer)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], tasks=tasks,
                               partial_credit=partial_credit)[0]


def compute_score_batch(data_sources: Sequence[str | None], solution_strs: Sequence[str],
                        ground_truths: Sequence[Any], extra_infos: Sequence[dict[str, Any] | None] | None = None,
                        tasks: str | None = None, partial_credit: bool = False, **_: Any) -> list[float]:
    """The rewards of a batch of answers, checked in parallel (verl's batch reward manager)."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    out: list[float] = [0.0] * len(solution_strs)
    groups: dict[str, list[int]] = {}
    for i, source in enumerate(data_sources):
        groups.setdefault(_tasks_spec(tasks, source), []).append(i)
    for spec, indices in groups.items():
        fn = _function(spec, partial_credit)
        rewards = fn(completions=[solution_strs[i] for i in indices],
                     task_id=[_task_id(ground_truths[i], infos[i]) for i in indices])
        for i, reward in zip(indices, rewards, strict=True):
            out[i] = reward
    return out
