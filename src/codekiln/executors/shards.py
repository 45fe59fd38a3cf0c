"""Cutting a work list into shards: the unit a remote worker takes, and the unit a kill can lose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

VERIFY_SHARD = 64
"""Samples per verify shard: large enough that a round trip to a worker is a small part of the shard's time."""

SAMPLE_SHARD = 16
"""Fewest (task, index) pairs per sample shard. A worker hands each sample back as it finishes, so a dying worker
loses only what it was decoding, whatever the shard size."""

SAMPLE_SHARD_BATCHES = 8
"""Sample shards hold this many batches: a llama.cpp worker keeps `batch_size` sequences decoding until its shard
runs dry, so each shard ends with a tail of fewer sequences per decode call (one alone runs at ~0.45x the
per-token rate of eight together); longer shards make that tail a smaller part, shorter ones balance the workers."""


def sample_shard(batch_size: int) -> int:
    """(task, index) pairs per sample shard for `batch_size` sequences generated together (the local executor
    cuts smaller ones when that is what gives every process work)."""
    return max(SAMPLE_SHARD, SAMPLE_SHARD_BATCHES * max(1, batch_size))


def shard(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive slices of at most `size` items, in order (none when `items` is empty)."""
    if size < 1:
        raise ValueError(f"shard size must be 1 or more, got {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
