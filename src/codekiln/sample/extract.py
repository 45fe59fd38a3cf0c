"""Pull the program out of a model's reply, per task kind.

Order: a fenced code block (the one in the kind's language, and for python the one defining
`entry_point`; an unclosed last fence counts, since sampling stops at the closing fence), then the
function named by `entry_point` found in plain text, otherwise the whole reply. The raw reply is kept
elsewhere (`Sample.raw`), so nothing is lost when extraction guesses wrong.
"""

from __future__ import annotations

import re

from codekiln.records import Task

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)

LANGS = {
    "python": {"python", "py", "python3", ""},
    "pandas": {"python", "py", "python3", ""},
    "sql": {"sql", "sqlite", ""},
    "html": {"html", "htm", ""},
}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each ``` block, in order; a last block without its closing fence is included."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def find_function(text: str, name: str) -> str | None:
    """The `def name(...)` in plain text with its indented body, plus the top-level imports written before it."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"(?:async\s+)?def\s+{re.escape(name)}\s*\(", line)),
                 None)
    if start is None:
        return None
    while start > 0 and lines[start - 1].startswith("@"):
        start -= 1
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t") or lines[end].startswith(")")):
        end += 1
    imports = [line for line in lines[:start] if re.match(r"(?:import|from)\s+\w", line)]
    return "\n".join([*imports, *lines[start:end]]).rstrip() + "\n"


def extract_code(task: Task, reply: str) -> str:
    """The program for `task` in `reply` (see the module docstring for the order of attempts)."""
    if task.kind == "open":
        return reply.strip()
    blocks = fenced_blocks(reply)
    wanted = LANGS.get(task.kind, {""})
    in_lang = [code for lang, code in blocks if lang in wanted] or [code for _, code in blocks]
    entry = task.entry_point if task.kind == "python" else None
    if in_lang:
        if entry:
            with_def = [code for code in in_lang if _defines(code, entry)]
            if with_def:
                return with_def[0].rstrip() + "\n"
        return max(in_lang, key=lambda c: len(c.strip())).rstrip() + "\n"
    if entry:
        found = find_function(reply, entry)
        if found is not None:
            return found
    return reply.strip("\n") + ("\n" if reply.strip() else "")
