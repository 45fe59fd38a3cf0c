"""Ground truth for tasks that arrived without it: one entry point for `codekiln tasks synthesize-tests` and for
`codekiln run synthesize_tests=true`.

- python with a reference, no test: tests from the reference, graded by its mutants (`synth_tests.synthesize_task`);
- python without a reference or test: model-written assertions kept where model-written solutions agree
  (`synth_tests.synthesize_without_reference`, lower trust);
- sql without a gold query: the result most sampled queries agree on (`sql_gold`, lower trust);
- every other task (it has its ground truth already) is kept as it is.

The model's work is the slow part and is kept as it finishes, so a killed run resumes without redoing it: sampled
solutions and queries in `work/samples.jsonl` (the sampler's own resumable file), proposed calls and assertions
in `work/proposals.jsonl`.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.records import Task
from codekiln.splits import Splits
from codekiln.tasks.sql_gold import SqlGold, self_consistent_gold
from codekiln.tasks.synth_tests import Synthesized, keep, synthesize_task, synthesize_without_reference
from codekiln.verify.sandbox import Limits, Sandbox

ASK_CALLS = ("Here is a Python function:\n\n```python\n{prompt}```\n\nWrite {n} different calls of `{entry}` that test "
             "it well (typical values, edge cases such as empty or zero inputs, larger inputs), one per line, as "
             "Python code with literal arguments only, for example `{entry}(...)`. Reply with the calls only.")
ASK_ASSERTS = ("Here is a Python function to be written:\n\n```python\n{prompt}```\n\nWrite {n} different test "
               "assertions for `{entry}`, one per line, each of the form `assert {entry}(...) == ...` with literal "
               "arguments and a literal expected value (typical values and edge cases). Reply with the assertions "
               "only.")


@dataclass(frozen=True)
class GroundTruthOptions:
    """How to make ground truth. `sample.model` is None for no model (references and edge cases only)."""

    sample: SampleConfig | None = None
    n: int = 8
    max_cases: int = 12
    min_mutation_score: float = 0.8
    min_agreement: float = 0.5
    workers: int = 2
    timeout_s: float = 5.0
    propose_calls: bool = True
    """Ask the model for calls on python tasks with a reference (off: the docstring's examples and edge cases only)."""


@dataclass(frozen=True)
class GroundTruth:
    """What came out: the usable tasks in input order, and how each task without ground truth fared."""

    tasks: list[Task]
    had_it: int
    python: list[Synthesized] = field(default_factory=list)
    sql: list[SqlGold] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    min_mutation_score: float = 0.8

    def summary(self) -> str:
        """The one-paragraph account printed at the end."""
        parts = [f"{len(self.tasks)} usable task(s): {self.had_it} had ground truth"]
        graded = [s for r in self.python if (s := r.mutation_score) is not None]
        if self.python:
            kept = {t.task_id for t in self.tasks}
            parts.append(f"{sum(r.task.task_id in kept for r in self.python)} of {len(self.python)} python task(s) "
                         "got tests")
        if graded:
            parts.append(f"mutation scores of {len(graded)} graded: median {statistics.median(graded):.2f}, min "
                         f"{min(graded):.2f}, {sum(s >= self.min_mutation_score for s in graded)} at or above "
                         f"{self.min_mutation_score:g}")
        if self.sql:
            agreements = [g.agreement for g in self.sql]
            parts.append(f"{sum(g.found for g in self.sql)} of {len(self.sql)} sql task(s) got a sampled gold query "
                         f"(median agreement {statistics.median(agreements):.2f})")
        if self.left_out:
            parts.append(f"left out: {', '.join(self.left_out[:10])}{' ...' if len(self.left_out) > 10 else ''}")
        return "; ".join(parts)


def needs_ground_truth(task: Task) -> bool:
    """A python task without a test, or a sql task without a gold query."""
    return (task.kind == "python" and not task.test) or (task.kind == "sql" and not task.reference)


def _unsupported(tasks: Sequence[Task]) -> None:
    """Tasks this module cannot give ground truth: one clear line."""
    no_db = [t.task_id for t in tasks if t.kind == "sql" and not (t.database or t.schema)]
    if no_db:
        raise UserError(f"{len(no_db)} sql task(s) have neither a gold query nor a database to run queries on "
                        f"(e.g. {no_db[0]}); give `database` or `schema` + `rows`")


class _Proposals:
    """Model-written lines per (task, ask), kept in a JSONL file as they are made (a rerun reads them back)."""

    def __init__(self, path: Path, model: str) -> None:
        self.path, self.model = path, model
        self.have: dict[tuple[str, str], list[str]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                    if row["model"] == model:
                        self.have[(row["task_id"], row["ask"])] = list(row["lines"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by a kill: made again

    def missing(self, tasks: Sequence[Task], ask: str) -> list[Task]:
        return [t for t in tasks if (t.task_id, ask) not in self.have]

    def add(self, task: Task, ask: str, lines: list[str]) -> None:
        self.have[(task.task_id, ask)] = lines
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({"task_id": task.task_id, "ask": ask, "model": self.model, "lines": lines}) + "\n")

    def get(self, task: Task, ask: str) -> list[str]:
        return self.have.get((task.task_id, ask), [])


def propose(asks: dict[str, Sequence[Task]], cfg: SampleConfig, n: int, store: _Proposals, quiet: bool) -> None:
    """The model's calls ("calls") or assertions ("asserts") for each task that has none in `store` yet."""
    from codekiln.progress import progress_bar
    from codekiln.sample.base import GenParams, Request, load_sampler
    from codekiln.sample.models import resolve_model

    todo = [(ask, t) for ask, group in asks.items() for t in store.missing(group, ask)]
    if not todo:
        return
    templates = {"calls": ASK_CALLS, "asserts": ASK_ASSERTS}
    sampler = load_sampler(resolve_model(cfg.model), cfg)
    params = GenParams(temperature=max(cfg.temperature, 0.6), top_p=cfg.top_p, max_tokens=256 if n <= 8 else 512)
    try:
        with progress_bar("propose tests", len(todo), quiet) as bar:
            for ask, task in todo:
                text = templates[ask].format(prompt=task.prompt, n=n, entry=task.entry_point)
                request = Request([{"role": "user", "content": text}],
                                  seed=random.Random(f"{ask}:{task.task_id}").randrange(2**31))
                (gen,) = sampler.generate([request], params)  # type: ignore[attr-defined]
                store.add(task, ask, [line.strip().strip("`") for line in gen.text.splitlines() if line.strip()])
                bar.advance()
    finally:
        sampler.close()  # type: ignore[attr-defined]


def make_ground_truth(tasks: Sequence[Task], options: GroundTruthOptions, work: Path,
                      quiet: bool = False) -> GroundTruth:
    """Ground truth for every task that lacks it (see the module docstring); `work` keeps the model's output."""
    from codekiln.progress import progress_bar
    from codekiln.sample.run import sample_tasks

    need = [t for t in tasks if needs_ground_truth(t)]
    _unsupported(need)
    with_ref = [t for t in need if t.kind == "python" and t.reference]
    no_ref = [t for t in need if t.kind == "python" and not t.reference]
    sql = [t for t in need if t.kind == "sql"]
    cfg = options.sample
    if (no_ref or sql) and cfg is None:
        example = (no_ref or sql)[0].task_id
        raise UserError(f"{len(no_ref) + len(sql)} task(s) have no reference (e.g. {example}): their ground truth "
                        "comes from the model's own samples, so a model is needed (drop --no-model)")
    samples: dict[str, list[str]] = {}
    store = _Proposals(work / "proposals.jsonl", cfg.model) if cfg is not None else None
    if cfg is not None and store is not None:
        propose({"calls": with_ref if options.propose_calls else [], "asserts": no_ref}, cfg, options.n, store, quiet)
        if no_ref or sql:
            sampled = sample_tasks(no_ref + sql, cfg.model_copy(update={"n": options.n}), work / "samples.jsonl",
                                   quiet=quiet, stage="sample for ground truth")
            for s in sampled:
                samples.setdefault(s.task_id, []).append(s.completion)
    limits = Limits(timeout_s=options.timeout_s)
    python: dict[str, Synthesized] = {}
    golds: dict[str, SqlGold] = {}
    with Sandbox(workers=options.workers, preload=("sqlite3",)) as sandbox, \
            progress_bar("ground truth", len(need), quiet) as bar:
        for task in need:
            if task.kind == "sql":
                golds[task.task_id] = self_consistent_gold(task, samples.get(task.task_id, []), sandbox, limits,
                                                           options.min_agreement)
            elif task.reference:
                python[task.task_id] = synthesize_task(task, sandbox, limits,
                                                       store.get(task, "calls") if store else (),
                                                       max_cases=options.max_cases)
            else:
                assert store is not None
                python[task.task_id] = synthesize_without_reference(
                    task, sandbox, limits, store.get(task, "asserts"), samples.get(task.task_id, []),
                    max_cases=options.max_cases)
            bar.advance()
    out: list[Task] = []
    left: list[str] = []
    for task in tasks:
        if task.task_id in golds:
            (out.append(golds[task.task_id].task) if golds[task.task_id].found else left.append(task.task_id))
        elif task.task_id in python:
            result = python[task.task_id]
            (out.append(result.task) if keep(result, options.min_mutation_score) else left.append(task.task_id))
        else:
            out.append(task)
    return GroundTruth(tasks=out, had_it=len(tasks) - len(need), python=list(python.values()),
                       sql=list(golds.values()), left_out=left, min_mutation_score=options.min_mutation_score)


def no_ground_truth_message(tasks: Sequence[Task]) -> str:
    """The one line for tasks that arrived without ground truth, with the two ways out."""
    names = ", ".join(t.task_id for t in tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
    return (f"{len(tasks)} task(s) have no ground truth, a python test or a sql gold query ({names}); make it with "
            "`codekiln tasks synthesize-tests --tasks FILE --out TESTED.jsonl` and use TESTED.jsonl, or run with "
            "synthesize_tests=true")


def run_ground_truth(splits: Splits, sample: SampleConfig, workers: int, folder: Path, quiet: bool) -> Splits:
    """`codekiln run synthesize_tests=true`: the splits with ground truth made for the tasks that lack it (tasks
    for which none survives are left out). Kept in `folder/tasks.jsonl`, so a resumed run reads the same tasks
    back instead of making them again."""
    from codekiln.records import read_jsonl, write_jsonl

    every = splits.train + splits.val + splits.test
    done = folder / "tasks.jsonl"
    if done.is_file():
        made = read_jsonl(done, Task)
    else:
        # Calls proposed for tasks with a reference: not in a run (a model call per task, minutes for a suite, for
        # the same figures as the docstring's examples and edge cases with the embedded model; BENCHMARKS.md).
        options = GroundTruthOptions(sample=sample, workers=workers, propose_calls=False)
        result = make_ground_truth(every, options, folder / "work", quiet)
        write_jsonl(done, result.tasks)
        made = result.tasks
        if not quiet:
            from codekiln.progress import console

            console.print(f"ground truth: {result.summary()} (kept in {done})")
    by_id = {t.task_id: t for t in made}

    def keep_in(tasks: list[Task]) -> list[Task]:
        return [by_id[t.task_id] for t in tasks if t.task_id in by_id]

    out = dataclasses.replace(splits, train=keep_in(splits.train), val=keep_in(splits.val), test=keep_in(splits.test))
    if not out.train or not out.test:
        raise UserError(f"no ground truth survived for any {'train' if not out.train else 'test'} task; see "
                        f"{done} and lower the thresholds with `codekiln tasks synthesize-tests`")
    return out
