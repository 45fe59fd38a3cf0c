"""Judge models for tests: real small functions that read the rendered judge prompt and compute an answer.

They implement the `Sampler` protocol (codekiln.sample.base), like any backend. None returns a canned
verdict: ratings are computed from the responses they are shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from codekiln.sample.base import Generation, GenParams, Request


def shown_responses(request: Request) -> dict[str, str]:
    """The responses in a rendered judge prompt, by label."""
    user = request.messages[-1]["content"]
    body = user.split("## Your answer")[0]
    parts = re.split(r"^## Response ([A-Z])\n", body, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def preference_of(request: Request) -> str:
    return request.messages[-1]["content"].split("Preference: ", 1)[1].split(".", 1)[0]


def comment_rating(text: str) -> int:
    """1 + 3 per comment or docstring line, capped at 10: more commented code reads better, for this judge."""
    lines = [ln.strip() for ln in text.splitlines()]
    notes = sum(ln.startswith("#") or ln.startswith('"""') for ln in lines)
    return max(1, min(10, 1 + 3 * notes))


def _answer(request: Request, ratings: dict[str, int]) -> str:
    obj = {label: {"rating": r, "rationale": f"{len(shown_responses(request)[label])} characters"}
           for label, r in ratings.items()}
    text = json.dumps(obj)
    if request.prefill and not text.startswith(request.prefill):
        raise AssertionError(f"prefill {request.prefill!r} does not start {text!r}")
    return text


class CommentJudge:
    """Rates each response by how commented it is; calls are counted."""

    name = "comment-judge"
    supports_prefill = True

    def __init__(self) -> None:
        self.calls = 0
        self.requests: list[Request] = []

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            self.calls += 1
            self.requests.append(request)
            ratings = {label: comment_rating(text) for label, text in shown_responses(request).items()}
            out.append(Generation(_answer(request, ratings), n_tokens=20))
        return out

    def close(self) -> None:
        pass


class FirstPositionJudge(CommentJudge):
    """A position-biased judge: whatever it is shown first gets 9, the rest 3."""

    name = "first-position-judge"

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            self.calls += 1
            self.requests.append(request)
            labels = sorted(shown_responses(request))
            out.append(Generation(_answer(request, {lb: 9 if lb == "A" else 3 for lb in labels}), n_tokens=20))
        return out


class GreedyRambler(CommentJudge):
    """Answers in prose without a rating when decoding greedily; in the JSON format once sampling (retries)."""

    name = "greedy-rambler"
    supports_prefill = False

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            self.calls += 1
            if params.temperature == 0:
                out.append(Generation("This response looks fine to me overall.", n_tokens=9))
            else:
                ratings = {label: comment_rating(text) for label, text in shown_responses(request).items()}
                out.append(Generation("Sure! " + _answer(request, ratings), n_tokens=20))
        return out


class BrokenBackend(CommentJudge):
    """A backend whose every call fails (a server that is down)."""

    name = "broken"

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        self.calls += len(requests)
        raise ConnectionError("connection refused")

