"""Sample filters, by name. Each returns None to keep an item or a short reason to set it aside.

Two gates: `pool` filters (nonempty, length) drop an item from curation altogether; `quality` filters
(status, score) decide whether an item may be trained on as a good answer (an SFT row, a chosen answer).
Items that fail a quality filter still serve as rejected answers for preference pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codekiln.config import CurateConfig
from codekiln.curate.items import Item
from codekiln.errors import ConfigError

# What a reply must contain to count as code of its kind (prose-only replies fail).
_CODE_SIGNS = {
    "python": re.compile(r"\breturn\b|\bdef\b|\blambda\b|=|\bimport\b|\bprint\s*\(|\byield\b|\braise\b|\bpass\b"),
    "pandas": re.compile(r"=|\bimport\b|\.\w+\s*\(|\[.*\]|\bdef\b"),
    "sql": re.compile(r"\b(select|with|insert|update|delete)\b", re.IGNORECASE),
    "html": re.compile(r"<\s*[a-zA-Z!][^>]*>"),
}


def looks_like_code(code: str, kind: str) -> bool:
    """Whether the extracted text is non-empty and shows the signs of code of its kind ("open" needs text only)."""
    if not code.strip():
        return False
    sign = _CODE_SIGNS.get(kind)
    return sign is None or bool(sign.search(code))


def nonempty(item: Item, cfg: CurateConfig) -> str | None:
    if not item.sample.completion.strip():
        return "extracted code is empty"
    if not looks_like_code(item.sample.completion, item.kind):
        return f"extracted text does not look like {item.kind} code"
    return None


def length(item: Item, cfg: CurateConfig) -> str | None:
    from codekiln.sample.budget import max_chars

    size = len(item.code)
    limit = cfg.max_chars if cfg.max_chars is not None else max_chars(item.kind)
    if size > limit:
        return f"{size} characters > max_chars {limit}"
    return None


def status(item: Item, cfg: CurateConfig) -> str | None:
    if item.verdict.status not in cfg.keep_statuses:
        return f"{item.verdict.status} is not in keep_statuses"
    return None


def score(item: Item, cfg: CurateConfig) -> str | None:
    threshold = cfg.min_score_by_kind.get(item.kind, cfg.min_score)
    if item.score < threshold:
        return f"score {item.score:.3g} < {threshold:.3g} ({item.kind})"
    return None


@dataclass(frozen=True)
class Filter:
    name: str
    gate: str  # "pool" or "quality"
    check: Callable[[Item, CurateConfig], str | None]
    help: str


FILTERS: dict[str, Filter] = {
    "nonempty": Filter("nonempty", "pool", nonempty, "drop empty extractions and replies that are not code"),
    "length": Filter("length", "pool", length, "drop programs longer than max_chars"),
    "status": Filter("status", "quality", status, "good answers only with a status in keep_statuses"),
    "score": Filter("score", "quality", score, "good answers only with score >= min_score (per kind: min_score_by_kind)"),
}


def get_filters(names: Sequence[str]) -> list[Filter]:
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise ConfigError(f"unknown filter {unknown[0]!r}; choose from {sorted(FILTERS)}")
    return [FILTERS[n] for n in names]


def apply_filters(item: Item, filters: Sequence[Filter], cfg: CurateConfig) -> tuple[str | None, str | None]:
    """(pool reason, quality reason): the first pool filter that drops the item, the first quality one that fails it."""
    pool_reason = quality_reason = None
    for f in filters:
        if f.gate == "pool" and pool_reason is None:
            reason = f.check(item, cfg)
            if reason:
                pool_reason = f"{f.name}: {reason}"
        elif f.gate == "quality" and quality_reason is None:
            reason = f.check(item, cfg)
            if reason:
                quality_reason = f"{f.name}: {reason}"
    return pool_reason, quality_reason
