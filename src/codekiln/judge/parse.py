"""Read the judge's answer: strict JSON schema first, then a tolerant fallback, else `JudgeParseError`.

Strict: the whole answer is `{"A": {"rating": <int 1-10>, "rationale": <str>}, ...}` with exactly the
expected labels. Small local judges rarely manage that, so the fallback accepts what they do produce:
a JSON object inside prose or a code fence, single quotes, trailing commas, bare keys, `"Response A"`
keys, ratings as `"7/10"` or `7.0`, a flat `{"rating": 7}` for a single response, and finally plain
text such as `A: 7/10` or `Rating: 7`. A rating outside 1-10 is never accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class JudgeParseError(ValueError):
    """The answer holds no usable rating for every response."""


@dataclass(frozen=True)
class Rating:
    rating: int
    rationale: str = ""


@dataclass(frozen=True)
class Parsed:
    ratings: dict[str, Rating]
    strict: bool  # True when the answer matched the schema exactly


_RATING_KEYS = ("rating", "score", "grade", "mark")
_RATIONALE_KEYS = ("rationale", "reason", "reasoning", "explanation", "justification", "comment")


def parse_judgement(text: str, labels: list[str]) -> Parsed:
    """Ratings for each label in `labels`, or JudgeParseError saying what was missing."""
    strict = _parse_strict(text, labels)
    if strict is not None:
        return Parsed(strict, strict=True)
    for obj in _json_candidates(text):
        ratings = _ratings_from_object(obj, labels)
        if ratings is not None:
            return Parsed(ratings, strict=False)
    ratings = _ratings_from_text(text, labels)
    if ratings is not None:
        return Parsed(ratings, strict=False)
    preview = " ".join(text.split())[:80]
    raise JudgeParseError(f"no rating 1-10 for each of {labels} in the judge's answer {preview!r}")


def _parse_strict(text: str, labels: list[str]) -> dict[str, Rating] | None:
    try:
        obj = json.loads(text.strip())
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or sorted(obj) != sorted(labels):
        return None
    out: dict[str, Rating] = {}
    for label in labels:
        item = obj[label]
        if not isinstance(item, dict) or set(item) != {"rating", "rationale"}:
            return None
        rating, rationale = item["rating"], item["rationale"]
        if type(rating) is not int or not 1 <= rating <= 10 or not isinstance(rationale, str):
            return None
        out[label] = Rating(rating, rationale.strip())
    return out


def _balanced_objects(text: str) -> list[str]:
    """Every outermost {...} span, longest first, ignoring braces inside quoted strings."""
    spans, depth, start, quote, escape = [], 0, -1, "", False
    for i, ch in enumerate(text):
        if quote:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == quote:
                quote = ""
            continue
        if ch == '"' and depth:
            quote = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    if depth and start >= 0:  # an answer cut off by max_tokens: close its string and its objects
        spans.append(text[start:] + quote + "}" * depth)
    return sorted(spans, key=len, reverse=True)


def _repair(snippet: str) -> str:
    s = re.sub(r"(?<![\w\\])'([^'\n]*)'", r'"\1"', snippet)  # 'x' -> "x"
    s = re.sub(r'([{,]\s*)([A-Za-z_][\w ]*?)\s*:', r'\1"\2":', s)  # bare keys
    s = re.sub(r",\s*([}\]])", r"\1", s)  # trailing commas
    s = re.sub(r'"\s*\n\s*"', '", "', s)  # missing comma between lines
    return s


def _json_candidates(text: str) -> list[Any]:
    found: list[Any] = []
    for snippet in _balanced_objects(text):
        for attempt in (snippet, _repair(snippet)):
            try:
                found.append(json.loads(attempt))
                break
            except (json.JSONDecodeError, RecursionError):
                continue
    return found


def _to_rating(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = re.match(r"\s*(\d{1,2}(?:\.\d+)?)\s*(?:/\s*10)?\s*$", value)
        if not match:
            return None
        number = float(match.group(1))
    else:
        return None
    if not 1 <= number <= 10:
        return None
    return int(number + 0.5)


def _item_rating(item: Any) -> Rating | None:
    rating = _to_rating(item)
    if rating is not None:
        return Rating(rating)
    if isinstance(item, dict):
        lowered = {str(k).lower().strip(): v for k, v in item.items()}
        for key in _RATING_KEYS:
            if key in lowered and (rating := _to_rating(lowered[key])) is not None:
                rationale = next((str(lowered[k]) for k in _RATIONALE_KEYS if k in lowered), "")
                return Rating(rating, rationale.strip())
    return None


def _label_of(key: str, labels: list[str]) -> str | None:
    cleaned = re.sub(r"^(response|answer|assistant|candidate)\s*", "", key.strip(), flags=re.I).strip(" _-:")
    return cleaned.upper() if cleaned.upper() in labels else None


def _ratings_from_object(obj: Any, labels: list[str]) -> dict[str, Rating] | None:
    if not isinstance(obj, dict):
        return None
    for key in ("ratings", "scores", "results"):  # {"ratings": {...}} wrappers
        if isinstance(obj.get(key), dict):
            inner = _ratings_from_object(obj[key], labels)
            if inner is not None:
                return inner
    out: dict[str, Rating] = {}
    for key, value in obj.items():
        label = _label_of(str(key), labels)
        if label and (rating := _item_rating(value)) is not None:
            out[label] = rating
    if len(out) == len(labels):
        return out
    if len(labels) == 1 and (rating := _item_rating(obj)) is not None:  # flat {"rating": 7, ...}
        return {labels[0]: rating}
    return None


_NUMBER = r"\**\s*(\d{1,2}(?:\.\d+)?)\s*(?:/\s*10|out of 10)?"


def _ratings_from_text(text: str, labels: list[str]) -> dict[str, Rating] | None:
    out: dict[str, Rating] = {}
    for label in labels:
        pattern = rf"(?i:response\s+)?\b{label}\b\**\s*(?i:[:=\-]|is|gets|rated|rating:?|score:?)\s*{_NUMBER}"
        for match in re.finditer(pattern, text):
            if (rating := _to_rating(match.group(1))) is not None:
                out[label] = Rating(rating, _sentence_after(text, match.end()))
                break
    if len(out) == len(labels):
        return out
    if len(labels) == 1:
        for pattern in (rf"\b(?:rating|score|grade)\b\W{{0,6}}{_NUMBER}", r"\b(\d{1,2})\s*(?:/\s*10|out of 10)"):
            for match in re.finditer(pattern, text, flags=re.I):
                if (rating := _to_rating(match.group(1))) is not None:
                    return {labels[0]: Rating(rating, _sentence_after(text, match.end()))}
    return None


def _sentence_after(text: str, start: int) -> str:
    rest = text[start:].lstrip(" .,:;-)*\n")
    return re.split(r"(?<=[.!?])\s|\n", rest, maxsplit=1)[0][:300].strip()
