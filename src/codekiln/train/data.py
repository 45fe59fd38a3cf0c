"""Training data: SFT rows and preference pairs read from JSONL, in the conversational format TRL reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from codekiln.errors import UserError
from codekiln.records import Pair, SFTRow, read_jsonl


def _messages(value: Any) -> Any:
    """Keep only role and content of chat messages (TRL's chat template needs nothing else); text as is."""
    if isinstance(value, list):
        return [{"role": m["role"], "content": m["content"]} for m in value]
    return value


def read_sft(path: Path) -> list[dict[str, Any]]:
    rows = read_jsonl(path, SFTRow)
    return [{"prompt": _messages(r.prompt), "completion": _messages(r.completion)} for r in rows]


def read_pairs(path: Path) -> list[dict[str, Any]]:
    pairs = read_jsonl(path, Pair)
    return [{"prompt": _messages(p.prompt), "chosen": _messages(p.chosen), "rejected": _messages(p.rejected)}
            for p in pairs]


def task_kinds(sft: Path | None, pairs: Path | None) -> set[str | None]:
    """The task kinds the rows of these files come from (their `meta.kind`; None where a row names none)."""
    kinds: set[str | None] = set()
    for path, record in ((sft, SFTRow), (pairs, Pair)):
        if path is not None:
            kinds |= {r.meta.get("kind") for r in read_jsonl(path, record)}
    return kinds


def pairs_as_sft(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SFT rows from the chosen answers of pairs (method sft with only pairs given)."""
    return [{"prompt": p["prompt"], "completion": p["chosen"]} for p in pairs]


def rows_hash(rows: list[dict[str, Any]]) -> str:
    """sha256 of the rows in order (the data identity in provenance and reference-log-prob cache keys)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def to_dataset(rows: list[dict[str, Any]], what: str) -> Any:
    from datasets import Dataset

    if not rows:
        raise UserError(f"no {what} to train on")
    return Dataset.from_list(rows)
