"""Render the judge's conversation: the rubric, the request, optional reference, the responses, the answer format.

Responses are labelled A, B, C, ... in the order given (the caller shuffles positions, see `pairwise`).
The judge must answer with one JSON object, `{"A": {"rating": 7, "rationale": "..."}, ...}`;
`judgement_schema` is the same format as a JSON schema, for backends that can constrain decoding to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from codekiln.judge.rubrics import Rubric, rubric_text

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

SYSTEM = (
    "You are a strict and fair reviewer of answers to programming requests. "
    "You judge each response on one preference only, and you reply with JSON only."
)


def labels_for(n: int) -> list[str]:
    if not 1 <= n <= len(LABELS):
        raise ValueError(f"can judge 1 to {len(LABELS)} responses together, got {n}")
    return list(LABELS[:n])


def clip(text: str, max_chars: int) -> str:
    """Keep the head of a long response (the judge's context is small); say that it was cut."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... {len(text) - max_chars} more characters cut ...]"


def answer_format(labels: Sequence[str]) -> str:
    example = {label: {"rating": "<integer 1-10>", "rationale": "<one short sentence>"} for label in labels}
    return json.dumps(example).replace('"<integer 1-10>"', "<integer 1-10>")


def render_judge_messages(
    instruction: str,
    responses: Sequence[str],
    rubric: Rubric,
    reference: str | None = None,
    max_response_chars: int = 3000,
) -> list[dict[str, str]]:
    """Chat messages asking the judge to rate `responses` to `instruction` on one preference."""
    labels = labels_for(len(responses))
    parts = [
        rubric_text(rubric),
        "",
        "## Request",
        instruction.strip(),
    ]
    if reference:
        parts += ["", "## Reference answer (a good answer, for comparison; not necessarily the only one)",
                  clip(reference.strip(), max_response_chars)]
    for label, response in zip(labels, responses, strict=True):
        parts += ["", f"## Response {label}", clip(response.strip(), max_response_chars) or "(empty response)"]
    noun = "the response" if len(labels) == 1 else f"each of the {len(labels)} responses on its own merits"
    parts += [
        "",
        "## Your answer",
        f"Rate {noun} from 1 (worst) to 10 (best) on {rubric.title.lower()} only.",
        "Reply with this JSON object and nothing else:",
        answer_format(labels),
    ]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(parts)}]


def judgement_schema(labels: Sequence[str]) -> dict[str, Any]:
    """JSON schema of a valid answer, for grammar-constrained decoding (llama.cpp, OpenAI `json_schema`)."""
    item = {
        "type": "object",
        "properties": {
            "rating": {"type": "integer", "minimum": 1, "maximum": 10},
            "rationale": {"type": "string", "maxLength": 300},
        },
        "required": ["rating", "rationale"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {label: item for label in labels},
        "required": list(labels),
        "additionalProperties": False,
    }
