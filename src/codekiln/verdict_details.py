"""Typed views of the structured data a verdict carries in `Verdict.details`: a rendered page's checks
(`PageDetails`, under "page") and an LLM judge's ratings (`JudgeDetails`, under "judge").

Verifiers store them as plain data (`as_dict`), so the JSONL files stay plain JSON; readers get them back typed
through `Verdict.page` and `Verdict.judgement` instead of finding JSON inside the human-readable `feedback` by a
prefix. Files written before the details existed carried the same objects as JSON in `feedback` (a page's as the
whole feedback, a judge's after a `{"judge":` mark); `from_feedback` reads those, so old runs still report.

This module imports nothing from codekiln: `records` builds on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

JUDGE_MARK = '{"judge":'  # where a judge's JSON began in the feedback of verdicts written before `details`


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class PageDetails:
    """How the html verifier judged a rendered page (see `verify.html`): each check's outcome, every problem found
    (the first set the status), the relevance scorer and its parts, the requirement report when the task has
    requirements, the screenshot's perceptual hash (curation's near-duplicate test) and the blocked requests."""

    checks: dict[str, bool]
    problems: list[str] = field(default_factory=list)
    scorer: str = ""
    phash: str | None = None
    relevance: dict[str, Any] = field(default_factory=dict)
    requirements: dict[str, Any] | None = None
    blocked: list[str] = field(default_factory=list)

    @property
    def rendered(self) -> bool:
        return bool(self.checks.get("renders"))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> PageDetails | None:
        if not isinstance(data, dict) or not isinstance(data.get("checks"), dict):
            return None
        return cls(**_known(cls, data))

    @classmethod
    def from_feedback(cls, feedback: str) -> PageDetails | None:
        """A page's details from an older verdict, whose whole feedback was this object as JSON."""
        if not feedback.startswith("{"):
            return None
        try:
            return cls.from_dict(json.loads(feedback))
        except ValueError:
            return None


@dataclass(frozen=True)
class JudgeDetails:
    """How an LLM judge rated an answer (see `verify.judge`): the judge model, the rubric version, a rating and a
    rationale per preference, and per preference how often the judge agreed with itself with the answers' order
    swapped (None where it was judged in one order)."""

    judge: str
    rubric: str = ""
    ratings: dict[str, Any] = field(default_factory=dict)
    rationales: dict[str, Any] = field(default_factory=dict)
    agreement: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> JudgeDetails | None:
        if not isinstance(data, dict) or not isinstance(data.get("judge"), str):
            return None
        known = _known(cls, data)
        for key in ("ratings", "rationales", "agreement"):
            known[key] = known.get(key) or {}
        return cls(**known)

    @classmethod
    def from_feedback(cls, feedback: str) -> JudgeDetails | None:
        """A judgement from an older verdict, whose feedback held it as JSON after the mark (a tested verdict's
        own feedback came first)."""
        start = feedback.find(JUDGE_MARK)
        if start < 0:
            return None
        try:
            obj, _ = json.JSONDecoder().raw_decode(feedback[start:])
        except json.JSONDecodeError:
            return None
        return cls.from_dict(obj)
