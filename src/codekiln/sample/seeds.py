"""Per-sample seeds: a pure function of (base seed, task_id, round, sample index).

So the same command gives the same samples whatever the batch size, backend batching or worker count,
and the n samples of one task get n different seeds by construction.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31  # fits every backend: llama.cpp takes uint32 (0xFFFFFFFF means "random"), torch int64, OpenAI int


def sample_seed(base: int, task_id: str, round: int, index: int) -> int:
    """A stable seed in [0, 2**31) from a hash (not Python's salted `hash`), identical across processes and runs."""
    digest = hashlib.sha256(f"{base}\x1f{task_id}\x1f{round}\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**SEED_BITS)


def sample_id(task_id: str, round: int, index: int) -> str:
    return f"{task_id}#r{round}s{index}"


def sample_index(sid: str) -> int:
    """The sample index from a sample_id `TASK#rRsI` (-1 when it is not one of ours)."""
    _, _, tail = sid.rpartition("#r")
    _, _, index = tail.partition("s")
    return int(index) if index.isdigit() else -1
