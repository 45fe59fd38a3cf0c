"""The `sql-transfer` suite: text-to-SQL questions the loop never trains on, for transfer evaluation (test split only).

Built by sql-basic's machinery (`sql_basic.build_sql_tasks`: seeded databases, gold queries run, uninformative
results dropped) over five databases of other domains and schemas (no table or database name of sql-basic) and
question templates of their own wording (see `questions`). So a model trained on sql-basic's train split meets new
schemas and new phrasings here: a gain that carries over is SQL skill, not the memory of one suite's sentences.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from codekiln.records import Task
from codekiln.tasks.order import interleave
from codekiln.tasks.sql_basic import (
    Table,
    build_sql_tasks,
    combined_titles,
    distinct_values,
    parent_id,
    people,
    random_date,
)
from codekiln.tasks.sql_questions import Question, cat_values, column, no_ties, quote, thresholds

SUITE = "sql-transfer"
DIFFICULTIES = ("filter", "aggregate", "order", "group", "having", "join", "subquery", "window")
PER_DATABASE = 25  # questions per database (the first informative ones in the seeded order), 125 in all


def _observatory(rng: random.Random) -> list[Table]:
    names = combined_titles(rng, 8, "Great Northern Silver Polar Lone Twin", "Eye Dish Mirror Lens")
    apertures, built = distinct_values(rng, 8, 40, 1100), distinct_values(rng, 8, 1950, 2021)
    sites = ("Atacama", "La Palma", "Mauna Kea", "Siding Spring")
    telescopes = [(i + 1, names[i], sites[i % 4], apertures[i], built[i]) for i in range(8)]
    anames, starts = people(rng, 20), distinct_values(rng, 20, 1975, 2021)
    institutes = ("Caltech", "ESO", "Kyoto", "Leiden", "Cambridge")
    astronomers = [(i + 1, anames[i], rng.choice(institutes), starts[i]) for i in range(20)]
    targets = ("Vega", "Sirius", "Betelgeuse", "Andromeda", "Orion Nebula", "Crab Nebula")
    exposures = distinct_values(rng, 120, 5, 900)
    observations = [(i + 1, parent_id(rng, 8, 1), parent_id(rng, 20, 3), rng.choice(targets),
                     random_date(rng, (2021, 2022, 2023)), exposures[i]) for i in range(120)]
    return [
        Table("telescopes", "telescope", "telescopes", [("telescope_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("site", "TEXT"), ("aperture_cm", "INTEGER"), ("built_year", "INTEGER")], telescopes, "name", ("site",),
              ("aperture_cm", "built_year")),
        Table("astronomers", "astronomer", "astronomers", [("astronomer_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("institute", "TEXT"), ("career_start", "INTEGER")], astronomers, "name", ("institute",),
              ("career_start",)),
        Table("observations", "observation", "observations", [("observation_id", "INTEGER PRIMARY KEY"),
              ("telescope_id", "INTEGER"), ("astronomer_id", "INTEGER"), ("target", "TEXT"), ("observed_on", "TEXT"),
              ("exposure_min", "INTEGER")], observations, "observation_id", ("target",), ("exposure_min",),
              ("observed_on",), {"telescope_id": ("telescopes", "telescope"), "astronomer_id": ("astronomers", "observer")}),
    ]


def _winery(rng: random.Random) -> list[Table]:
    names, areas = combined_titles(rng, 10, "Stone Oak River Sun Hill Fox", "Estate Terrace Ridge"), \
        distinct_values(rng, 10, 3, 120)
    vineyards = [(i + 1, names[i], rng.choice(("Douro", "Rioja", "Mosel", "Tuscany")), areas[i]) for i in range(10)]
    labels = combined_titles(rng, 36, "Old Wild Royal Dark Pale Noble", "Reserve Harvest Blend Cuvee Vintage Classic")
    prices = distinct_values(rng, 36, 800, 9000, 0.01)
    grapes = ("Merlot", "Riesling", "Syrah", "Tempranillo", "Sangiovese")
    wines = [(i + 1, labels[i], parent_id(rng, 10, 2), rng.choice(grapes), rng.randint(2010, 2022), prices[i])
             for i in range(36)]
    tasters = people(rng, 6)
    tastings = [(i + 1, parent_id(rng, 36, 4), rng.choice(tasters), rng.randint(70, 100), random_date(rng, (2024,)))
                for i in range(100)]
    return [
        Table("vineyards", "vineyard", "vineyards", [("vineyard_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("region", "TEXT"), ("hectares", "INTEGER")], vineyards, "name", ("region",), ("hectares",)),
        Table("wines", "wine", "wines", [("wine_id", "INTEGER PRIMARY KEY"), ("label", "TEXT"), ("vineyard_id", "INTEGER"),
              ("grape", "TEXT"), ("vintage", "INTEGER"), ("price", "REAL")], wines, "label", ("grape",),
              ("price", "vintage"), fks={"vineyard_id": ("vineyards", "vineyard")}),
        Table("tastings", "tasting", "tastings", [("tasting_id", "INTEGER PRIMARY KEY"), ("wine_id", "INTEGER"),
              ("taster", "TEXT"), ("score", "INTEGER"), ("tasted_on", "TEXT")], tastings, "tasting_id", ("taster",),
              ("score",), ("tasted_on",), {"wine_id": ("wines", "wine")}),
    ]


def _bakery(rng: random.Random) -> list[Table]:
    opened = distinct_values(rng, 6, 1990, 2024)
    bnames = ("Central", "Harbour", "Old Town", "Station", "Market", "Riverside")
    branches = [(i + 1, bnames[i], ("north", "south", "east")[i % 3], opened[i]) for i in range(6)]
    pnames = combined_titles(rng, 20, "Almond Honey Lemon Cocoa Maple Berry Walnut", "Croissant Tart Bun Roll")
    unit = distinct_values(rng, 20, 120, 900, 0.01)
    pastries = [(i + 1, pnames[i], rng.choice(("bread", "cake", "viennoiserie", "cookie")), unit[i]) for i in range(20)]
    sales = [(i + 1, parent_id(rng, 6, 1), parent_id(rng, 20, 3), rng.randint(1, 40), random_date(rng, (2024,)))
             for i in range(110)]
    return [
        Table("branches", "branch", "branches", [("branch_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("district", "TEXT"), ("opened_year", "INTEGER")], branches, "name", ("district",), ("opened_year",)),
        Table("pastries", "pastry", "pastries", [("pastry_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("kind", "TEXT"), ("unit_price", "REAL")], pastries, "name", ("kind",), ("unit_price",)),
        Table("sales", "sale", "sales", [("sale_id", "INTEGER PRIMARY KEY"), ("branch_id", "INTEGER"),
              ("pastry_id", "INTEGER"), ("units", "INTEGER"), ("sold_on", "TEXT")], sales, "sale_id", (), ("units",),
              ("sold_on",), {"branch_id": ("branches", "branch"), "pastry_id": ("pastries", "pastry")}),
    ]


def _fleet(rng: random.Random) -> list[Table]:
    dnames = ("North Yard", "Quay", "Airport", "Mill Lane", "Ring Road", "Hilltop", "Canal")
    capacity = distinct_values(rng, 7, 10, 80)
    depots = [(i + 1, dnames[i], rng.choice(("Bergen", "Malmo", "Gdansk", "Tartu")), capacity[i]) for i in range(7)]
    mileage = distinct_values(rng, 30, 5000, 250000)
    plates = [f"{rng.choice('BDKMRT')}{rng.choice('AEKLPX')}-{n}" for n in distinct_values(rng, 30, 100, 999)]
    vehicles = [(i + 1, plates[i], parent_id(rng, 7, 1), rng.choice(("Transit", "Sprinter", "Vivaro", "Ducato")),
                 mileage[i], rng.randint(2012, 2024)) for i in range(30)]
    drivers, dist = people(rng, 12), distinct_values(rng, 110, 5, 900)
    trips = [(i + 1, parent_id(rng, 30, 4), rng.choice(drivers), dist[i], random_date(rng, (2023, 2024)))
             for i in range(110)]
    return [
        Table("depots", "depot", "depots", [("depot_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"), ("town", "TEXT"),
              ("capacity", "INTEGER")], depots, "name", ("town",), ("capacity",)),
        Table("vehicles", "vehicle", "vehicles", [("vehicle_id", "INTEGER PRIMARY KEY"), ("plate", "TEXT"),
              ("depot_id", "INTEGER"), ("model", "TEXT"), ("mileage_km", "INTEGER"), ("purchase_year", "INTEGER")],
              vehicles, "plate", ("model",), ("mileage_km", "purchase_year"), fks={"depot_id": ("depots", "depot")}),
        Table("trips", "trip", "trips", [("trip_id", "INTEGER PRIMARY KEY"), ("vehicle_id", "INTEGER"),
              ("driver", "TEXT"), ("distance_km", "INTEGER"), ("trip_date", "TEXT")], trips, "trip_id", ("driver",),
              ("distance_km",), ("trip_date",), {"vehicle_id": ("vehicles", "vehicle")}),
    ]


def _museum(rng: random.Random) -> list[Table]:
    gnames = ("East Wing", "Atrium", "Crypt", "Tower Room", "Long Hall", "Garden Room", "North Wing", "Loft")
    areas = distinct_values(rng, 8, 40, 900)
    themes = ("modern", "classical", "sculpture", "photography")
    galleries = [(i + 1, gnames[i], themes[i % 4], rng.randint(0, 3), areas[i]) for i in range(8)]
    titles = combined_titles(rng, 40, "Portrait Study Landscape Nocturne Composition Figure Vista Fragment",
                             "Blue Dusk Birds Harbor Winter")
    made, value = distinct_values(rng, 40, 1500, 2021), distinct_values(rng, 40, 10, 5000)
    artworks = [(i + 1, titles[i], parent_id(rng, 8, 1), rng.choice(("oil", "bronze", "marble", "ink", "photograph")),
                 made[i], value[i] * 1000) for i in range(40)]
    guides = people(rng, 5)
    tours = [(i + 1, parent_id(rng, 8, 2), rng.choice(guides), rng.randint(3, 30), random_date(rng, (2024,)))
             for i in range(80)]
    return [
        Table("galleries", "gallery", "galleries", [("gallery_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("theme", "TEXT"), ("floor", "INTEGER"), ("area_m2", "INTEGER")], galleries, "name", ("theme",),
              ("area_m2",)),
        Table("artworks", "artwork", "artworks", [("artwork_id", "INTEGER PRIMARY KEY"), ("title", "TEXT"),
              ("gallery_id", "INTEGER"), ("medium", "TEXT"), ("year_made", "INTEGER"), ("insured_value", "INTEGER")],
              artworks, "title", ("medium",), ("year_made", "insured_value"), fks={"gallery_id": ("galleries", "gallery")}),
        Table("tours", "tour", "tours", [("tour_id", "INTEGER PRIMARY KEY"), ("gallery_id", "INTEGER"), ("guide", "TEXT"),
              ("group_size", "INTEGER"), ("tour_date", "TEXT")], tours, "tour_id", ("guide",), ("group_size",),
              ("tour_date",), {"gallery_id": ("galleries", "gallery")}),
    ]


DATABASES = {"observatory": _observatory, "winery": _winery, "bakery": _bakery, "fleet": _fleet, "museum": _museum}


def additive(column_name: str) -> bool:
    """Whether adding up a column's values means something (not for years)."""
    return not any(word in column_name for word in ("year", "vintage", "career_start"))


