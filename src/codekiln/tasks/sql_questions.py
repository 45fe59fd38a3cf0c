"""Question templates for `sql-basic`: (template, table, question, gold query) from a database's described tables.

Templates are grouped by difficulty (the template name's prefix): filter, aggregate, order, group, having,
join, subquery, window. Column names appear in backticks (qualified as `table.column` once two tables are
involved), and averages are asked "rounded to 2 decimal places" so the expected numbers are unambiguous.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codekiln.tasks.sql_basic import Table

Question = tuple[str, str, str, str]  # (template, table, question, gold)
MONTHS = ("January February March April May June July August September October November December").split()
STATS = (("MAX", "highest"), ("MIN", "lowest"), ("SUM", "total"))


def column(t: Table, name: str) -> list[Any]:
    i = [c for c, _ in t.columns].index(name)
    return [row[i] for row in t.rows]


def cat_values(t: Table, c: str, rng: random.Random, k: int = 3) -> list[str]:
    values = sorted(set(column(t, c)))
    return rng.sample(values, min(k, len(values)))


def no_ties(t: Table, n: str) -> bool:
    """Ordering questions only on columns without ties, so the expected order is unique."""
    values = column(t, n)
    return len(set(values)) == len(values)


def thresholds(t: Table, n: str) -> list[Any]:
    values = sorted(column(t, n))
    picks = [values[int(len(values) * q)] for q in (0.3, 0.5, 0.7)]
    return [int(v) if isinstance(v, float) else v for v in picks]


def quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def single_table(t: Table, rng: random.Random) -> Iterator[Question]:
    L, P, S, T = t.label, t.plural, t.singular, t.name
    for c in t.cats:
        for v in cat_values(t, c, rng):
            yield "filter_eq", T, f"List the `{L}` of all {P} whose `{c}` is '{v}'.", \
                f"SELECT {L} FROM {T} WHERE {c} = {quote(v)}"
            yield "aggregate_count", T, f"How many {P} have `{c}` equal to '{v}'?", \
                f"SELECT COUNT(*) FROM {T} WHERE {c} = {quote(v)}"
            for n in t.nums:
                x = rng.choice(thresholds(t, n))
                yield "filter_and", T, f"List the `{L}` of {P} whose `{c}` is '{v}' and whose `{n}` is below {x}.", \
                    f"SELECT {L} FROM {T} WHERE {c} = {quote(v)} AND {n} < {x}"
                yield "aggregate_avg", T, (f"What is the average `{n}` of {P} whose `{c}` is '{v}', rounded to "
                                           "2 decimal places?"), f"SELECT ROUND(AVG({n}), 2) FROM {T} WHERE {c} = {quote(v)}"
                if no_ties(t, n):
                    yield "order_filtered", T, (f"List the `{L}` of {P} whose `{c}` is '{v}', ordered by `{n}` from "
                                                "lowest to highest."), \
                        f"SELECT {L} FROM {T} WHERE {c} = {quote(v)} ORDER BY {n}"
                yield "subquery_max", T, (f"Which {S} has the highest `{n}` among the {P} whose `{c}` is '{v}'? "
                                          f"Show its `{L}` and `{n}`."), \
                    (f"SELECT {L}, {n} FROM {T} WHERE {c} = {quote(v)} AND {n} = "
                     f"(SELECT MAX({n}) FROM {T} WHERE {c} = {quote(v)})")
        yield "group_count", T, f"For each `{c}`, show the `{c}` and how many {P} have it.", \
            f"SELECT {c}, COUNT(*) FROM {T} GROUP BY {c}"
        yield "order_distinct", T, f"List the different `{c}` values of {P}, each once, in alphabetical order.", \
            f"SELECT DISTINCT {c} FROM {T} ORDER BY {c}"
        for k in (2, 3, 4):
            yield "having_count", T, f"Which `{c}` values are shared by at least {k} {P}? Show each such `{c}`.", \
                f"SELECT {c} FROM {T} GROUP BY {c} HAVING COUNT(*) >= {k}"
        for n in t.nums:
            for fn, word in STATS:
                yield "group_stat", T, f"For each `{c}`, show the `{c}` and the {word} `{n}` of its {P}.", \
                    f"SELECT {c}, {fn}({n}) FROM {T} GROUP BY {c}"
            yield "group_avg", T, (f"For each `{c}`, show the `{c}` and the average `{n}` of its {P}, rounded to "
                                   "2 decimal places."), f"SELECT {c}, ROUND(AVG({n}), 2) FROM {T} GROUP BY {c}"
            x = rng.choice(thresholds(t, n))
            yield "having_avg", T, (f"Show each `{c}` whose {P} have an average `{n}` above {x}, together with that "
                                    "average rounded to 2 decimal places."), \
                f"SELECT {c}, ROUND(AVG({n}), 2) FROM {T} GROUP BY {c} HAVING AVG({n}) > {x}"
            yield "window_rank", T, (f"For every {S}, show its `{L}`, its `{c}` and its rank by `{n}` among the {P} "
                                     f"with the same `{c}` (highest `{n}` is rank 1; ties share a rank, as RANK() "
                                     "does)."), f"SELECT {L}, {c}, RANK() OVER (PARTITION BY {c} ORDER BY {n} DESC) FROM {T}"
            yield "window_avg", T, (f"For every {S}, show its `{L}`, its `{n}`, and the average `{n}` of all {P} with "
                                    f"the same `{c}` rounded to 2 decimal places."), \
                f"SELECT {L}, {n}, ROUND(AVG({n}) OVER (PARTITION BY {c}), 2) FROM {T}"
    for n in t.nums:
        for x in thresholds(t, n):
            yield "filter_gt", T, f"List the `{L}` and `{n}` of {P} whose `{n}` is greater than {x}.", \
                f"SELECT {L}, {n} FROM {T} WHERE {n} > {x}"
        lo, _, hi = thresholds(t, n)
        yield "filter_between", T, f"List the `{L}` of {P} with `{n}` between {lo} and {hi} (inclusive).", \
            f"SELECT {L} FROM {T} WHERE {n} BETWEEN {lo} AND {hi}"
        for fn, word in STATS:
            yield "aggregate_stat", T, f"What is the {word} `{n}` over all {P}?", f"SELECT {fn}({n}) FROM {T}"
        for k in (3, 5) if no_ties(t, n) else ():
            yield "order_top", T, (f"List the `{L}` and `{n}` of the {k} {P} with the highest `{n}`, highest first."), \
                f"SELECT {L}, {n} FROM {T} ORDER BY {n} DESC LIMIT {k}"
            yield "order_bottom", T, (f"List the `{L}` and `{n}` of the {k} {P} with the lowest `{n}`, lowest first."), \
                f"SELECT {L}, {n} FROM {T} ORDER BY {n} ASC LIMIT {k}"
        yield "subquery_avg", T, f"List the `{L}` of {P} whose `{n}` is above the average `{n}` of all {P}.", \
            f"SELECT {L} FROM {T} WHERE {n} > (SELECT AVG({n}) FROM {T})"
        yield "window_running", T, (f"List every {S}'s `{t.pk}` and `{n}` with the running total of `{n}` in order of "
                                    f"`{t.pk}`, ordered by `{t.pk}`."), \
            f"SELECT {t.pk}, {n}, SUM({n}) OVER (ORDER BY {t.pk}) FROM {T} ORDER BY {t.pk}"
    for d in t.dates:
        days = sorted(set(column(t, d)))
        for day in rng.sample(days, min(3, len(days))):
            year, month = day[:4], int(day[5:7])
            yield "filter_month", T, (f"List the `{t.pk}` of {P} whose `{d}` is in {MONTHS[month - 1]} {year} "
                                      "(dates are 'YYYY-MM-DD' text)."), \
                f"SELECT {t.pk} FROM {T} WHERE {d} LIKE '{year}-{month:02d}-%'"
            yield "aggregate_year", T, f"How many {P} have a `{d}` in the year {year}?", \
                f"SELECT COUNT(*) FROM {T} WHERE {d} LIKE '{year}-%'"
            yield "group_month", T, (f"For each month of {year}, show the month as 'YYYY-MM' and the number of {P} "
                                     f"whose `{d}` falls in it, ordered by month."), \
                (f"SELECT substr({d}, 1, 7) AS month, COUNT(*) FROM {T} WHERE {d} LIKE '{year}-%' "
                 "GROUP BY month ORDER BY month")


def joins(child: Table, parents: dict[str, Table], rng: random.Random) -> Iterator[Question]:
    K, KP = child.name, child.plural
    for fk, (pname, role) in child.fks.items():
        p = parents[pname]
        PT, PL, PS, PP = p.name, f"{p.name}.{p.label}", p.singular, p.plural
        on = f"FROM {K} JOIN {PT} ON {K}.{fk} = {PT}.{p.pk}"
        KL = f"{K}.{child.label}"
        for c in p.cats:
            for v in cat_values(p, c, rng):
                yield "join_filter", K, f"List the `{KL}` of {KP} whose {role} has `{PT}.{c}` '{v}'.", \
                    f"SELECT {KL} {on} WHERE {PT}.{c} = {quote(v)}"
        yield "join_count", K, (f"For each {PS}, show its `{PL}` and how many {KP} have it as their {role} "
                                f"(leave out {PP} with none)."), f"SELECT {PL}, COUNT(*) {on} GROUP BY {PT}.{p.pk}"
        for n in child.nums:
            yield "join_sum", K, (f"For each {PS}, show its `{PL}` and the total `{K}.{n}` of the {KP} that have it "
                                  f"as their {role} (leave out {PP} with none)."), \
                f"SELECT {PL}, SUM({K}.{n}) {on} GROUP BY {PT}.{p.pk}"
            x = rng.choice(thresholds(child, n))
            yield "join_show", K, (f"For the {KP} whose `{K}.{n}` is greater than {x}, show the `{KL}` and the `{PL}` "
                                   f"of their {role}."), f"SELECT {KL}, {PL} {on} WHERE {K}.{n} > {x}"
        for k in (2, 3, 5):
            yield "having_join", K, f"Show the `{PL}` of every {PS} that is the {role} of more than {k} {KP}.", \
                f"SELECT {PL} {on} GROUP BY {PT}.{p.pk} HAVING COUNT(*) > {k}"
        yield "subquery_none", K, f"List the `{PL}` of {PP} that are not the {role} of any {child.singular}.", \
            f"SELECT {PL} FROM {PT} WHERE {p.pk} NOT IN (SELECT {fk} FROM {K} WHERE {fk} IS NOT NULL)"
        most = f"has the most {KP}" if role == PS else f"is the {role} of the most {KP}"
        yield "subquery_most", K, (f"Which {PS} {most}? Show its `{PL}` (every one of them if several are tied)."), \
            (f"SELECT {PL} {on} GROUP BY {PT}.{p.pk} HAVING COUNT(*) = "
             f"(SELECT MAX(cnt) FROM (SELECT COUNT(*) AS cnt FROM {K} GROUP BY {fk}))")
        yield "window_join", K, (f"For each {PS} that is the {role} of at least one {child.singular}, show its `{PL}`, "
                                 f"the number of such {KP}, and its rank by that number (most is rank 1; ties share a "
                                 "rank, as RANK() does)."), \
            f"SELECT {PL}, COUNT(*), RANK() OVER (ORDER BY COUNT(*) DESC) {on} GROUP BY {PT}.{p.pk}"
    fks = list(child.fks.items())
    for (f1, (p1name, r1)), (f2, (p2name, r2)) in [(a, b) for a in fks for b in fks if a != b]:
        p1, p2 = parents[p1name], parents[p2name]
        for c in p2.cats:
            for v in cat_values(p2, c, rng, 2):
                yield "join_two", K, (f"List, each once, the `{p1.name}.{p1.label}` of {p1.plural} that are the {r1} "
                                      f"of some {child.singular} whose {r2} has `{p2.name}.{c}` '{v}'."), \
                    (f"SELECT DISTINCT a.{p1.label} FROM {K} JOIN {p1.name} AS a ON {K}.{f1} = a.{p1.pk} "
                     f"JOIN {p2.name} AS b ON {K}.{f2} = b.{p2.pk} WHERE b.{c} = {quote(v)}")


def questions(tables: list[Table], rng: random.Random) -> Iterator[Question]:
    """Every candidate question of a database, in a seeded random order (the caller caps and filters them)."""
    by_name = {t.name: t for t in tables}
    found: list[Question] = []
    for t in tables:
        found.extend(single_table(t, rng))
        found.extend(joins(t, by_name, rng))
    rng.shuffle(found)
    yield from found
