"""Training data from judge ratings (CodeUltraFeedback): best-vs-worst pairs per preference, SFT rows.

Pairs reuse curation's `best-vs-worst` builder, scored by one preference's normalised rating, so responses of
different models (a model pool) can face each other. The conversation is the one the model is sampled with
(`build_messages`), the answer the model's whole reply (its explanation counts for the judge).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from codekiln.config import CurateConfig
from codekiln.curate.pairs import Candidate, best_vs_worst
from codekiln.records import Pair, Sample, SFTRow, Task, Verdict
from codekiln.sample.prompts import build_messages, render_reply


def preference_score(verdict: Verdict, preference: str | None) -> float | None:
    """(rating-1)/9 on one preference, or the verdict's overall judge score when `preference` is None."""
    details = verdict.judgement
    if details is None or verdict.status == "invalid":
        return None
    if preference is None:
        return verdict.score
    rating = details.ratings.get(preference)
    return None if rating is None else (float(rating) - 1) / 9


def preference_verdicts(verdicts: Sequence[Verdict], preference: str) -> list[Verdict]:
    """Verdicts re-scored on one preference (unrated ones are dropped), e.g. for `curate_round` per preference."""
    out = []
    for v in verdicts:
        score = preference_score(v, preference)
        if score is not None:
            out.append(dataclasses.replace(v, score=round(score, 6)))
    return out


def _reply(task: Task, sample: Sample) -> list[dict[str, str]]:
    text = sample.raw if task.kind == "open" and sample.raw else render_reply(task, sample.completion)
    return [{"role": "assistant", "content": text}]


def _by_task(tasks: Sequence[Task], samples: Sequence[Sample], verdicts: Sequence[Verdict],
             preference: str | None) -> dict[str, list[tuple[Candidate, Sample]]]:
    scores = {v.sample_id: preference_score(v, preference) for v in verdicts}
    known = {t.task_id for t in tasks}
    grouped: dict[str, list[tuple[Candidate, Sample]]] = {}
    for order, s in enumerate(samples):
        score = scores.get(s.sample_id)
        if score is None or s.task_id not in known:
            continue
        text = s.raw or s.completion
        cand = Candidate(id=s.sample_id, code=text, status="passed", score=score, key=" ".join(text.split()),
                         order=order)
        grouped.setdefault(s.task_id, []).append((cand, s))
    return grouped


def judged_pairs(tasks: Sequence[Task], samples: Sequence[Sample], verdicts: Sequence[Verdict],
                 preference: str | None = None, pairs_per_task: int = 1) -> list[Pair]:
    """Best-vs-worst pairs by the judge's rating on `preference` (the task's own one when None and set)."""
    by_id = {t.task_id: t for t in tasks}
    cfg = CurateConfig(pairs_per_task=pairs_per_task)
    out = []
    for task_id in {t.task_id: None for t in tasks}:
        task = by_id[task_id]
        pref = preference or task.meta.get("preference")
        grouped = _by_task([task], samples, verdicts, pref).get(task_id, [])
        sample_of = {c.id: s for c, s in grouped}
        candidates = [c for c, _ in grouped]
        for chosen, rejected in best_vs_worst(candidates, candidates, cfg):
            out.append(Pair(
                prompt=build_messages(task),
                chosen=_reply(task, sample_of[chosen.id]),
                rejected=_reply(task, sample_of[rejected.id]),
                margin=round(chosen.score - rejected.score, 6),
                source=f"judge:best-vs-worst:{pref or 'overall'}",
                meta={"task_id": task_id, "chosen_id": chosen.id, "rejected_id": rejected.id,
                      "chosen_model": sample_of[chosen.id].model, "rejected_model": sample_of[rejected.id].model},
            ))
    return out


def top_rated_sft(tasks: Sequence[Task], samples: Sequence[Sample], verdicts: Sequence[Verdict],
                  min_rating: float = 8.0, per_task: int = 1) -> list[SFTRow]:
    """SFT rows from the top-rated responses of each task (overall judge score >= (min_rating-1)/9)."""
    threshold = (min_rating - 1) / 9
    rows = []
    for task in tasks:
        grouped = _by_task([task], samples, verdicts, None).get(task.task_id, [])
        ranked = sorted(grouped, key=lambda cs: (-cs[0].score, cs[0].order))
        for cand, sample in [cs for cs in ranked if cs[0].score >= threshold - 1e-9][:per_task]:
            rows.append(SFTRow(prompt=build_messages(task), completion=_reply(task, sample),
                               meta={"task_id": task.task_id, "sample_id": sample.sample_id,
                                     "judge_score": round(cand.score, 6), "model": sample.model}))
    return rows
