"""Independent answers to the pandas-basic tasks, computed in plain Python from the task's prompt and data.

No pandas here, and nothing read from the task's `reference`: each template's answer is worked out from what
its prompt asks (names and numbers parsed from the prompt) over the dataset's columns. The result has the
plain shape the sandbox harness sends (`verify/compare.py`), so it can be compared with a reference's value,
or written as a program (`literal`) and verified like a model's sample.
"""

from __future__ import annotations

import ast
import datetime
import math
import re
from collections.abc import Callable
from typing import Any

from codekiln.records import Task
from codekiln.tasks.pandas_basic import _datasets

NAN = float("nan")
Columns = dict[str, list[Any]]


def _col(cols: Columns, name: str) -> list[Any]:
    return [NAN if v is None else v for v in cols[name]]


def _present(xs: list[Any]) -> list[Any]:
    return [x for x in xs if not (isinstance(x, float) and math.isnan(x))]


def _mean(xs: list[Any]) -> float:
    xs = _present(xs)
    return sum(xs) / len(xs) if xs else NAN


def _frame(cols: Columns, rows: list[int], names: list[str], extra: dict[str, list[Any]] | None = None) -> dict:
    extra = extra or {}
    table = {**{n: _col(cols, n) for n in names}, **extra}
    return {"type": "dataframe", "columns": [*names, *extra], "index": rows,
            "rows": [[table[n][i] for n in table] for i in rows]}


def _series(index: list[Any], values: list[Any]) -> dict:
    return {"type": "series", "name": None, "index": index, "values": values}


def _groups(cols: Columns, key: str, value: str) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for k, v in zip(_col(cols, key), _col(cols, value), strict=True):
        out.setdefault(k, []).append(v)
    return dict(sorted(out.items()))


def _number(prompt: str, before: str) -> float:
    return float(re.search(rf"{before} (-?\d+(?:\.\d+)?)", prompt).group(1))


def _quoted(prompt: str) -> Any:
    return ast.literal_eval(re.search(r"'[^']*'", prompt).group(0))


def _stable_order(values: list[Any], largest_first: bool) -> list[int]:
    return sorted(range(len(values)), key=lambda i: -values[i] if largest_first else values[i])


