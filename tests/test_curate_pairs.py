"""Pair builders on small hand-made candidate sets with known expected pairs, and pair statistics."""

from __future__ import annotations

import pytest

from codekiln.config import CurateConfig
from codekiln.curate.pairs import Candidate, get_builder, pair_margin, pair_stats
from codekiln.errors import UserError


def cand(id, status, score, order, code=None):
    code = code or f"code of {id}"
    return Candidate(id, code, status, score, code, order)


A = cand("A", "passed", 1.0, 0)
B = cand("B", "passed", 1.0, 1)
C = cand("C", "syntax_error", 0.0, 2)
D = cand("D", "failed", 0.5, 3)
E = cand("E", "runtime_error", 0.0, 4)
POOL = [A, B, C, D, E]


def ids(pairs):
    return [(c.id, r.id) for c, r in pairs]


def test_correct_vs_incorrect_prefers_wrong_answers_over_crashes():
    build = get_builder("correct-vs-incorrect")
    cfg = CurateConfig(pairs_per_task=3)
    assert ids(build([A, B], POOL, cfg)) == [("A", "D"), ("B", "D"), ("A", "E")]
    cfg_all = CurateConfig(pairs_per_task=10)
    assert ids(build([A, B], POOL, cfg_all)) == [("A", "D"), ("B", "D"), ("A", "E"), ("B", "E"), ("A", "C"), ("B", "C")]


def test_correct_vs_incorrect_in_sample_order_when_not_preferring():
    build = get_builder("correct-vs-incorrect")
    cfg = CurateConfig(pairs_per_task=3, prefer_runtime_rejected=False)
    assert ids(build([A, B], POOL, cfg)) == [("A", "C"), ("B", "C"), ("A", "D")]


def test_no_passing_answer_no_pair_and_no_failing_answer_no_pair():
    build = get_builder("correct-vs-incorrect")
    assert build([], [C, D, E], CurateConfig()) == []
    assert build([A, B], [A, B], CurateConfig()) == []


def test_identical_programs_are_never_paired():
    flaky = cand("F", "failed", 0.0, 5, code="code of A")  # same program as A, verdict differs
    pairs = get_builder("correct-vs-incorrect")([A], [A, flaky, D], CurateConfig(pairs_per_task=5))
    assert ids(pairs) == [("A", "D")]


def test_margins():
    assert pair_margin(A, D) == 0.5 and pair_margin(A, C) == 1.0
    assert pair_margin(D, A) == 0.0


X = cand("X", "passed", 1.0, 0)
Y = cand("Y", "passed", 0.75, 1)
Z = cand("Z", "failed", 0.25, 2)
W = cand("W", "failed", 0.5, 3)


def test_best_vs_worst_pairs_extremes_each_sample_once():
    build = get_builder("best-vs-worst")
    assert ids(build([X, Y], [X, Y, Z, W], CurateConfig())) == [("X", "Z"), ("Y", "W")]
    low = cand("Y", "passed", 0.25, 1)  # no candidate left below it
    assert ids(build([X, low], [X, low, Z, W], CurateConfig())) == [("X", "Z")]
    assert ids(build([X, Y], [X, Y, Z, W], CurateConfig(pairs_per_task=1))) == [("X", "Z")]


def test_margin_builder_keeps_only_gaps_above_the_threshold():
    build = get_builder("margin")
    cfg = CurateConfig(min_margin=0.3, pairs_per_task=10)
    assert ids(build([X, Y], [X, Y, Z, W], cfg)) == [("X", "Z"), ("X", "W"), ("Y", "Z")]
    assert ids(build([X, Y], [X, Y, Z, W], CurateConfig(min_margin=0.6))) == [("X", "Z")]


def test_unknown_builder_lists_choices():
    with pytest.raises(UserError, match="choose from"):
        get_builder("best-of-n")


def test_pair_stats():
    long_a = cand("L", "passed", 1.0, 0, code="x" * 30)
    short_r = cand("S", "failed", 0.0, 1, code="y" * 10)
    stats = pair_stats([("t", long_a, short_r, 1.0), ("t", long_a, short_r, 1.0), ("u", A, D, 0.5)])
    assert stats["count"] == 3 and stats["tasks"] == 2
    assert stats["mean_margin"] == round(2.5 / 3, 4)
    assert stats["length_bias"] == round((3 + 3 + 1) / 3, 4)
    assert stats["duplicate_pairs"] == 1
    assert stats["rejected_status"] == {"failed": 3}
    assert pair_stats([])["count"] == 0
