"""The built-in `python-basic` suite: small MBPP-level Python functions with tests and a reference each.

The tasks were written for codekiln and live as plain text in `codekiln/data/python_basic/*.txt`,
one block per task:

    === function_name | family | difficulty
    def function_name(x: int) -> int:
        \"\"\"What to do, with edge cases stated.

        >>> function_name(1)
        2
        \"\"\"
    --- solution
        return x + 1
    --- tests
    assert candidate(1) == 2
    assert candidate(0) == 1

The prompt is the code before `--- solution` (imports, signature, docstring). The solution is either
an indented body (the reference is then the prompt's lines before the docstring + that body) or a
complete definition starting at column 0. The tests become the body of `check(candidate)`.

Task ids are `python-basic/NNN`, numbered over the files in `FILES` order, and every fourth task
(index % 4 == 3) is in the test split, so both splits draw from every family. New tasks are only
ever appended (to the last file, or in a new file added at the end of `FILES`), so ids and splits of
existing tasks never change. Difficulty: `trivial` (one step, for a very small model to start from),
`easy`, `medium`, `hard`.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from codekiln.records import Task

SUITE = "python-basic"
FILES = ("strings.txt", "lists.txt", "numbers.txt", "dicts.txt", "algorithms.txt", "mixed.txt", "basics.txt")
TEST_EVERY = 4
DIFFICULTIES = ("trivial", "easy", "medium", "hard")


class SuiteFormatError(ValueError):
    """A malformed block in a suite data file (a bug in the shipped data, not a user mistake)."""


def _reference(prompt: str, solution: str) -> str:
    """A complete function definition: the solution as is, or the prompt's header + the body."""
    if solution and not solution[0].isspace():
        return solution
    header = []
    for line in prompt.splitlines():
        if line.strip().startswith(('"""', "'''")):
            break
        header.append(line)
    return "\n".join(header) + "\n" + solution


def _check(tests: str) -> str:
    lines = [line for line in tests.splitlines() if line.strip()]
    return "def check(candidate):\n" + "".join(f"    {line}\n" for line in lines)


def parse_blocks(text: str, source: str) -> list[dict[str, str]]:
    """Split one data file into blocks: {name, family, difficulty, prompt, reference, test}."""
    blocks = []
    for number, chunk in enumerate(text.split("\n=== ")[1:], start=1):
        head, _, rest = chunk.partition("\n")
        fields = [part.strip() for part in head.split("|")]
        prompt, sep1, rest = rest.partition("\n--- solution\n")
        solution, sep2, tests = rest.partition("\n--- tests\n")
        if len(fields) != 3 or not sep1 or not sep2 or fields[2] not in DIFFICULTIES:
            raise SuiteFormatError(f"{source}: block {number} ({head!r}) is malformed")
        name, family, difficulty = fields
        if f"def {name}(" not in prompt:
            raise SuiteFormatError(f"{source}: block {number} ({name}): the prompt does not define {name}()")
        blocks.append({
            "name": name,
            "family": family,
            "difficulty": difficulty,
            "prompt": prompt.rstrip() + "\n",
            "reference": _reference(prompt, solution.rstrip()) + "\n",
            "test": _check(tests),
        })
    return blocks


def load() -> list[Task]:
    """Every task of the suite, both splits."""
    folder = resources.files("codekiln") / "data" / "python_basic"
    blocks = []
    for name in FILES:
        blocks.extend(parse_blocks((folder / name).read_text(encoding="utf-8"), name))
    tasks = []
    for index, block in enumerate(blocks):
        tasks.append(Task(
            task_id=f"{SUITE}/{index:03d}",
            kind="python",
            prompt=block["prompt"],
            split="test" if index % TEST_EVERY == TEST_EVERY - 1 else "train",
            entry_point=block["name"],
            test=block["test"],
            reference=block["reference"],
            meta={"family": block["family"], "difficulty": block["difficulty"]},
        ))
    # Files are grouped by family and the warm-up tier comes last; a fixed pseudo-random order makes any prefix
    # (`--limit`, the loop's per-round `train_limit` slices) a representative mix of families and difficulties.
    return sorted(tasks, key=lambda t: hashlib.sha256(t.task_id.encode()).hexdigest())