def _single(t: Table, rng: random.Random) -> Iterator[Question]:
    L, P, S, T, K = t.label, t.plural, t.singular, t.name, t.pk
    for c in t.cats:
        a, b = (cat_values(t, c, rng, 2) * 2)[:2]
        yield "filter_not", T, f"Give the `{L}` of every {S} whose `{c}` is anything but '{a}'.", \
            f"SELECT {L} FROM {T} WHERE {c} <> {quote(a)}"
        yield "filter_equal", T, f"Which {P} have '{a}' as their `{c}`? Give their `{L}`.", \
            f"SELECT {L} FROM {T} WHERE {c} = {quote(a)}"
        yield "aggregate_tally", T, f"Count the {P} that have '{a}' as their `{c}`.", \
            f"SELECT COUNT(*) FROM {T} WHERE {c} = {quote(a)}"
        yield "filter_in", T, f"Find the {P} whose `{c}` is either '{a}' or '{b}'; return their `{L}`.", \
            f"SELECT {L} FROM {T} WHERE {c} IN ({quote(a)}, {quote(b)})"
        yield "aggregate_distinct", T, f"Count how many distinct `{c}` values occur in the {T} table.", \
            f"SELECT COUNT(DISTINCT {c}) FROM {T}"
        yield "group_popular", T, (f"Show every `{c}` next to its number of {P}; put the most frequent first and break "
                                   f"ties by `{c}` A to Z."), f"SELECT {c}, COUNT(*) FROM {T} GROUP BY {c} ORDER BY COUNT(*) DESC, {c}"
        for n in t.nums:
            if additive(n):
                yield "aggregate_sum", T, f"Add up `{n}` over the {P} where `{c}` equals '{a}'.", \
                    f"SELECT SUM({n}) FROM {T} WHERE {c} = {quote(a)}"
            yield "group_range", T, f"Per `{c}`, give the `{c}`, the smallest `{n}` and the largest `{n}`.", \
                f"SELECT {c}, MIN({n}), MAX({n}) FROM {T} GROUP BY {c}"
            x = rng.choice(thresholds(t, n))
            yield "having_min", T, f"Name each `{c}` for which every one of its {P} has a `{n}` of {x} or more.", \
                f"SELECT {c} FROM {T} GROUP BY {c} HAVING MIN({n}) >= {x}"
            sums = sorted(sum(v for g, v in zip(column(t, c), column(t, n), strict=True) if g == k)
                          for k in set(column(t, c)))
            y = int(sums[len(sums) // 2]) - 1
            if additive(n):
                yield "having_sum", T, (f"Which `{c}` values have a combined `{n}` larger than {y}? Return each with "
                                        "that combined value."), \
                    f"SELECT {c}, SUM({n}) FROM {T} GROUP BY {c} HAVING SUM({n}) > {y}"
            yield "subquery_below", T, (f"Which {P} have a `{n}` smaller than the mean `{n}` of the {P} with `{c}` "
                                        f"'{a}'? Return their `{L}`."), \
                f"SELECT {L} FROM {T} WHERE {n} < (SELECT AVG({n}) FROM {T} WHERE {c} = {quote(a)})"
            yield "window_gap", T, (f"Return each {S}'s `{L}` together with its `{n}` minus the mean `{n}` of the {P} "
                                    f"sharing its `{c}`, rounded to 2 decimals."), \
                f"SELECT {L}, ROUND({n} - AVG({n}) OVER (PARTITION BY {c}), 2) FROM {T}"
            if no_ties(t, n):
                yield "order_sorted", T, (f"Return `{c}`, `{L}` and `{n}` for all {P}, sorted by `{c}` A to Z and "
                                          f"within one `{c}` by `{n}` from largest to smallest."), \
                    f"SELECT {c}, {L}, {n} FROM {T} ORDER BY {c}, {n} DESC"
    for n in t.nums:
        x = rng.choice(thresholds(t, n))
        yield "filter_atmost", T, f"Return `{L}` and `{n}` for {P} whose `{n}` is no more than {x}.", \
            f"SELECT {L}, {n} FROM {T} WHERE {n} <= {x}"
        yield "filter_atleast", T, f"Show the `{L}` for {P} where `{n}` is at least {x}.", \
            f"SELECT {L} FROM {T} WHERE {n} >= {x}"
        yield "aggregate_mean", T, f"Compute the mean `{n}` of the {P}, rounded to 2 decimals.", \
            f"SELECT ROUND(AVG({n}), 2) FROM {T}"
        yield "aggregate_above", T, f"Count the {P} whose `{n}` exceeds {x}.", f"SELECT COUNT(*) FROM {T} WHERE {n} > {x}"
        yield "aggregate_spread", T, f"By how much does the largest `{n}` exceed the smallest `{n}` in {T}?", \
            f"SELECT MAX({n}) - MIN({n}) FROM {T}"
        yield "subquery_lowest", T, f"Give the `{L}` of the {S} (all of them, on a tie) with the smallest `{n}`.", \
            f"SELECT {L} FROM {T} WHERE {n} = (SELECT MIN({n}) FROM {T})"
        if additive(n):
            yield "window_share", T, (f"For each {S}, return its `{L}` and its `{n}` as a percentage of the sum of "
                                      f"`{n}` over the whole table, rounded to 1 decimal."), \
                f"SELECT {L}, ROUND(100.0 * {n} / SUM({n}) OVER (), 1) FROM {T}"
        yield "window_previous", T, (f"Walk through the {P} by `{K}`: return `{K}`, `{n}` and the `{n}` of the row "
                                     f"right before it (NULL for the first row), sorted by `{K}`."), \
            f"SELECT {K}, {n}, LAG({n}) OVER (ORDER BY {K}) FROM {T} ORDER BY {K}"
        if no_ties(t, n):
            yield "order_second", T, f"Which {S} has the second-largest `{n}`? Return its `{L}`.", \
                f"SELECT {L} FROM {T} ORDER BY {n} DESC LIMIT 1 OFFSET 1"
            yield "window_number", T, (f"Number the {P} from 1 in decreasing order of `{n}` and return `{L}`, `{n}` and "
                                       "that number."), f"SELECT {L}, {n}, ROW_NUMBER() OVER (ORDER BY {n} DESC) FROM {T}"
    for d in t.dates:
        days = sorted(set(column(t, d)))
        lo, hi = sorted(rng.sample(days, 2))
        yield "filter_dates", T, f"Which {P} fall on a `{d}` from '{lo}' to '{hi}', both days included? Return their `{K}`.", \
            f"SELECT {K} FROM {T} WHERE {d} BETWEEN {quote(lo)} AND {quote(hi)}"
        yield "aggregate_latest", T, f"On which day does the latest `{d}` in {T} fall?", f"SELECT MAX({d}) FROM {T}"
        yield "group_year", T, f"Count the {P} per calendar year of `{d}`, returning the year as a 4-digit text.", \
            f"SELECT substr({d}, 1, 4) AS y, COUNT(*) FROM {T} GROUP BY y"


def _joins(child: Table, parents: dict[str, Table], rng: random.Random) -> Iterator[Question]:
    C, CP, CS = child.name, child.plural, child.singular
    for fk, (pname, role) in child.fks.items():
        p = parents[pname]
        PT, PL, PS, PP = p.name, f"{p.name}.{p.label}", p.singular, p.plural
        on = f"FROM {C} JOIN {PT} ON {C}.{fk} = {PT}.{p.pk}"
        yield "join_zero", C, (f"Return every {PS}'s `{PL}` with how many {CP} name it as their {role}, showing 0 for "
                               f"{PP} that no {CS} names."), \
            f"SELECT {PL}, COUNT({C}.{child.pk}) FROM {PT} LEFT JOIN {C} ON {C}.{fk} = {PT}.{p.pk} GROUP BY {PT}.{p.pk}"
        for n in child.nums:
            yield "join_mean", C, (f"Per {PS} that has {CP}, return its `{PL}` and the mean `{C}.{n}` of those {CP}, "
                                   "rounded to 2 decimals."), f"SELECT {PL}, ROUND(AVG({C}.{n}), 2) {on} GROUP BY {PT}.{p.pk}"
            yield "join_largest", C, f"Per {PS}, give its `{PL}` and the biggest `{C}.{n}` among its {CP}.", \
                f"SELECT {PL}, MAX({C}.{n}) {on} GROUP BY {PT}.{p.pk}"
            x = rng.choice(thresholds(child, n))
            yield "subquery_in", C, (f"Which {PP} act as {role} for at least one {CS} with `{C}.{n}` above {x}? "
                                     f"Return their `{PL}`."), \
                f"SELECT {PL} FROM {PT} WHERE {p.pk} IN (SELECT {fk} FROM {C} WHERE {n} > {x})"
            yield "having_mean", C, f"Which {PP} have {CP} averaging more than {x} in `{C}.{n}`? Return their `{PL}`.", \
                f"SELECT {PL} {on} GROUP BY {PT}.{p.pk} HAVING AVG({C}.{n}) > {x}"
            if not additive(n):
                continue
            yield "window_total", C, (f"Return each {PS}'s `{PL}`, the sum of `{C}.{n}` over its {CP}, and its RANK() "
                                      f"over those sums, biggest first (only {PP} with {CP})."), \
                f"SELECT {PL}, SUM({C}.{n}), RANK() OVER (ORDER BY SUM({C}.{n}) DESC) {on} GROUP BY {PT}.{p.pk}"
        for pn in p.nums:
            x = rng.choice(thresholds(p, pn))
            yield "join_parent", C, (f"For each {CS} linked to a {role} with `{PT}.{pn}` over {x}, return "
                                     f"`{C}.{child.label}`."), \
                f"SELECT {C}.{child.label} {on} WHERE {PT}.{pn} > {x}"
        for c in child.cats:
            (v,) = cat_values(child, c, rng, 1)
            yield "join_distinct", C, f"How many different {PP} serve as {role} to {CP} with '{v}' as `{C}.{c}`?", \
                f"SELECT COUNT(DISTINCT {C}.{fk}) FROM {C} WHERE {C}.{c} = {quote(v)}"


def questions(tables: list[Table], rng: random.Random) -> Iterator[Question]:
    """Every candidate question of a database in a seeded order that takes each difficulty in turn (filter,
    aggregate, order, group, having, join, subquery, window), so the first ones build_sql_tasks keeps are balanced."""
    by_name = {t.name: t for t in tables}
    groups: dict[str, list[Question]] = {d: [] for d in DIFFICULTIES}
    for t in tables:
        for question in (*_single(t, rng), *_joins(t, by_name, rng)):
            groups[question[0].split("_")[0]].append(question)
    for group in groups.values():
        rng.shuffle(group)
    for turn in range(max(len(g) for g in groups.values())):
        for group in groups.values():
            if turn < len(group):
                yield group[turn]


def build_tasks() -> list[Task]:
    return build_sql_tasks(SUITE, DATABASES, questions, test_databases=DATABASES, per_template=1,
                           per_database=PER_DATABASE)


def load() -> list[Task]:
    return interleave(build_tasks(), "database_name")
