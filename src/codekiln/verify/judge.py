"""`JudgeVerifier`: verdicts for `open` tasks from the LLM judge, and judge scores mixed into tested verdicts.

The verdict's score is the weighted mean of the normalised ratings ((rating-1)/9) on the task's preference
(`meta.preference`) or on every configured preference; it passes at `verify.judge.threshold`. A sample the
judge never rated usably is `invalid`. The ratings, rationales and position agreement go in the verdict's details
(`Verdict.judgement`, a `JudgeDetails`), so curation and reports read them back typed; the feedback is their summary
in one line.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from codekiln.config import JudgeConfig, VerifyConfig
from codekiln.judge.rubrics import PREFERENCES, RUBRIC_VERSION
from codekiln.judge.run import Judge, JudgeItem, Judgement
from codekiln.records import Sample, Task, Verdict
from codekiln.sample.prompts import reference_program, render_reply, task_text
from codekiln.verdict_details import JudgeDetails


def task_preferences(task: Task, cfg: JudgeConfig) -> tuple[str, ...]:
    preference = task.meta.get("preference")
    if isinstance(preference, str) and preference in PREFERENCES:
        return (preference,)
    return tuple(cfg.preferences)


def response_text(task: Task, sample: Sample) -> str:
    """What the judge reads: the whole reply when kept (explanations count), else the canonical reply."""
    return sample.raw or render_reply(task, sample.completion)


def judge_items(jobs: Sequence[tuple[Task, Sample]], cfg: JudgeConfig) -> list[tuple[JudgeItem, list[int]]]:
    """Group jobs by task (in first-seen order) into items of at most group_size responses, with job indices."""
    by_task: dict[str, list[int]] = {}
    for index, (task, _) in enumerate(jobs):
        by_task.setdefault(task.task_id, []).append(index)
    size = max(1, cfg.group_size)
    out = []
    for indices in by_task.values():
        task = jobs[indices[0]][0]
        reference = reference_program(task) if task.reference else None
        for start in range(0, len(indices), size):
            group = indices[start : start + size]
            ids = ",".join(jobs[i][1].sample_id or f"#{i}" for i in group)
            item = JudgeItem(
                key=f"{task.task_id}|{ids}",
                instruction=task_text(task),
                responses=tuple(response_text(task, jobs[i][1]) for i in group),
                preferences=task_preferences(task, cfg),
                reference=reference,
            )
            out.append((item, group))
    return out


def verdict_from(task: Task, sample: Sample, judgement: Judgement, cfg: JudgeConfig, judge_name: str,
                 duration_s: float) -> Verdict:
    score = judgement.score(cfg.weights)
    details = JudgeDetails(judge=judge_name, rubric=RUBRIC_VERSION, ratings=dict(judgement.ratings),
                           rationales=dict(judgement.rationales), agreement=dict(judgement.agreement))
    if score is None:
        status = "invalid"
    else:
        status = "passed" if score >= cfg.threshold else "failed"
    return Verdict(task_id=task.task_id, sample_id=sample.sample_id, status=status, passed=status == "passed",
                   score=round(score or 0.0, 6), feedback=judge_summary(details),
                   duration_s=round(duration_s, 4), details={"judge": details.as_dict()})


def judge_summary(details: JudgeDetails) -> str:
    """One line for people: `judge NAME: preference rating/10, ...; agreement A`."""
    ratings = ", ".join(f"{pref} {'-' if rating is None else f'{rating:g}'}/10" for pref, rating in details.ratings.items())
    agreed = [a for a in details.agreement.values() if a is not None]
    agreement = f"; order agreement {sum(agreed) / len(agreed):.2f}" if agreed else ""
    return f"judge {details.judge}: {ratings or 'no usable rating'}{agreement}"


class JudgeVerifier:
    """Verifier for `open` tasks (and for any kind when asked): the judge model is loaded on first use."""

    def __init__(self, cfg: VerifyConfig, judge: Judge | None = None, quiet: bool = True) -> None:
        self.cfg = cfg.judge
        self._judge = judge
        self._own = judge is None
        self.quiet = quiet

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            self._judge = Judge.from_config(self.cfg)
        return self._judge

    def verify(self, jobs: Sequence[tuple[Task, Sample]],
               on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
        items = judge_items(jobs, self.cfg)
        verdicts: list[Verdict | None] = [None] * len(jobs)
        clock = [time.perf_counter()]

        def finished(item_index: int, judgements: list[Judgement]) -> None:
            now = time.perf_counter()
            group = items[item_index][1]
            for job_index, judgement in zip(group, judgements, strict=True):
                task, sample = jobs[job_index]
                verdict = verdict_from(task, sample, judgement, self.cfg, self.judge.model_name,
                                       (now - clock[0]) / len(group))
                verdicts[job_index] = verdict
                if on_verdict is not None:
                    on_verdict(verdict)
            clock[0] = now

        self.judge.judge([item for item, _ in items], quiet=self.quiet, on_item=finished)
        return [v for v in verdicts if v is not None]

    def close(self) -> None:
        if self._judge is not None and self._own:
            self._judge.close()
            self._judge = None


def combine_verdicts(test: Verdict, judged: Verdict, weight: float) -> Verdict:
    """A tested verdict with the judge's score mixed in: score = (1-w)*test + w*judge; status stays the test's.

    The judge never turns a failing program into a passing one; it ranks programs within a status (for
    best-vs-worst pairs and SFT selection). An invalid judgement leaves the tested verdict as it was.
    """
    if judged.status == "invalid":
        return test
    score = (1 - weight) * test.score + weight * judged.score
    feedback = f"{test.feedback}\n{judged.feedback}" if test.feedback else judged.feedback
    details = {**test.details, **({"judge": judged.details["judge"]} if "judge" in judged.details else {})}
    return dataclasses.replace(test, score=round(score, 6), feedback=feedback, details=details,
                               duration_s=round(test.duration_s + judged.duration_s, 4))


def judge_tested(tasks: Sequence[Task], samples: Sequence[Sample], verdicts: Sequence[Verdict], cfg: VerifyConfig,
                 judge: Judge | None = None, quiet: bool = True) -> list[Verdict]:
    """Judge samples of tested kinds (python, sql, ...) and mix the judge score into their verdicts."""
    by_id = {t.task_id: t for t in tasks}
    verifier = JudgeVerifier(cfg, judge=judge, quiet=quiet)
    try:
        judged = verifier.verify([(by_id[s.task_id], s) for s in samples])
    finally:
        verifier.close()
    return [combine_verdicts(v, j, cfg.judge.judge_weight) for v, j in zip(verdicts, judged, strict=True)]
