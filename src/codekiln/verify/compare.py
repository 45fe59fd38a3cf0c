"""Compare results in the trusted process: SQL result sets and pandas values, as plain data.

Candidates send plain data (lists, numbers, strings, None) out of the sandbox; the comparison happens
here, so nothing the candidate defines takes part in it. Numbers compare with a tolerance (an int and
a float that are close are equal: `COUNT` vs `SUM(1.0)`), NULL equals NULL, NaN equals NaN.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

REL_TOL = 1e-6
ABS_TOL = 1e-6
# Above this many rows an unordered comparison that fails the sorted walk does not try a tolerant matching.
MATCHING_LIMIT = 2000


@dataclass(frozen=True)
class Comparison:
    """The outcome of a comparison; `reason` says what differs (empty when equal)."""

    equal: bool
    reason: str = ""


SAME = Comparison(True)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float)  # bool is an int: SQLite has no booleans either


def values_equal(a: Any, b: Any, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Equality of two plain scalars: numbers within tolerance, None == None, NaN == NaN, others exactly."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int) and isinstance(b, int):
        return a == b  # exactly: ints of any size (float() of a 400-digit int overflows)
    if _is_number(a) and _is_number(b):
        try:
            fa, fb = float(a), float(b)
        except OverflowError:  # an int beyond float range against a float: no float is that large
            return False
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return math.isclose(fa, fb, rel_tol=rel_tol, abs_tol=abs_tol)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return a == b


def rows_equal(a: Any, b: Any, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    if len(a) != len(b):
        return False
    return all(values_equal(x, y, rel_tol, abs_tol) for x, y in zip(a, b, strict=True))


def _sort_key(value: Any) -> tuple[int, Any]:
    """A total order over plain scalars that keeps close numbers next to each other."""
    if value is None:
        return (0, 0)
    if _is_number(value):
        f = float(value)
        if math.isnan(f):
            return (1, 0.0)
        return (2, round(f, 6) if not math.isinf(f) else f)
    if isinstance(value, str):
        return (3, value)
    return (4, repr(value))


def _row_key(row: Any) -> tuple[tuple[int, Any], ...]:
    return tuple(_sort_key(v) for v in row)


def show_row(row: Any, limit: int = 200) -> str:
    text = "(" + ", ".join(repr(v) for v in row) + ")"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unordered_difference(expected: list[Any], actual: list[Any], rel_tol: float, abs_tol: float) -> Comparison:
    exp = sorted(expected, key=_row_key)
    act = sorted(actual, key=_row_key)
    if all(rows_equal(x, y, rel_tol, abs_tol) for x, y in zip(exp, act, strict=True)):
        return SAME
    if len(exp) <= MATCHING_LIMIT:
        # Rounding in the sort key can split close numbers; match greedily with tolerance before giving up.
        unmatched = list(act)
        for row in exp:
            for i, cand in enumerate(unmatched):
                if rows_equal(row, cand, rel_tol, abs_tol):
                    del unmatched[i]
                    break
            else:
                extra = unmatched[0] if unmatched else None
                reason = f"expected row {show_row(row)} is missing"
                if extra is not None:
                    reason += f"; unexpected row {show_row(extra)}"
                return Comparison(False, reason)
        return SAME
    for x, y in zip(exp, act, strict=True):
        if not rows_equal(x, y, rel_tol, abs_tol):
            return Comparison(False, f"first differing row (sorted): expected {show_row(x)}, got {show_row(y)}")
    return SAME  # pragma: no cover - the sorted walk above already found them equal


def compare_result_sets(
    expected: list[list[Any]],
    actual: list[list[Any]],
    *,
    ordered: bool,
    rel_tol: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> Comparison:
    """Same multiset of rows (same sequence when `ordered`); column names are not part of the data."""
    exp_width = {len(r) for r in expected}
    act_width = {len(r) for r in actual}
    if expected and actual and exp_width != act_width:
        return Comparison(
            False, f"column count differs: expected {min(exp_width)} column(s), got {min(act_width)}"
        )
    if len(expected) != len(actual):
        return Comparison(False, f"row count differs: expected {len(expected)} row(s), got {len(actual)}")
    if ordered:
        for number, (x, y) in enumerate(zip(expected, actual, strict=True), start=1):
            if not rows_equal(x, y, rel_tol, abs_tol):
                same_rows = _unordered_difference(expected, actual, rel_tol, abs_tol).equal
                hint = " (the rows are right but in the wrong order)" if same_rows else ""
                return Comparison(
                    False, f"first differing row is row {number}: expected {show_row(x)}, got {show_row(y)}{hint}"
                )
        return SAME
    return _unordered_difference(expected, actual, rel_tol, abs_tol)


# ---------------------------------------------------------------------------------------------------------
# pandas values. The sandbox harness turns a value into one of these plain shapes (see verify/pandas.py):
#   {"type": "dataframe", "columns": [...], "index": [...] | None, "rows": [[...], ...]}
#   {"type": "series", "name": ..., "index": [...] | None, "values": [...]}
#   {"type": "scalar", "value": ...}, {"type": "list", "items": [...]}, {"type": "dict", "items": [[k, v], ...]}
# `index` is None for a default RangeIndex(0..n).


@dataclass(frozen=True)
class ValueOptions:
    """How strictly two pandas results must agree (a task sets these in `meta["compare"]`)."""

    rel_tol: float = REL_TOL
    abs_tol: float = ABS_TOL
    ignore_index: bool = False
    ignore_column_order: bool = False
    ignore_row_order: bool = False

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ValueOptions:
        opts = meta.get("compare") or {}
        known = {k: v for k, v in opts.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _kind(value: Any) -> str:
    return value.get("type", "?") if isinstance(value, dict) else "?"


def _describe(value: Any) -> str:
    kind = _kind(value)
    if kind == "dataframe":
        return f"a DataFrame with {len(value['rows'])} row(s) and columns {value['columns']}"
    if kind == "series":
        return f"a Series of {len(value['values'])} value(s)"
    if kind == "scalar":
        return f"the value {value['value']!r}"
    if kind in ("list", "dict"):
        return f"a {kind} of {len(value['items'])} item(s)"
    return "nothing (the result variable was not set)" if value is None else f"an unsupported value ({kind})"


def _index_rows(index: list[Any] | None, n: int) -> list[list[Any]]:
    """An index as one-or-more leading columns (a default index as its positions)."""
    if index is None:
        return [[i] for i in range(n)]
    return [list(i) if isinstance(i, list) else [i] for i in index]


def _compare_table(
    exp_rows: list[list[Any]], act_rows: list[list[Any]], exp_index: Any, act_index: Any, opts: ValueOptions
) -> Comparison:
    if not opts.ignore_index:
        exp_rows = [i + r for i, r in zip(_index_rows(exp_index, len(exp_rows)), exp_rows, strict=True)]
        act_rows = [i + r for i, r in zip(_index_rows(act_index, len(act_rows)), act_rows, strict=True)]
    result = compare_result_sets(
        exp_rows, act_rows, ordered=not opts.ignore_row_order, rel_tol=opts.rel_tol, abs_tol=opts.abs_tol
    )
    if not result.equal and not opts.ignore_index:
        return Comparison(False, result.reason + " (the first value(s) of a row are its index)")
    return result


def compare_values(expected: Any, actual: Any, opts: ValueOptions = ValueOptions()) -> Comparison:
    """Compare two plain pandas results (shapes above) under `opts`."""
    ek, ak = _kind(expected), _kind(actual)
    if ek != ak:
        return Comparison(False, f"expected {_describe(expected)}, got {_describe(actual)}")
    if ek == "scalar":
        a, b = expected["value"], actual["value"]
        if isinstance(a, list) or isinstance(b, list):
            return compare_values({"type": "list", "items": a}, {"type": "list", "items": b}, opts)
        if values_equal(a, b, opts.rel_tol, opts.abs_tol):
            return SAME
        return Comparison(False, f"expected {a!r}, got {b!r}")
    if ek == "list":
        exp, act = expected["items"], actual["items"]
        rows_e = [x if isinstance(x, list) else [x] for x in exp]
        rows_a = [x if isinstance(x, list) else [x] for x in act]
        return compare_result_sets(rows_e, rows_a, ordered=not opts.ignore_row_order,
                                   rel_tol=opts.rel_tol, abs_tol=opts.abs_tol)
    if ek == "dict":
        exp = {repr(k): v for k, v in expected["items"]}
        act = {repr(k): v for k, v in actual["items"]}
        if exp.keys() != act.keys():
            missing = sorted(exp.keys() - act.keys())
            extra = sorted(act.keys() - exp.keys())
            return Comparison(False, f"dict keys differ: missing {missing[:5]}, unexpected {extra[:5]}")
        for key, value in exp.items():
            result = compare_values(value, act[key], opts)
            if not result.equal:
                return Comparison(False, f"at key {key}: {result.reason}")
        return SAME
    if ek == "series":
        rows_e = [[v] for v in expected["values"]]
        rows_a = [[v] for v in actual["values"]]
        return _compare_table(rows_e, rows_a, expected.get("index"), actual.get("index"), opts)
    if ek == "dataframe":
        exp_cols, act_cols = [repr(c) for c in expected["columns"]], [repr(c) for c in actual["columns"]]
        if Counter(exp_cols) != Counter(act_cols):
            return Comparison(False, f"columns differ: expected {expected['columns']}, got {actual['columns']}")
        act_rows = actual["rows"]
        if exp_cols != act_cols:
            if not opts.ignore_column_order:
                return Comparison(
                    False, f"column order differs: expected {expected['columns']}, got {actual['columns']}"
                )
            order = [act_cols.index(c) for c in exp_cols]
            act_rows = [[row[i] for i in order] for row in act_rows]
        return _compare_table(expected["rows"], act_rows, expected.get("index"), actual.get("index"), opts)
    return Comparison(False, f"expected {_describe(expected)}, got {_describe(actual)}")
