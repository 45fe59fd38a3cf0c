"""Position shuffling, both-order comparisons and their agreement.

LLM judges favour some positions (often the first response). When several responses are judged together,
their order is shuffled by a seed, and with `both_orders` the same set is judged again in the reverse
order. A response's rating is the mean over the orders that parsed; `order_agreement` reports how often
the two orders rank each pair of responses the same way — 1.0 for a position-blind judge.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def orderings(n: int, seed: int, both_orders: bool) -> list[list[int]]:
    """Presentation orders for n responses: a seeded shuffle, plus its reverse when both_orders (and n > 1).

    `order[p]` is the index of the response shown at position p.
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    if both_orders and n > 1:
        return [order, order[::-1]]
    return [order]


def unshuffle(order: Sequence[int], by_position: Sequence[float | None]) -> list[float | None]:
    """Map ratings given by position back to response indices."""
    out: list[float | None] = [None] * len(order)
    for position, index in enumerate(order):
        out[index] = by_position[position]
    return out


def mean_ratings(runs: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per response, the mean rating over the runs (orders) that produced one; None if none did."""
    n = len(runs[0]) if runs else 0
    out: list[float | None] = []
    for i in range(n):
        values = [run[i] for run in runs if run[i] is not None]
        out.append(sum(values) / len(values) if values else None)
    return out


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def order_agreement(first: Sequence[float | None], second: Sequence[float | None]) -> float | None:
    """Fraction of response pairs ranked the same way (better / tie / worse) by two runs; None if no pair."""
    agree = total = 0
    n = len(first)
    for i in range(n):
        for j in range(i + 1, n):
            if None in (first[i], first[j], second[i], second[j]):
                continue
            total += 1
            agree += _sign(first[i] - first[j]) == _sign(second[i] - second[j])  # type: ignore[operator]
    return agree / total if total else None
