"""Which tasks play which role in `codekiln run`: train (sampled and trained on), validation (decides), test
(reports), and the extra task sets the loop never saw (transfer).

Validation is carved out of the train split by the run seed: each train task is ranked by a hash of (seed, task id)
and the first `eval.val_size` go to validation (at most a quarter of the split), so the choice does not depend on
the order of the file, changes with the seed, and every round's train slice (`round_tasks`) is cut from what is
left. A suite or file with its own `val` split uses it instead. Validation is drawn from the train distribution on
purpose: it estimates how a model does on tasks like the ones it learns from, without being scored on any of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codekiln.config import RunConfig
from codekiln.errors import UserError
from codekiln.records import Task

# The transfer sets evaluated at the end of a run when `eval.extra` is not given, by `--tasks` suite.
DEFAULT_EXTRA: dict[str, list[str]] = {"python-basic": ["humaneval"], "sql-basic": ["sql-transfer"]}
VAL_SHARE = 4  # validation takes at most 1/VAL_SHARE of the train split


@dataclass(frozen=True)
class Splits:
    train: list[Task]
    """Sampled and trained on, round by round."""
    val: list[Task]
    """Never trained on: stopping and the choice of `final` read these only."""
    test: list[Task]
    """Reported (base vs final with a paired interval); never used for a decision."""
    val_source: str
    """`split` (the tasks' own val split) or `carved` (from train by the run seed)."""


@dataclass(frozen=True)
class ExtraSet:
    """A task set the loop never saw, compared between base and final at the end of a run."""

    name: str
    """Folder name under `round-R/extra/` (the suite name, or a file's stem with a hash of its spec)."""
    spec: str
    tasks: list[Task]


def _rank(seed: int, task_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{task_id}".encode()).hexdigest()


def pick(tasks: Sequence[Task], size: int, seed: int) -> tuple[list[Task], list[Task]]:
    """(`size` tasks chosen by seed, the rest), both in their original order."""
    chosen = {t.task_id for t in sorted(tasks, key=lambda t: _rank(seed, t.task_id))[:size]}
    return [t for t in tasks if t.task_id in chosen], [t for t in tasks if t.task_id not in chosen]


def carve_val(train: Sequence[Task], size: int, seed: int) -> tuple[list[Task], list[Task]]:
    """(train without validation, validation): `min(size, len(train) // 4)` train tasks chosen by `seed`."""
    n = min(size, len(train) // VAL_SHARE)
    if n < 1:
        raise UserError(f"only {len(train)} train task(s): too few to carve a validation split from (it takes at most "
                        f"1/{VAL_SHARE} of train); give more train tasks, or a file with its own 'val' split")
    val, rest = pick(train, n, seed)
    return rest, val


def split_tasks(cfg: RunConfig) -> Splits:
    """The run's train, validation and test tasks (validation: the tasks' own val split, else carved from train)."""
    from codekiln.tasks.load import load_tasks

    tasks = load_tasks(cfg.tasks)
    train = [t for t in tasks if t.split == "train"]
    test = [t for t in tasks if t.split == cfg.eval.split]
    own_val = [t for t in tasks if t.split == "val"] if cfg.eval.split != "val" else []
    if not train:
        raise UserError(f"tasks {cfg.tasks!r} have no 'train' split to learn from; give a suite or file with one")
    if not test:
        raise UserError(f"tasks {cfg.tasks!r} have no {cfg.eval.split!r} split to evaluate on (eval.split)")
    shared = {t.task_id for t in train} & {t.task_id for t in test}
    if shared:
        raise UserError(f"tasks {cfg.tasks!r}: {len(shared)} task id(s) are in both train and {cfg.eval.split} "
                        f"(e.g. {sorted(shared)[0]!r}); the held-out split must not be trained on")
    if own_val:
        val, _ = pick(own_val, cfg.eval.val_size, cfg.seed)
        source = "split"
        shared = {t.task_id for t in val} & {t.task_id for t in train + test}
        if shared:
            raise UserError(f"tasks {cfg.tasks!r}: {len(shared)} task id(s) are in the val split and in train or "
                            f"{cfg.eval.split} (e.g. {sorted(shared)[0]!r}); the three splits must not share tasks")
    else:
        train, val = carve_val(train, cfg.eval.val_size, cfg.seed)
        source = "carved"
    if cfg.eval.limit is not None:
        test = test[: cfg.eval.limit]
    return Splits(train, val, test, source)


def round_tasks(train: Sequence[Task], limit: int | None, r: int) -> list[Task]:
    """Round r's train tasks: the r-th slice of `limit` tasks, wrapping around, so each round sees fresh tasks
    (resampling the same ones mostly yields programs cross-round dedup drops) and every task is used in turn."""
    if limit is None or limit >= len(train):
        return list(train)
    start = (r - 1) * limit % len(train)
    return [train[(start + i) % len(train)] for i in range(limit)]


def extra_specs(cfg: RunConfig) -> list[str]:
    """`eval.extra`, or the default transfer sets of the `--tasks` suite when it is not given."""
    if cfg.eval.extra is not None:
        return list(cfg.eval.extra)
    return list(DEFAULT_EXTRA.get(cfg.tasks, []))


def extra_name(spec: str) -> str:
    """A folder name for an extra set: the suite's name (`:` → `-`), or a file's stem with a hash of the spec."""
    from codekiln.tasks.suites import SUITES

    if spec in SUITES or spec.split(":", 1)[0] in SUITES:
        return spec.replace(":", "-")
    stem = re.sub(r"[^A-Za-z0-9.]+", "-", Path(spec).name.removesuffix(".gz").removesuffix(".jsonl")).strip("-")
    return f"{stem[:32] or 'tasks'}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


def extra_sets(cfg: RunConfig, seen: Sequence[Task]) -> list[ExtraSet]:
    """The transfer sets, loaded now so a missing one stops the run before any slow work.

    Each is the spec's test split when it has one (or the split a `NAME:SPLIT` spec names), else all its tasks;
    none may share a task id with `seen` (the train and validation tasks)."""
    from codekiln.tasks.load import load_tasks
    from codekiln.tasks.suites import SUITES

    out: list[ExtraSet] = []
    seen_ids = {t.task_id for t in seen}
    for spec in extra_specs(cfg):
        try:
            tasks = load_tasks(spec)
        except UserError as err:
            if spec.split(":", 1)[0] in SUITES or Path(spec).exists():
                raise UserError(f"eval.extra {spec!r}: {err}") from None
            raise UserError(f"eval.extra names {spec!r}, which is neither a built-in suite nor a task file; choose "
                            f"from {sorted(SUITES)} or give a path (eval.extra=[] evaluates no extra set)") from None
        if ":" not in spec and any(t.split == cfg.eval.split for t in tasks):
            tasks = [t for t in tasks if t.split == cfg.eval.split]
        if cfg.eval.limit is not None:  # the same cut as the test split's (a smoke run stays small)
            tasks = tasks[: cfg.eval.limit]
        shared = seen_ids & {t.task_id for t in tasks}
        if shared:
            raise UserError(f"eval.extra {spec!r} shares {len(shared)} task id(s) with the run's train/val tasks "
                            f"(e.g. {sorted(shared)[0]!r}); a transfer set must be tasks the loop never saw")
        name = extra_name(spec)
        if any(e.name == name for e in out):
            raise UserError(f"eval.extra names {spec!r} twice")
        out.append(ExtraSet(name, spec, tasks))
    return out
