"""The unit curation works on: one sample joined with its task and verdict, and the code it would train on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict


@dataclass(frozen=True)
class Item:
    """A sample with its task and verdict. `code` is the program shown in the training reply."""

    index: int  # position in the input samples (stable tie-breaker)
    task: Task
    sample: Sample
    verdict: Verdict
    code: str

    @property
    def sample_id(self) -> str:
        return self.sample.sample_id

    @property
    def kind(self) -> str:
        return self.task.kind

    @property
    def score(self) -> float:
        return effective_score(self.verdict)

    @property
    def own_text(self) -> str:
        """The part of the program the model wrote: a body appended to the task prompt is compared alone."""
        return self.sample.completion if self.code != self.sample.completion else self.code


def effective_score(verdict: Verdict) -> float:
    """The verdict's score; a pass that carries no score counts as 1.0 (pass=1 vs fail=0)."""
    if verdict.passed and verdict.score == 0.0:
        return 1.0
    return float(verdict.score)


def training_code(task: Task, completion: str) -> str:
    """The program the training reply shows.

    A python completion that is only a body (HumanEval style) is appended to the task's prompt, as the
    verifier does, so the reply is the whole function; a completion that defines the entry point is used
    as it is. Other kinds use the completion as it is.
    """
    if task.kind == "python" and completion.strip() and task.entry_point:
        if f"def {task.entry_point}" not in completion:
            return task.prompt.rstrip("\n") + "\n" + completion
    return completion


def _sample_ids(samples: Sequence[Sample]) -> list[Sample]:
    """Give samples without an id (HumanEval sample files) the id `TASK#i`, i counting per task."""
    if all(s.sample_id for s in samples):
        return list(samples)
    counts: dict[str, int] = {}
    out = []
    for s in samples:
        i = counts.get(s.task_id, 0)
        counts[s.task_id] = i + 1
        if not s.sample_id:
            s = Sample(**{**s.__dict__, "sample_id": f"{s.task_id}#{i}"})
        out.append(s)
    return out


def join(tasks: Sequence[Task], samples: Sequence[Sample], verdicts: Sequence[Verdict]) -> list[Item]:
    """Join samples with their tasks and verdicts (by sample id; positionally when samples carry no id).

    Every sample needs its task and exactly one verdict; anything else is a user error naming the first
    offender, because curating half-verified data silently would skew the funnel.
    """
    by_task = {t.task_id: t for t in tasks}
    positional = not all(s.sample_id for s in samples)
    samples = _sample_ids(samples)
    keys = [(s.task_id, s.sample_id) for s in samples]
    if len(set(keys)) != len(keys):
        dup = next(k for k, n in Counter(keys).items() if n > 1)
        raise UserError(f"samples: sample_id {dup[1]!r} of task {dup[0]!r} occurs more than once")
    if positional:
        if len(verdicts) != len(samples):
            raise UserError(
                f"samples carry no sample_id, so verdicts are matched by position, but there are {len(samples)} "
                f"samples and {len(verdicts)} verdicts"
            )
        matched = list(verdicts)
        for s, v in zip(samples, matched, strict=True):
            if s.task_id != v.task_id:
                raise UserError(f"verdicts do not line up with samples: {v.task_id!r} where {s.task_id!r} was expected")
    else:
        by_key: dict[tuple[str, str], Verdict] = {}
        for v in verdicts:
            if (v.task_id, v.sample_id) in by_key:
                raise UserError(f"verdicts: more than one verdict for sample {v.sample_id!r} of task {v.task_id!r}")
            by_key[(v.task_id, v.sample_id)] = v
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise UserError(
                f"{len(missing)} sample(s) have no verdict (first: {missing[0][1]!r} of task {missing[0][0]!r}); "
                "run `codekiln verify` on them first"
            )
        extra = set(by_key) - set(keys)
        if extra:
            first = sorted(extra)[0]
            raise UserError(f"{len(extra)} verdict(s) name no sample (first: {first[1]!r} of task {first[0]!r})")
        matched = [by_key[k] for k in keys]
    items = []
    for index, (sample, verdict) in enumerate(zip(samples, matched, strict=True)):
        task = by_task.get(sample.task_id)
        if task is None:
            raise UserError(f"sample {sample.sample_id!r} is for task {sample.task_id!r}, which is not in the tasks given")
        items.append(Item(index, task, sample, verdict, training_code(task, sample.completion)))
    return items