def _sample_std(xs: list[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


Answer = Callable[[Columns, str, list[str], str], Any]  # (columns, label column, names in the prompt, prompt)


def _rows_where(cols: Columns, name: str, test: Callable[[Any], bool]) -> list[int]:
    return [i for i, v in enumerate(_col(cols, name)) if test(v)]


ANSWERS: dict[str, Answer] = {
    "filter_eq": lambda d, L, n, p: _frame(d, _rows_where(d, n[0], lambda v: v == _quoted(p)), list(d)),
    "count_eq": lambda d, L, n, p: len(_rows_where(d, n[0], lambda v: v == _quoted(p))),
    "mean_eq": lambda d, L, n, p: _mean([_col(d, n[0])[i] for i in _rows_where(d, n[1], lambda v: v == _quoted(p))]),
    "value_counts": lambda d, L, n, p: _series(*map(list, zip(*((k, len(v)) for k, v in _groups(d, n[0], n[0]).items()),
                                                                strict=True))),
    "unique": lambda d, L, n, p: list(dict.fromkeys(_col(d, n[0]))),
    "groupby": lambda d, L, n, p: _series(list(_groups(d, n[1], n[0])), [
        {"sum": sum, "mean": _mean, "max": max, "min": min}[re.match(r"Compute the (\w+) of", p).group(1)](v)
        for v in _groups(d, n[1], n[0]).values()]),
    "groupby_agg": lambda d, L, n, p: {"type": "dataframe", "columns": ["total", "count"],
                                       "index": list(_groups(d, n[0], n[2])),
                                       "rows": [[sum(v), len(v)] for v in _groups(d, n[0], n[2]).values()]},
    "rank_within": lambda d, L, n, p: [
        1.0 + sum(1 for k2, v2 in zip(_col(d, n[1]), _col(d, n[0]), strict=True) if k2 == k and v2 > v)
        for k, v in zip(_col(d, n[1]), _col(d, n[0]), strict=True)],
    "share": lambda d, L, n, p: [v / sum(_groups(d, n[2], n[0])[k])
                                 for k, v in zip(_col(d, n[2]), _col(d, n[0]), strict=True)],
    "idxmax_group": lambda d, L, n, p: _series(list(_groups(d, n[0], n[2])), [
        _col(d, n[1])[next(i for i, (k2, v) in enumerate(zip(_col(d, n[0]), _col(d, n[2]), strict=True))
                           if k2 == k and v == max(vals))]
        for k, vals in _groups(d, n[0], n[2]).items()]),
    "pivot": lambda d, L, n, p: {"type": "dataframe", "columns": sorted(set(_col(d, n[1]))),
                                 "index": sorted(set(_col(d, n[0]))),
                                 "rows": [[sum(v for a, b, v in zip(_col(d, n[0]), _col(d, n[1]), _col(d, n[2]),
                                                                    strict=True) if a == ra and b == cb)
                                           for cb in sorted(set(_col(d, n[1])))] for ra in sorted(set(_col(d, n[0])))]},
    "filter_gt": lambda d, L, n, p: _frame(d, _rows_where(d, n[1], lambda v: v > _number(p, "greater than")),
                                           [n[0], n[1]]),
    "label_where": lambda d, L, n, p: ["high" if v > _number(p, "greater than") else "low" for v in _col(d, n[0])],
    "any_gt": lambda d, L, n, p: any(v > _number(p, "greater than") for v in _col(d, n[0])),
    "top_k": lambda d, L, n, p: [_col(d, n[0])[i] for i in
                                 _stable_order(_col(d, n[1]), True)[: int(_number(p, "of the"))]],
    "bottom_k": lambda d, L, n, p: _frame(d, _stable_order(_col(d, n[0]), False)[: int(_number(p, "of the"))], list(d)),
    "sort": lambda d, L, n, p: _frame(d, _stable_order(_col(d, n[0]), True), list(d)),
    "cumsum": lambda d, L, n, p: [sum(_col(d, n[0])[: i + 1]) for i in range(len(_col(d, n[0])))],
    "range": lambda d, L, n, p: max(_col(d, n[0])) - min(_col(d, n[0])),
    "zscore": lambda d, L, n, p: _frame(d, list(range(len(_col(d, n[1])))), list(d), {n[0]: [
        (v - _mean(_col(d, n[1]))) / _sample_std(_col(d, n[1])) for v in _col(d, n[1])]}),
    "above_mean": lambda d, L, n, p: [lab for lab, v in zip(_col(d, n[0]), _col(d, n[1]), strict=True)
                                      if v > _mean(_col(d, n[1]))],
    "corr": lambda d, L, n, p: _pearson(_col(d, n[0]), _col(d, n[1])),
    "product_col": lambda d, L, n, p: _frame(d, list(range(len(_col(d, n[1])))), list(d), {n[0]: [
        a * b for a, b in zip(_col(d, n[1]), _col(d, n[2]), strict=True)]}),
    "total_product": lambda d, L, n, p: sum(a * b for a, b in zip(_col(d, n[0]), _col(d, n[1]), strict=True)),
    "fill_mean": lambda d, L, n, p: _series(None, [
        _mean(_col(d, n[0])) if isinstance(v, float) and math.isnan(v) else v for v in _col(d, n[0])]),
    "count_missing": lambda d, L, n, p: len(_col(d, n[0])) - len(_present(_col(d, n[0]))),
    "dropna": lambda d, L, n, p: _frame(d, [i for i, v in enumerate(_col(d, n[0])) if _present([v])], list(d)),
    "fill_zero_sum": lambda d, L, n, p: float(sum(_present(_col(d, n[0])))),
    "month_total": lambda d, L, n, p: _series(*map(list, zip(*(
        (month, sum(v for t, v in zip(_col(d, n[1]), _col(d, n[0]), strict=True) if t[:7] == month))
        for month in sorted({t[:7] for t in _col(d, n[1])})), strict=True))),
    "weekday": lambda d, L, n, p: [datetime.date.fromisoformat(t).strftime("%A") for t in _col(d, n[0])],
    "after_date": lambda d, L, n, p: [lab for lab, t in zip(_col(d, n[0]), _col(d, n[1]), strict=True)
                                      if t > re.search(r"is after (\S+),", p).group(1)],
    "upper": lambda d, L, n, p: [str(v).upper() for v in _col(d, n[0])],
    "startswith": lambda d, L, n, p: sum(str(v).startswith(_quoted(p)) for v in _col(d, n[0])),
    "merge": lambda d, L, n, p: _frame(d, list(range(len(_col(d, n[1])))), list(d), {n[3]: [
        sum(_groups(d, n[1], n[2])[k]) for k in _col(d, n[1])]}),
}


def _pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = _mean(xs), _mean(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def _plain(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"type": "list", "items": value}
    return {"type": "scalar", "value": value}


def expected(task: Task) -> dict:
    """The answer to a pandas-basic task, in the harness's plain shape; KeyError for a template without one."""
    dataset = {d.name: d for d in _datasets()}[task.meta["dataset"]]
    names = [n for n in re.findall(r"`(\w+)`", task.prompt) if n != "df"]
    return _plain(ANSWERS[task.meta["template"]](dataset.columns, dataset.label, names, task.prompt))


def _py(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "float('nan')"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def literal(value: dict) -> str:
    """A program that sets `result` to `value` (a plain shape) without computing anything."""
    kind = value["type"]
    if kind == "scalar":
        return f"result = {_py(value['value'])}\n"
    if kind == "list":
        return f"result = {_py(value['items'])}\n"
    index = f", index={_py(value['index'])}" if value.get("index") is not None else ""
    if kind == "series":
        return f"result = pd.Series({_py(value['values'])}{index})\n"
    return f"result = pd.DataFrame({_py(value['rows'])}, columns={_py(value['columns'])}{index})\n"


def _nudge(x: Any) -> Any:
    if isinstance(x, bool):
        return not x
    if isinstance(x, int | float):
        return x + 1
    return f"{x}!"


def perturbed(value: dict) -> dict:
    """`value` with one cell changed (the first one the shape holds): a near miss of the right shape."""
    kind = value["type"]
    if kind == "scalar":
        return {**value, "value": _nudge(value["value"])}
    key = {"list": "items", "series": "values", "dataframe": "rows"}[kind]
    items = [list(r) if isinstance(r, list) else r for r in value[key]]
    if not items:  # an empty answer: one made-up row instead
        return {**value, key: [[0] * len(value["columns"])] if kind == "dataframe" else [0], "index": None}
    if kind == "dataframe":
        items[0][-1] = _nudge(items[0][-1])
    else:
        items[0] = _nudge(items[0])
    return {**value, key: items}
