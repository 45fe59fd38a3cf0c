"""Reading SQL text without running it: one statement or several, its first keyword, a top-level ORDER BY.

A small scanner that skips string literals, quoted identifiers and comments, so `';'` inside a string or
`ORDER BY` inside a window's `OVER (...)` are not mistaken for the real thing.
"""

from __future__ import annotations

import re

# Statement keywords other than SELECT/WITH; anything else unknown is left to SQLite to call a syntax error.
STATEMENTS = frozenset(
    "INSERT UPDATE DELETE REPLACE UPSERT CREATE DROP ALTER ATTACH DETACH PRAGMA VACUUM REINDEX ANALYZE BEGIN "
    "COMMIT END ROLLBACK SAVEPOINT RELEASE EXPLAIN VALUES".split()
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _scan(sql: str) -> list[tuple[str, int]]:
    """Tokens outside strings/comments as (text, paren depth): words upper-cased, and `;`, `(`, `)`."""
    tokens: list[tuple[str, int]] = []
    depth, i, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            tokens.append(("<literal>", depth))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif ch == "(":
            tokens.append(("(", depth))
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            tokens.append((")", depth))
            i += 1
        elif ch == ";":
            tokens.append((";", depth))
            i += 1
        else:
            m = _WORD.match(sql, i)
            if m:
                tokens.append((m.group().upper(), depth))
                i = m.end()
            else:
                if not ch.isspace():
                    tokens.append((ch, depth))
                i += 1
    return tokens


def statement_problem(sql: str) -> str:
    """Why `sql` is not a single SELECT/WITH statement (empty string when it is one)."""
    tokens = _scan(sql)
    if all(t == ";" for t, _ in tokens):
        return "the query is empty"
    first = tokens[0][0]
    if first in STATEMENTS:
        return f"only a single SELECT (or WITH ... SELECT) query is allowed, got a statement starting with {first}"
    for k, (text, _depth) in enumerate(tokens):
        if text == ";" and any(t != ";" for t, _ in tokens[k + 1:]):
            return "only one statement is allowed, got several separated by ';'"
    if first == "WITH":  # the main statement is the first of these outside the CTEs' parentheses
        main = next((t for t, d in tokens if d == 0 and t in ("SELECT", "VALUES", "INSERT", "UPDATE", "DELETE",
                                                              "REPLACE")), "SELECT")
        if main not in ("SELECT", "VALUES"):
            return f"only a query is allowed, got a WITH ... {main} statement"
    return ""


def has_top_level_order_by(sql: str) -> bool:
    """True when the outermost query orders its rows (an ORDER BY inside parentheses does not count)."""
    tokens = _scan(sql)
    base = min((d for _, d in tokens), default=0)
    words = [t for t, d in tokens if d == base]
    return any(a == "ORDER" and b == "BY" for a, b in zip(words, words[1:], strict=False))
