"""The `pandas-basic` suite: data-analysis tasks over small generated DataFrames, verified by value.

Each dataset is generated from a fixed seed and written out as literal `setup` code (the model sees it).
Templates ask for filters, aggregates, group-bys, pivots, merges, window-style and string/date work; the
`reference` computes `result`, and `meta["compare"]` says how strictly a candidate's value must match
(index, column order, row order).

The split is by dataset: test tasks work on DataFrames the train split never shows, so no test prompt
(setup + request) is contained in a training item.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from codekiln.records import Task
from codekiln.tasks.order import interleave

SUITE = "pandas-basic"
TEST_DATASETS = ("orders", "movies")  # held out: their tasks form the test split
PER_TEMPLATE = 2  # most tasks per (dataset, template)

NAMES = "Ada Ben Cara Dan Eva Finn Gus Hana Ivan Jade Kofi Lena Milo Nora Omar Pia".split()


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: dict[str, list[Any]]
    label: str  # a column that names rows
    cats: tuple[str, ...]
    nums: tuple[str, ...]
    date: str | None = None
    missing: str | None = None  # a numeric column with NaN values

    def setup(self) -> str:
        lines = ["import numpy as np", "import pandas as pd", "", "df = pd.DataFrame({"]
        for col, values in self.columns.items():
            lines.append(f"    {col!r}: [{', '.join(_lit(v) for v in values)}],")
        lines.append("})")
        return "\n".join(lines) + "\n"

    def values(self, col: str) -> list[Any]:
        return [v for v in self.columns[col] if v is not None]


def _lit(v: Any) -> str:
    return "np.nan" if v is None else repr(v)


def _datasets() -> list[Dataset]:
    rng = random.Random(f"codekiln:{SUITE}")
    n = 12
    sales = Dataset("sales", {
        "rep": rng.sample(NAMES, n),
        "region": [rng.choice(("north", "south", "east", "west")) for _ in range(n)],
        "product": [rng.choice(("pens", "paper", "ink")) for _ in range(n)],
        "units": rng.sample(range(5, 90), n),
        "price": [round(v / 4, 2) for v in rng.sample(range(8, 200), n)],
        "date": [f"2024-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}" for _ in range(n)],
    }, "rep", ("region", "product"), ("units", "price"), "date")
    students = Dataset("students", {
        "student": rng.sample(NAMES, n),
        "house": [rng.choice(("red", "green", "blue")) for _ in range(n)],
        "math": rng.sample(range(35, 100), n),
        "reading": rng.sample(range(30, 100), n),
        "absences": [None if i % 4 == 0 else rng.randint(0, 11) for i in range(n)],
    }, "student", ("house",), ("math", "reading"), None, "absences")
    weather = Dataset("weather", {
        "city": [rng.choice(("Oslo", "Lisbon", "Graz")) for _ in range(n)],
        "day": [f"2024-03-{d:02d}" for d in sorted(rng.sample(range(1, 29), n))],
        "temp_c": [round(rng.uniform(-5, 25), 1) for _ in range(n)],
        "rain_mm": [round(rng.uniform(0, 20), 1) if i % 5 else None for i in range(n)],
    }, "day", ("city",), ("temp_c",), "day", "rain_mm")
    staff = Dataset("staff", {
        "employee": rng.sample(NAMES, n),
        "dept": [rng.choice(("ops", "dev", "hr")) for _ in range(n)],
        "salary": [v * 100 for v in rng.sample(range(300, 1200), n)],
        "years": rng.sample(range(1, 30), n),
    }, "employee", ("dept",), ("salary", "years"))
    stock = Dataset("stock", {
        "item": rng.sample(["bolt", "nut", "screw", "washer", "rivet", "hinge", "clamp", "spring", "gear", "pulley",
                            "chain", "hook"], n),
        "category": [rng.choice(("metal", "plastic")) for _ in range(n)],
        "on_hand": rng.sample(range(0, 500), n),
        "unit_cost": [round(v / 10, 2) for v in rng.sample(range(5, 400), n)],
    }, "item", ("category",), ("on_hand", "unit_cost"))
    orders = Dataset("orders", {
        "order_no": [f"A{v}" for v in rng.sample(range(100, 999), n)],
        "channel": [rng.choice(("web", "shop", "phone")) for _ in range(n)],
        "status": [rng.choice(("paid", "open")) for _ in range(n)],
        "amount": [round(v / 4, 2) for v in rng.sample(range(40, 2000), n)],
        "qty": rng.sample(range(1, 40), n),
        "placed": [f"2024-{rng.randint(7, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(n)],
    }, "order_no", ("channel", "status"), ("amount", "qty"), "placed")
    movies = Dataset("movies", {
        "title": rng.sample(["Dune", "Heat", "Jaws", "Alien", "Brave", "Coco", "Up", "Rocky", "Fargo", "Big",
                             "Tron", "Klute"], n),
        "genre": [rng.choice(("drama", "comedy", "scifi")) for _ in range(n)],
        "rating": [round(v / 10, 1) for v in rng.sample(range(40, 95), n)],
        "votes": rng.sample(range(1000, 90000), n),
        "budget_m": [None if i % 4 == 1 else rng.randint(5, 200) for i in range(n)],
    }, "title", ("genre",), ("rating", "votes"), None, "budget_m")
    return [sales, students, weather, staff, stock, orders, movies]


Item = tuple[str, str, str, dict[str, bool]]  # (template, prompt, reference, compare options)
KEEP = {"ignore_index": True}
ANY_ORDER = {"ignore_index": True, "ignore_row_order": True}


def _cases(d: Dataset, rng: random.Random) -> Iterator[Item]:
    L = d.label
    for c in d.cats:
        values = sorted(set(d.values(c)))
        for v in rng.sample(values, min(2, len(values))):
            yield "filter_eq", f"Select the rows of `df` whose `{c}` is {v!r} (all columns).", \
                f"result = df[df[{c!r}] == {v!r}]", KEEP
            yield "count_eq", f"Count the rows of `df` whose `{c}` is {v!r}; store the count as an int.", \
                f"result = int((df[{c!r}] == {v!r}).sum())", {}
            for n in d.nums:
                yield "mean_eq", f"Compute the mean `{n}` of the rows of `df` whose `{c}` is {v!r}, as a float.", \
                    f"result = float(df.loc[df[{c!r}] == {v!r}, {n!r}].mean())", {}
        yield "value_counts", (f"Count how many rows of `df` have each `{c}` value, as a Series indexed by `{c}` "
                               "and sorted by the index."), f"result = df[{c!r}].value_counts().sort_index()", {}
        yield "unique", f"List the distinct `{c}` values of `df` in order of first appearance, as a Python list.", \
            f"result = df[{c!r}].unique().tolist()", {}
        for n in d.nums:
            for fn in ("sum", "mean", "max", "min"):
                yield "groupby", (f"Compute the {fn} of `{n}` for each `{c}` of `df`, as a Series indexed by `{c}` "
                                  "(sorted by the index)."), f"result = df.groupby({c!r})[{n!r}].{fn}()", {}
            yield "groupby_agg", (f"Make a DataFrame indexed by `{c}` (sorted) with two columns: `total`, the sum of "
                                  f"`{n}`, and `count`, the number of rows, for each `{c}` of `df`."), \
                f"result = df.groupby({c!r}).agg(total=({n!r}, 'sum'), count=({n!r}, 'size'))", {}
            yield "rank_within", (f"For each row of `df`, compute the rank of its `{n}` within its `{c}` group "
                                  "(largest = 1, ties get the minimum rank), as a list of floats in row order."), \
                f"result = df.groupby({c!r})[{n!r}].rank(ascending=False, method='min').tolist()", {}
            yield "share", (f"For each row of `df`, compute its `{n}` divided by the total `{n}` of its `{c}` group, "
                            "as a list of floats in row order."), \
                f"result = (df[{n!r}] / df.groupby({c!r})[{n!r}].transform('sum')).tolist()", {}
            yield "idxmax_group", (f"For each `{c}` of `df`, find the `{L}` of the row with the largest `{n}`; return "
                                   f"a Series indexed by `{c}` (sorted)."), \
                f"result = df.loc[df.groupby({c!r})[{n!r}].idxmax(), [{c!r}, {L!r}]].set_index({c!r})[{L!r}]" \
                ".sort_index()", {}
    if len(d.cats) >= 2:
        a, b = d.cats[0], d.cats[1]
        for n in d.nums:
            yield "pivot", (f"Build a pivot table of `df` with one row per `{a}`, one column per `{b}`, and the sum of "
                            f"`{n}` in the cells (0 where a combination is missing)."), \
                f"result = df.pivot_table(index={a!r}, columns={b!r}, values={n!r}, aggfunc='sum', fill_value=0)", {}
    for n in d.nums:
        values = sorted(d.values(n))
        for q in (0.3, 0.6):
            x = values[int(len(values) * q)]
            yield "filter_gt", (f"Make a DataFrame with only the `{L}` and `{n}` columns of the rows of `df` whose "
                                f"`{n}` is greater than {x}."), f"result = df.loc[df[{n!r}] > {x}, [{L!r}, {n!r}]]", KEEP
            yield "label_where", (f"Make a list with one string per row of `df`: 'high' where `{n}` is greater than "
                                  f"{x}, else 'low'."), f"result = np.where(df[{n!r}] > {x}, 'high', 'low').tolist()", {}
            yield "any_gt", f"Is there any row in `df` whose `{n}` is greater than {x}? Store a bool.", \
                f"result = bool((df[{n!r}] > {x}).any())", {}
        for k in (3, 4):
            yield "top_k", (f"List the `{L}` values of the {k} rows of `df` with the largest `{n}`, largest first, as "
                            "a Python list."), f"result = df.nlargest({k}, {n!r})[{L!r}].tolist()", {}
            yield "bottom_k", (f"Make a DataFrame of the {k} rows of `df` with the smallest `{n}` (all columns), "
                               "smallest first."), f"result = df.nsmallest({k}, {n!r})", KEEP
        yield "sort", f"Sort `df` by `{n}` from largest to smallest (all columns).", \
            f"result = df.sort_values({n!r}, ascending=False)", KEEP
        yield "cumsum", f"Compute the running total of `{n}` in row order, as a list.", \
            f"result = df[{n!r}].cumsum().tolist()", {}
        yield "range", f"Compute the difference between the largest and the smallest `{n}` in `df`.", \
            f"result = df[{n!r}].max() - df[{n!r}].min()", {}
        yield "zscore", (f"Add a column `{n}_z` to `df` holding the z-score of `{n}` (subtract the mean, divide by the "
                         "sample standard deviation); the result is the whole DataFrame with the new column."), \
            f"result = df.assign({n}_z=(df[{n!r}] - df[{n!r}].mean()) / df[{n!r}].std())", KEEP
        yield "above_mean", f"List the `{L}` of the rows of `df` whose `{n}` is above the mean `{n}`, as a list.", \
            f"result = df.loc[df[{n!r}] > df[{n!r}].mean(), {L!r}].tolist()", {}
    if len(d.nums) >= 2:
        a, b = d.nums
        yield "corr", f"Compute the Pearson correlation between `{a}` and `{b}` in `df`, as a float.", \
            f"result = float(df[{a!r}].corr(df[{b!r}]))", {}
        yield "product_col", (f"Add a column `{a}_x_{b}` equal to `{a}` times `{b}`; the result is the whole "
                              "DataFrame with the new column."), f"result = df.assign({a}_x_{b}=df[{a!r}] * df[{b!r}])", KEEP
        yield "total_product", f"Compute the sum over all rows of `{a}` times `{b}`, as a float.", \
            f"result = float((df[{a!r}] * df[{b!r}]).sum())", {}
    if d.missing:
        m = d.missing
        yield "fill_mean", (f"Fill the missing values of `{m}` with the mean of its non-missing values; the result is "
                            f"the `{m}` Series."), f"result = df[{m!r}].fillna(df[{m!r}].mean())", {}
        yield "count_missing", f"Count the missing values in `{m}`; store an int.", \
            f"result = int(df[{m!r}].isna().sum())", {}
        yield "dropna", f"Select the rows of `df` where `{m}` is not missing (all columns).", \
            f"result = df.dropna(subset=[{m!r}])", KEEP
        yield "fill_zero_sum", f"Compute the total of `{m}` treating missing values as 0, as a float.", \
            f"result = float(df[{m!r}].fillna(0).sum())", {}
    if d.date:
        t = d.date
        n = d.nums[0]
        yield "month_total", (f"Total `{n}` per month: a Series indexed by the month as a 'YYYY-MM' string (sorted), "
                              f"using the dates in `{t}`."), \
            f"result = df.groupby(pd.to_datetime(df[{t!r}]).dt.strftime('%Y-%m'))[{n!r}].sum()", {}
        yield "weekday", (f"List the weekday name (like 'Monday') of each date in `{t}`, in row order, as a Python "
                          "list."), f"result = pd.to_datetime(df[{t!r}]).dt.day_name().tolist()", {}
        for day in rng.sample(sorted(set(d.values(t))), 2):
            yield "after_date", f"List the `{L}` of the rows of `df` whose `{t}` is after {day}, as a Python list.", \
                f"result = df.loc[pd.to_datetime(df[{t!r}]) > pd.Timestamp({day!r}), {L!r}].tolist()", {}
    if L == d.date:
        return
    yield "upper", f"List the `{L}` values of `df` upper-cased, in row order, as a Python list.", \
        f"result = df[{L!r}].str.upper().tolist()", {}
    letters = sorted({str(v)[0] for v in d.values(L)})
    for letter in rng.sample(letters, min(2, len(letters))):
        yield "startswith", f"Count the rows of `df` whose `{L}` starts with {letter!r}; store an int.", \
            f"result = int(df[{L!r}].str.startswith({letter!r}).sum())", {}
    if d.cats:
        c, n = d.cats[0], d.nums[0]
        yield "merge", (f"Make a DataFrame `totals` with one row per `{c}` and its total `{n}` in a column named "
                        f"`{c}_total`, then merge it back into `df` on `{c}` so every row gets its group's total; the "
                        "result is the merged DataFrame (rows in any order)."), \
            (f"totals = df.groupby({c!r}, as_index=False)[{n!r}].sum().rename(columns={{{n!r}: '{c}_total'}})\n"
             f"result = df.merge(totals, on={c!r})"), {**ANY_ORDER, "ignore_column_order": True}


def build_tasks() -> list[Task]:
    tasks: list[Task] = []
    seen: set[str] = set()
    for d in _datasets():
        rng = random.Random(f"codekiln:{SUITE}:{d.name}")
        setup = d.setup()
        per: dict[str, int] = {}
        items = list(_cases(d, rng))
        rng.shuffle(items)
        for template, prompt, reference, options in items:
            if prompt in seen or per.get(template, 0) >= PER_TEMPLATE:
                continue
            seen.add(prompt)
            per[template] = per.get(template, 0) + 1
            digest = hashlib.sha256(f"{d.name}\n{prompt}".encode()).hexdigest()
            split = "test" if d.name in TEST_DATASETS else "train"
            meta: dict[str, Any] = {"dataset": d.name, "template": template}
            if options:
                meta["compare"] = dict(options)
            tasks.append(Task(
                task_id=f"{SUITE}/{d.name}/{digest[:10]}", kind="pandas", prompt=prompt, split=split,
                setup=setup, reference=reference, result_name="result", meta=meta,
            ))
    return tasks


def load() -> list[Task]:
    return interleave(build_tasks(), "dataset")
