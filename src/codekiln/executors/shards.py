"""Cutting a work list into shards: the unit a remote worker takes, and the unit a kill can lose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

VERIFY_SHARD = 64
"""Samples per verify shard: large enough that a round trip to a worker is a small part of the shard's time."""

SAMPLE_SHARD = 16
"""(task, index) pairs per sample shard (generation is slow; small shards lose little when a worker dies)."""


def shard(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive slices of at most `size` items, in order (none when `items` is empty)."""
    if size < 1:
        raise ValueError(f"shard size must be 1 or more, got {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
