"""Comparing pandas results as plain data: tolerance, index, column and row order options."""

from __future__ import annotations

import numpy as np
import pandas as pd

from codekiln.verify.compare import ValueOptions, compare_values
from codekiln.verify.pandas import to_plain


def _cmp(expected, actual, **options):
    return compare_values(to_plain(expected), to_plain(actual), ValueOptions(**options))


def test_scalars_with_tolerance():
    assert _cmp(1 / 3, 0.3333333333).equal
    assert _cmp(np.float64(2.0), 2).equal
    assert not _cmp(1.0, 1.01).equal
    assert _cmp(1.0, 1.01, rel_tol=0.05).equal
    assert _cmp(float("nan"), np.nan).equal
    assert not _cmp(True, "True").equal
    assert "expected 2" in _cmp(2, 3).reason


def test_series_index_is_compared_unless_ignored():
    expected = pd.Series([5, 7], index=["a", "b"])
    assert _cmp(expected, pd.Series([5.0, 7.0], index=["a", "b"], name="other name")).equal
    reset = expected.reset_index(drop=True)
    assert not _cmp(expected, reset).equal
    assert _cmp(expected, reset, ignore_index=True).equal


def test_dataframe_filter_keeps_or_drops_the_index():
    df = pd.DataFrame({"x": [1, 2, 3, 4], "y": list("abcd")})
    gold = df[df.x > 2]
    assert not _cmp(gold, gold.reset_index(drop=True)).equal
    assert _cmp(gold, gold.reset_index(drop=True), ignore_index=True).equal


def test_column_order_and_names():
    df = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})
    swapped = df[["b", "a"]]
    assert "column order" in _cmp(df, swapped).reason
    assert _cmp(df, swapped, ignore_column_order=True).equal
    assert "columns differ" in _cmp(df, df.rename(columns={"b": "c"})).reason


def test_row_order_option_and_duplicates():
    df = pd.DataFrame({"a": [1, 1, 2]})
    shuffled = df.iloc[[2, 0, 1]]
    assert not _cmp(df, shuffled, ignore_index=True).equal
    assert _cmp(df, shuffled, ignore_index=True, ignore_row_order=True).equal
    assert not _cmp(df, pd.DataFrame({"a": [1, 2, 2]}), ignore_row_order=True).equal


def test_nulls_and_dates_and_kinds():
    assert _cmp(pd.Series([1.0, None]), pd.Series([1.0, np.nan])).equal
    assert _cmp(pd.Series(pd.to_datetime(["2024-01-02"])), pd.Series([pd.Timestamp("2024-01-02")])).equal
    assert "expected a Series" in _cmp(pd.Series([1]), pd.DataFrame({"a": [1]})).reason
    assert "not set" in compare_values(to_plain(1), None).reason
    assert _cmp([1, 2.0000000001], np.array([1, 2])).equal
    assert _cmp({"a": [1, 2], "b": 3}, {"b": 3.0, "a": [1, 2]}).equal
    assert not _cmp({"a": 1}, {"a": 1, "b": 2}).equal


def test_pivot_tables_compare_cell_by_cell():
    df = pd.DataFrame({"r": ["n", "n", "s"], "c": ["x", "y", "x"], "v": [1, 2, 3]})
    gold = df.pivot_table(index="r", columns="c", values="v", aggfunc="sum", fill_value=0)
    same = pd.crosstab(df.r, df.c, values=df.v, aggfunc="sum").fillna(0)
    assert _cmp(gold, same).equal
    assert not _cmp(gold, gold * 2).equal
