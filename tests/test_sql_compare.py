"""Result-set comparison and SQL text reading: pure functions, no database."""

from __future__ import annotations

import pytest

from codekiln.verify.compare import compare_result_sets, values_equal
from codekiln.verify.sql_text import has_top_level_order_by, statement_problem


def test_nulls_equal_only_nulls():
    assert compare_result_sets([[None, 1]], [[None, 1]], ordered=False).equal
    assert not compare_result_sets([[None]], [[0]], ordered=False).equal
    assert not compare_result_sets([[None]], [[""]], ordered=False).equal
    assert not values_equal(None, "NULL")


def test_numbers_with_tolerance_and_int_float_mix():
    assert compare_result_sets([[3]], [[3.0]], ordered=False).equal
    assert compare_result_sets([[0.1 + 0.2]], [[0.3]], ordered=False).equal
    assert not compare_result_sets([[2.5]], [[2.51]], ordered=False).equal
    assert not compare_result_sets([["3"]], [[3]], ordered=False).equal  # text is not a number


def test_ints_of_any_size_compare_exactly_and_never_raise():
    big = 7 ** 500  # a python answer's int beyond float range (float() of it overflows)
    assert values_equal(big, big) and not values_equal(big, big + 1)
    assert not values_equal(big, 1e308) and not values_equal(1.5, big)
    assert not values_equal(10 ** 17, 10 ** 17 + 1)  # ints are not rounded through float


def test_duplicates_are_a_multiset():
    assert compare_result_sets([[1], [1], [2]], [[2], [1], [1]], ordered=False).equal
    result = compare_result_sets([[1], [1], [2]], [[1], [2], [2]], ordered=False)
    assert not result.equal and "(1)" in result.reason and "(2)" in result.reason
    assert not compare_result_sets([[1], [1]], [[1]], ordered=False).equal


def test_order_counts_only_when_asked():
    expected, actual = [["a", 1], ["b", 2]], [["b", 2], ["a", 1]]
    assert compare_result_sets(expected, actual, ordered=False).equal
    result = compare_result_sets(expected, actual, ordered=True)
    assert not result.equal
    assert "row 1" in result.reason and "wrong order" in result.reason


def test_feedback_names_row_count_and_columns():
    assert "expected 2 row(s), got 1" in compare_result_sets([[1], [2]], [[1]], ordered=False).reason
    assert "column count" in compare_result_sets([[1, 2]], [[1]], ordered=False).reason


def test_close_numbers_straddling_rounding_still_match_unordered():
    expected = [[1.0000004999], [1.0000005001], [7]]
    actual = [[7], [1.0000005002], [1.0000004998]]
    assert compare_result_sets(expected, actual, ordered=False).equal


@pytest.mark.parametrize("sql", [
    "SELECT 1", "select a from t;", "  -- note\nWITH x AS (SELECT 1) SELECT * FROM x",
    "SELECT ';' FROM t", "SELECT replace(name, 'a', 'b') FROM t", "SELEC typo",
])
def test_single_queries_are_accepted(sql):
    assert statement_problem(sql) == ""


@pytest.mark.parametrize("sql", [
    "DELETE FROM t", "INSERT INTO t VALUES (1)", "DROP TABLE t", "ATTACH 'x.db' AS y", "PRAGMA writable_schema=1",
    "SELECT 1; DROP TABLE t", "WITH x AS (SELECT 1) DELETE FROM t", "", "  ;  ", "/* only a comment */",
])
def test_other_statements_are_refused(sql):
    assert statement_problem(sql) != ""


def test_top_level_order_by():
    assert has_top_level_order_by("SELECT a FROM t ORDER BY a DESC LIMIT 3")
    assert has_top_level_order_by("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1")
    assert not has_top_level_order_by("SELECT RANK() OVER (ORDER BY a) FROM t")
    assert not has_top_level_order_by("SELECT a FROM (SELECT a FROM t ORDER BY a)")
    assert not has_top_level_order_by("SELECT 'order by' FROM t -- ORDER BY a")
