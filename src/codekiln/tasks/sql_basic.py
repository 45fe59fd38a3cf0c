"""The `sql-basic` suite: text-to-SQL questions over eight small SQLite databases the project generates.

Every database is generated from a fixed seed (so the suite is the same on every machine) and is small
enough to travel inside each task as `schema` (the CREATE statements the model sees) and `rows` (the INSERTs).
Questions come from templates over each table's described columns — filters, aggregates, joins, GROUP BY,
HAVING, subqueries, window functions — with parameters drawn from the data. Column names appear in
backticks so a question is answerable from the schema alone. A question whose gold query returns no rows
(or only a zero/NULL) is dropped.

The split is by database, as in Spider: the test questions ask about databases the train split never
shows, so no test prompt (schema + question) or gold query is contained in a training item, and held-out
accuracy measures SQL skill rather than memory of one database's values.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from codekiln.records import Task
from codekiln.tasks.order import interleave

SUITE = "sql-basic"
PER_TEMPLATE = 2  # most questions per (database, template, table), so no template dominates
TEST_DATABASES = ("hospital", "music")  # held out: their questions form the test split

FIRST = ("Ada Ben Cara Dan Eva Finn Gus Hana Ivan Jade Kofi Lena Milo Nora Omar Pia Quinn Rosa Sam Tara "
         "Uma Vik Wren Yara Zane Liam Maya Noah Iris Leo").split()
LAST = "Kim Silva Novak Okafor Berg Rossi Tanaka Moreau Kowal Haddad Lund Costa Reyes Fischer Duarte".split()
CITIES = ("Lisbon", "Oslo", "Porto", "Lyon", "Graz", "Turin")


@dataclass
class Table:
    """A generated table and what its columns mean, for the question templates."""

    name: str
    singular: str
    plural: str
    columns: list[tuple[str, str]]  # (name, SQL type); the first is the INTEGER PRIMARY KEY
    rows: list[tuple[Any, ...]]
    label: str  # the column that names a row (name/title/...)
    cats: tuple[str, ...] = ()  # categorical TEXT columns
    nums: tuple[str, ...] = ()  # numeric columns with distinct-enough values
    dates: tuple[str, ...] = ()  # 'YYYY-MM-DD' TEXT columns
    fks: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (parent table, role words)

    @property
    def pk(self) -> str:
        return self.columns[0][0]


def people(rng: random.Random, n: int) -> list[str]:
    pool = [f"{f} {s}" for f in FIRST for s in LAST]
    return rng.sample(pool, n)


def combined_titles(rng: random.Random, n: int, first: str, second: str) -> list[str]:
    pool = [f"{a} {b}" for a in first.split() for b in second.split()]
    return rng.sample(pool, n)


def distinct_values(rng: random.Random, n: int, low: int, high: int, scale: float = 1.0) -> list[Any]:
    values = rng.sample(range(low, high), n)
    return [round(v * scale, 2) if scale != 1.0 else v for v in values]


def random_date(rng: random.Random, years: tuple[int, ...] = (2022, 2023, 2024)) -> str:
    return f"{rng.choice(years)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def parent_id(rng: random.Random, parents: int, unused: int) -> int:
    """A parent id, never one of the last `unused` parents (so 'which have none' questions have answers)."""
    return rng.randint(1, parents - unused)


def _shop(rng: random.Random) -> list[Table]:
    names, ages = people(rng, 24), distinct_values(rng, 24, 1950, 2005)
    customers = [(i + 1, names[i], rng.choice(CITIES), ages[i]) for i in range(24)]
    cats = ("books", "games", "garden", "kitchen", "toys")
    titles = combined_titles(rng, 24, "Red Blue Green Tiny Grand Swift Quiet Bright", "Lamp Kettle Puzzle Shovel Robot Novel")
    prices = distinct_values(rng, 24, 250, 12000, 0.01)
    products = [(i + 1, titles[i], rng.choice(cats), prices[i]) for i in range(24)]
    orders = [(i + 1, parent_id(rng, 24, 4), parent_id(rng, 24, 3), rng.randint(1, 6), random_date(rng)) for i in range(90)]
    return [
        Table("customers", "customer", "customers", [("customer_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("city", "TEXT"), ("birth_year", "INTEGER")], customers, "name", ("city",), ("birth_year",)),
        Table("products", "product", "products", [("product_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("category", "TEXT"), ("price", "REAL")], products, "name", ("category",), ("price",)),
        Table("orders", "order", "orders", [("order_id", "INTEGER PRIMARY KEY"), ("customer_id", "INTEGER"),
              ("product_id", "INTEGER"), ("quantity", "INTEGER"), ("order_date", "TEXT")], orders, "order_id",
              (), ("quantity",), ("order_date",),
              {"customer_id": ("customers", "customer"), "product_id": ("products", "product")}),
    ]


def _school(rng: random.Random) -> list[Table]:
    depts = ("math", "physics", "history", "art")
    tnames = people(rng, 8)
    teachers = [(i + 1, tnames[i], depts[i % 4], 2000 + rng.randint(0, 22)) for i in range(8)]
    titles = combined_titles(rng, 16, "Intro Applied Modern Advanced", "Algebra Optics Painting Empires")
    courses = [(i + 1, titles[i], rng.choice((2, 3, 4, 5)), parent_id(rng, 8, 1)) for i in range(16)]
    snames, years = people(rng, 30), distinct_values(rng, 30, 1000, 9999)
    students = [(i + 1, snames[i], rng.choice(CITIES), rng.randint(1, 4), years[i]) for i in range(30)]
    enrol = [(i + 1, parent_id(rng, 30, 3), parent_id(rng, 16, 2), rng.randint(35, 100)) for i in range(100)]
    return [
        Table("teachers", "teacher", "teachers", [("teacher_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("department", "TEXT"), ("hired_year", "INTEGER")], teachers, "name", ("department",), ("hired_year",)),
        Table("courses", "course", "courses", [("course_id", "INTEGER PRIMARY KEY"), ("title", "TEXT"),
              ("credits", "INTEGER"), ("teacher_id", "INTEGER")], courses, "title", (), ("credits",),
              fks={"teacher_id": ("teachers", "teacher")}),
        Table("students", "student", "students", [("student_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("city", "TEXT"), ("year_of_study", "INTEGER"), ("scholarship", "INTEGER")], students, "name",
              ("city",), ("scholarship",)),
        Table("enrollments", "enrollment", "enrollments", [("enrollment_id", "INTEGER PRIMARY KEY"),
              ("student_id", "INTEGER"), ("course_id", "INTEGER"), ("grade", "INTEGER")], enrol, "enrollment_id",
              (), ("grade",), fks={"student_id": ("students", "student"), "course_id": ("courses", "course")}),
    ]


def _flights(rng: random.Random) -> list[Table]:
    places = [("LIS", "Lisbon", "Portugal"), ("OPO", "Porto", "Portugal"), ("OSL", "Oslo", "Norway"),
              ("BGO", "Bergen", "Norway"), ("LYS", "Lyon", "France"), ("CDG", "Paris", "France"),
              ("TRN", "Turin", "Italy"), ("FCO", "Rome", "Italy"), ("GRZ", "Graz", "Austria"), ("VIE", "Vienna", "Austria")]
    airports = [(i + 1, c, city, country) for i, (c, city, country) in enumerate(places)]
    airlines = ("Aerolux", "Nordwind", "SkyTram", "Volare")
    dist, prices = distinct_values(rng, 40, 200, 2900), distinct_values(rng, 40, 3000, 60000, 0.01)
    flights = []
    for i in range(40):
        o = parent_id(rng, 10, 1)
        d = rng.choice([a for a in range(1, 10) if a != o])
        flights.append((i + 1, f"{rng.choice('AN')}{100 + i}", rng.choice(airlines), o, d, dist[i], prices[i]))
    pnames = people(rng, 60)
    bookings = [(i + 1, parent_id(rng, 40, 4), rng.choice(pnames), rng.choice(("economy", "business", "first")),
                 random_date(rng, (2024,))) for i in range(90)]
    return [
        Table("airports", "airport", "airports", [("airport_id", "INTEGER PRIMARY KEY"), ("code", "TEXT"),
              ("city", "TEXT"), ("country", "TEXT")], airports, "code", ("country",)),
        Table("flights", "flight", "flights", [("flight_id", "INTEGER PRIMARY KEY"), ("flight_number", "TEXT"),
              ("airline", "TEXT"), ("origin_id", "INTEGER"), ("destination_id", "INTEGER"), ("distance_km", "INTEGER"),
              ("price", "REAL")], flights, "flight_number", ("airline",), ("distance_km", "price"),
              fks={"origin_id": ("airports", "origin airport"), "destination_id": ("airports", "destination airport")}),
        Table("bookings", "booking", "bookings", [("booking_id", "INTEGER PRIMARY KEY"), ("flight_id", "INTEGER"),
              ("passenger", "TEXT"), ("seat_class", "TEXT"), ("booked_on", "TEXT")], bookings, "passenger",
              ("seat_class",), (), ("booked_on",), {"flight_id": ("flights", "flight")}),
    ]


def _library(rng: random.Random) -> list[Table]:
    anames, born = people(rng, 14), distinct_values(rng, 14, 1900, 1990)
    authors = [(i + 1, anames[i], rng.choice(("Chile", "Ghana", "Japan", "Norway", "Peru")), born[i]) for i in range(14)]
    titles = combined_titles(rng, 40, "Silent Hidden Last Golden Broken Winter Paper Iron", "River Garden Clock Road Sea")
    years, pages = distinct_values(rng, 40, 1950, 2024), distinct_values(rng, 40, 90, 900)
    genres = ("fantasy", "history", "mystery", "poetry", "science")
    books = [(i + 1, titles[i], parent_id(rng, 14, 2), rng.choice(genres), years[i], pages[i]) for i in range(40)]
    mnames = people(rng, 20)
    members = [(i + 1, mnames[i], rng.choice(CITIES), 2010 + rng.randint(0, 14)) for i in range(20)]
    loans = [(i + 1, parent_id(rng, 40, 5), parent_id(rng, 20, 3), random_date(rng), rng.randint(1, 60)) for i in range(90)]
    return [
        Table("authors", "author", "authors", [("author_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("country", "TEXT"), ("birth_year", "INTEGER")], authors, "name", ("country",), ("birth_year",)),
        Table("books", "book", "books", [("book_id", "INTEGER PRIMARY KEY"), ("title", "TEXT"), ("author_id", "INTEGER"),
              ("genre", "TEXT"), ("published_year", "INTEGER"), ("pages", "INTEGER")], books, "title", ("genre",),
              ("published_year", "pages"), fks={"author_id": ("authors", "author")}),
        Table("members", "member", "members", [("member_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("city", "TEXT"), ("joined_year", "INTEGER")], members, "name", ("city",)),
        Table("loans", "loan", "loans", [("loan_id", "INTEGER PRIMARY KEY"), ("book_id", "INTEGER"),
              ("member_id", "INTEGER"), ("loan_date", "TEXT"), ("days_kept", "INTEGER")], loans, "loan_id", (),
              ("days_kept",), ("loan_date",), {"book_id": ("books", "book"), "member_id": ("members", "member")}),
    ]


def _hospital(rng: random.Random) -> list[Table]:
    dnames, exp = people(rng, 10), distinct_values(rng, 10, 1, 35)
    specs = ("cardiology", "dermatology", "neurology", "pediatrics")
    doctors = [(i + 1, "Dr " + dnames[i], specs[i % 4], exp[i]) for i in range(10)]
    pnames, ages = people(rng, 30), distinct_values(rng, 30, 1, 95)
    districts = ("Alfama", "Belem", "Graca", "Lapa")
    patients = [(i + 1, pnames[i], rng.choice(districts), ages[i]) for i in range(30)]
    costs = distinct_values(rng, 90, 4000, 90000, 0.01)
    visits = [(i + 1, parent_id(rng, 30, 3), parent_id(rng, 10, 1), random_date(rng), costs[i]) for i in range(90)]
    return [
        Table("doctors", "doctor", "doctors", [("doctor_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("specialty", "TEXT"), ("years_experience", "INTEGER")], doctors, "name", ("specialty",),
              ("years_experience",)),
        Table("patients", "patient", "patients", [("patient_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("district", "TEXT"), ("age", "INTEGER")], patients, "name", ("district",), ("age",)),
        Table("visits", "visit", "visits", [("visit_id", "INTEGER PRIMARY KEY"), ("patient_id", "INTEGER"),
              ("doctor_id", "INTEGER"), ("visit_date", "TEXT"), ("cost", "REAL")], visits, "visit_id", (), ("cost",),
              ("visit_date",), {"patient_id": ("patients", "patient"), "doctor_id": ("doctors", "doctor")}),
    ]


def _company(rng: random.Random) -> list[Table]:
    dnames = ("Sales", "Research", "Support", "Finance", "Legal", "Design")
    budgets = distinct_values(rng, 6, 100, 900)
    departments = [(i + 1, dnames[i], CITIES[i], budgets[i] * 1000) for i in range(6)]
    enames, salaries = people(rng, 36), distinct_values(rng, 36, 300, 1500)
    titles = ("analyst", "engineer", "manager", "clerk")
    employees = [(i + 1, enames[i], parent_id(rng, 6, 1), rng.choice(titles), salaries[i] * 100, 2005 + rng.randint(0, 19))
                 for i in range(36)]
    ptitles = combined_titles(rng, 18, "Apollo Hermes Atlas Vega Orion Nova", "Portal Audit Refresh")
    hours = distinct_values(rng, 18, 40, 2000)
    projects = [(i + 1, ptitles[i], parent_id(rng, 6, 1), rng.choice(("active", "done", "paused")), hours[i])
                for i in range(18)]
    return [
        Table("departments", "department", "departments", [("department_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("city", "TEXT"), ("budget", "INTEGER")], departments, "name", (), ("budget",)),
        Table("employees", "employee", "employees", [("employee_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("department_id", "INTEGER"), ("job_title", "TEXT"), ("salary", "INTEGER"), ("hire_year", "INTEGER")],
              employees, "name", ("job_title",), ("salary",), fks={"department_id": ("departments", "department")}),
        Table("projects", "project", "projects", [("project_id", "INTEGER PRIMARY KEY"), ("title", "TEXT"),
              ("department_id", "INTEGER"), ("status", "TEXT"), ("hours", "INTEGER")], projects, "title", ("status",),
              ("hours",), fks={"department_id": ("departments", "department")}),
    ]


def _music(rng: random.Random) -> list[Table]:
    anames = people(rng, 12)
    artists = [(i + 1, anames[i], rng.choice(("Brazil", "Canada", "Korea", "Sweden")),
                rng.choice(("jazz", "pop", "rock", "folk"))) for i in range(12)]
    atitles, years = combined_titles(rng, 26, "Neon Velvet Lost Electric Blue Midnight", "Dreams Hearts Roads Tides Lights"), \
        distinct_values(rng, 26, 1970, 2024)
    albums = [(i + 1, atitles[i], parent_id(rng, 12, 2), years[i]) for i in range(26)]
    ttitles = combined_titles(rng, 80, "Slow Wild Cold Sweet Lonely Open Falling Burning Little Silver", "Rain Fire Dance Sky Song "
                      "Night Moon Heart")
    durations, plays = distinct_values(rng, 80, 120, 420), distinct_values(rng, 80, 1000, 99000)
    tracks = [(i + 1, parent_id(rng, 26, 3), ttitles[i], durations[i], plays[i]) for i in range(80)]
    return [
        Table("artists", "artist", "artists", [("artist_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("country", "TEXT"), ("genre", "TEXT")], artists, "name", ("country", "genre")),
        Table("albums", "album", "albums", [("album_id", "INTEGER PRIMARY KEY"), ("title", "TEXT"),
              ("artist_id", "INTEGER"), ("release_year", "INTEGER")], albums, "title", (), ("release_year",),
              fks={"artist_id": ("artists", "artist")}),
        Table("tracks", "track", "tracks", [("track_id", "INTEGER PRIMARY KEY"), ("album_id", "INTEGER"),
              ("title", "TEXT"), ("duration_s", "INTEGER"), ("plays", "INTEGER")], tracks, "title", (),
              ("duration_s", "plays"), fks={"album_id": ("albums", "album")}),
    ]


def _sports(rng: random.Random) -> list[Table]:
    tnames = ("Falcons", "Rovers", "Comets", "Wolves", "Herons", "Titans", "Otters", "Lynx")
    founded = distinct_values(rng, 8, 1880, 2000)
    teams = [(i + 1, tnames[i], CITIES[i % 6], founded[i]) for i in range(8)]
    pnames, ages, goals = people(rng, 40), [rng.randint(18, 36) for _ in range(40)], distinct_values(rng, 40, 0, 60)
    players = [(i + 1, pnames[i], parent_id(rng, 8, 0), rng.choice(("defender", "forward", "goalkeeper", "midfielder")),
                ages[i], goals[i]) for i in range(40)]
    matches = []
    for i in range(30):
        home = parent_id(rng, 8, 0)
        away = rng.choice([t for t in range(1, 9) if t != home])
        matches.append((i + 1, home, away, rng.randint(0, 5), rng.randint(0, 4), random_date(rng, (2023, 2024))))
    return [
        Table("teams", "team", "teams", [("team_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"), ("city", "TEXT"),
              ("founded_year", "INTEGER")], teams, "name", ("city",), ("founded_year",)),
        Table("players", "player", "players", [("player_id", "INTEGER PRIMARY KEY"), ("name", "TEXT"),
              ("team_id", "INTEGER"), ("position", "TEXT"), ("age", "INTEGER"), ("goals", "INTEGER")], players, "name",
              ("position",), ("goals",), fks={"team_id": ("teams", "team")}),
        Table("matches", "match", "matches", [("match_id", "INTEGER PRIMARY KEY"), ("home_team_id", "INTEGER"),
              ("away_team_id", "INTEGER"), ("home_goals", "INTEGER"), ("away_goals", "INTEGER"), ("match_date", "TEXT")],
              matches, "match_id", (), ("home_goals",), ("match_date",),
              {"home_team_id": ("teams", "home team"), "away_team_id": ("teams", "away team")}),
    ]


DATABASES: dict[str, Callable[[random.Random], list[Table]]] = {
    "shop": _shop, "school": _school, "flights": _flights, "library": _library,
    "hospital": _hospital, "company": _company, "music": _music, "sports": _sports,
}


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def schema_sql(tables: list[Table]) -> str:
    """The CREATE statements shown to the model: one short line per table, foreign keys named."""
    pks = {t.name: t.pk for t in tables}
    lines = []
    for t in tables:
        cols = [f"{name} {typ}" for name, typ in t.columns]
        cols += [f"FOREIGN KEY ({col}) REFERENCES {parent}({pks[parent]})" for col, (parent, _) in t.fks.items()]
        lines.append(f"CREATE TABLE {t.name} ({', '.join(cols)});")
    return "\n".join(lines)


def rows_sql(tables: list[Table]) -> str:
    return "\n".join(
        f"INSERT INTO {t.name} VALUES " + ",".join("(" + ",".join(_literal(v) for v in row) + ")" for row in t.rows) + ";"
        for t in tables
    )


MakeTables = Callable[[random.Random], list[Table]]
# (tables of one database, its question generator's rng) -> (template, table, question, gold) candidates
MakeQuestions = Callable[[list[Table], random.Random], Iterator[tuple[str, str, str, str]]]


def generate(suite: str, name: str, make: MakeTables) -> list[Table]:
    """The tables of one database of a suite; the same on every machine (seeded by the suite and the name)."""
    return make(random.Random(f"codekiln:{suite}:{name}"))


@cache
def database(name: str) -> tuple[str, str]:
    """(schema, rows) SQL of one generated sql-basic database."""
    tables = generate(SUITE, name, DATABASES[name])
    return schema_sql(tables), rows_sql(tables)


def informative(rows: list[tuple[Any, ...]]) -> bool:
    """A gold result worth asking for: some rows, and not a lone zero/NULL."""
    if not rows:
        return False
    return not (len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (0, None))


def build_sql_tasks(suite: str, databases: dict[str, MakeTables], make_questions: MakeQuestions,
                    test_databases: Collection[str], per_template: int = PER_TEMPLATE,
                    per_database: int | None = None) -> list[Task]:
    """A text-to-SQL suite's tasks: per database, its candidate questions in their seeded order, keeping a question
    when it is new, its (template, table) has fewer than `per_template` questions yet and its gold result is
    `informative`, up to `per_database` questions. Databases in `test_databases` form the test split."""
    tasks: list[Task] = []
    seen: set[str] = set()
    for name, make in databases.items():
        tables = generate(suite, name, make)
        schema, rows = schema_sql(tables), rows_sql(tables)
        conn = sqlite3.connect(":memory:")
        conn.executescript(schema + "\n" + rows)
        per_key: dict[tuple[str, str], int] = {}
        kept = 0
        for template, table, question, gold in make_questions(tables, random.Random(f"codekiln:{suite}:{name}:questions")):
            if per_database is not None and kept >= per_database:
                break
            if question in seen or per_key.get((template, table), 0) >= per_template:
                continue
            if not informative(conn.execute(gold).fetchall()):
                continue
            seen.add(question)
            per_key[(template, table)] = per_key.get((template, table), 0) + 1
            kept += 1
            digest = hashlib.sha256(question.encode()).hexdigest()
            split = "test" if name in test_databases else "train"
            tasks.append(Task(
                task_id=f"{suite}/{name}/{digest[:10]}", kind="sql", prompt=question, split=split,
                schema=schema, rows=rows, reference=gold,
                meta={"database_name": name, "template": template, "difficulty": template.split("_")[0]},
            ))
        conn.close()
    return tasks


def build_tasks() -> list[Task]:
    from codekiln.tasks.sql_questions import questions

    return build_sql_tasks(SUITE, DATABASES, questions, TEST_DATABASES)


def load() -> list[Task]:
    return interleave(build_tasks(), "database_name")
