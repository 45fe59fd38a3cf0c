"""Compact, unfenced descriptions of a task's data for prompts: SQL tables as `name(col TYPE, ...)` lines,
pandas inputs as a column list.

Why: a small model shown the schema as a fenced ```sql block of CREATE statements, then asked for a
```sql block, copies the CREATE block (89 of 156 sql-basic test replies did); shown the pandas setup code,
it re-creates the DataFrame and degenerates. Both read the task's data only; nothing model-written runs here.
"""

from __future__ import annotations

import ast
import functools
import re
import sqlite3

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(?:TEMP\w*\s+)?TABLE\b", re.IGNORECASE)
_STEP_CHECKS = 200  # progress-handler calls (every 1000 SQLite steps) before a schema is given up on


def _statements(sql: str) -> list[str]:
    """The complete statements of an SQL text, in order."""
    out, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out


def schema_lines(schema: str) -> str | None:
    """`table(col TYPE, ...)` per table, then `table.col -> other.col` per foreign key; None when the schema's
    CREATE TABLE statements do not build in an in-memory SQLite (the caller then shows the schema text as is).

    Only CREATE TABLE statements run, in a private in-memory database, with ATTACH denied and a step budget.
    """
    creates = [s for s in _statements(schema) if _CREATE_TABLE.match(s)]
    if not creates:
        return None
    conn = sqlite3.connect(":memory:")
    try:
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK)
        checks = [0]

        def budget() -> int:
            checks[0] += 1
            return int(checks[0] > _STEP_CHECKS)

        conn.set_progress_handler(budget, 1000)
        for statement in creates:
            conn.execute(statement)
        conn.set_authorizer(None)
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        tables, keys = [], []
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            cols = [f"{col} {ctype}".strip() for _, col, ctype, *_ in conn.execute(f"PRAGMA table_info({quoted})")]
            tables.append(f"{name}({', '.join(cols)})")
            for fk in conn.execute(f"PRAGMA foreign_key_list({quoted})"):
                target, source, dest = fk[2], fk[3], fk[4]
                keys.append(f"{name}.{source} -> {target}.{dest}" if dest else f"{name}.{source} -> {target}")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return "\n".join(tables + keys) if tables else None


def _literal(node: ast.expr) -> tuple[bool, object]:
    """(ok, value) of a literal list element; `np.nan` and friends read as None (missing)."""
    if isinstance(node, ast.Attribute) and node.attr in {"nan", "NaN", "NA", "NaT"}:
        return True, None
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int | float):
        return True, -node.operand.value
    return False, None


def _column_type(values: list[object]) -> str:
    present = [v for v in values if v is not None]
    missing = len(present) < len(values)
    if present and all(isinstance(v, bool) for v in present):
        kind = "bool"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        kind = "float" if missing else "int"  # pandas stores an int column with NaN as float
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        kind = "float"
    else:
        kind = "str"
    return f"{kind} with missing values" if missing else kind


def _show(value: object) -> str:
    return "NaN" if value is None else repr(value)


def frame_literals(setup: str) -> list[tuple[str, list[tuple[str, list[object]]]]] | None:
    """[(variable, [(column, values)])] for each `NAME = pd.DataFrame({'col': [literals], ...})` in `setup`, read
    without running it; None when the setup builds its inputs any other way."""
    try:
        tree = ast.parse(setup)
    except (SyntaxError, ValueError):
        return None
    frames = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        call = node.value if isinstance(node, ast.Assign) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "DataFrame"
                and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Dict)):
            return None
        columns = []
        for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.List)):
                return None
            cells = [_literal(e) for e in value.elts]
            if not all(ok for ok, _ in cells):
                return None
            columns.append((key.value, [v for _, v in cells]))
        frames.append((node.targets[0].id, columns))
    return frames or None


def imported_names(setup: str) -> list[str]:
    """The names `setup` binds by import (e.g. pd, np), in order."""
    try:
        tree = ast.parse(setup)
    except (SyntaxError, ValueError):
        return []
    return [alias.asname or alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names]


@functools.lru_cache(maxsize=1024)  # asked twice per prompt (the worked example's choice, then the task text)
def frames_text(setup: str) -> str | None:
    """Each input DataFrame as its row count and columns (type, two example values), and what already exists;
    None when the setup is not plain literal DataFrames."""
    frames = frame_literals(setup)
    if frames is None:
        return None
    parts = []
    for name, columns in frames:
        rows = len(columns[0][1]) if columns else 0
        lines = [f"- {col} ({_column_type(values)}), e.g. {', '.join(_show(v) for v in values[:2])}"
                 for col, values in columns]
        parts.append(f"`{name}` is a pandas DataFrame with {rows} rows and these columns:\n" + "\n".join(lines))
    modules = {"pd": "`pd` (pandas)", "np": "`np` (numpy)"}
    names_in = sorted(imported_names(setup), key=lambda n: (n not in modules, list(modules).index(n) if n in modules else 0))
    imported = [modules.get(n, f"`{n}`") for n in names_in]
    names = " and ".join(f"`{name}`" for name, _ in frames)
    exists = "exists" if len(frames) == 1 else "exist"
    ready = f"{' and '.join(imported)} are imported and " if imported else ""
    parts.append(f"{ready}{names} already {exists}: do not create {'it' if len(frames) == 1 else 'them'} again.")
    return "\n".join(parts)
