"""Tests for python tasks that have a reference but no tests: the reference is the oracle.

Inputs come from three places, in this order: the docstring's examples (`>>> f(...)`), calls a model proposes
(`propose_calls`, optional), and edge cases codekiln makes from the signature and the examples' value types (empty,
zero, negative, one element, duplicates, large). Every input is a tuple of Python literals parsed in the trusted
process with `ast.literal_eval` (model text is never executed here). Each input runs through the reference in the
sandbox, twice on fresh copies; inputs on which the reference errs, hangs, answers non-plain data or answers
differently the second time are dropped. The first `max_cases` surviving inputs become a HumanEval-style
`check(candidate)` comparing the candidate's answer with the reference's (numbers with the verifier's tolerance).

Without a reference (`synthesize_without_reference`), model-written assertions and model-written solutions are
kept only where they agree (CodeT's dual agreement), and the task is marked `meta.trust = "low"`.

Grading: mutants of the reference (`codekiln.tasks.mutants`) run in the sandbox on every surviving input (the
pool). A mutant whose answers differ from the reference's somewhere in the pool changes behaviour; the mutation score
is the share of those that the written test (the first `max_cases` inputs) catches.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codekiln.errors import UserError
from codekiln.records import Task
from codekiln.sample.prompts import reference_program
from codekiln.tasks.mutants import mutants
from codekiln.verify.compare import values_equal
from codekiln.verify.sandbox import Limits, Sandbox

MAX_CALL_CHARS = 400
EDGE_VALUES: dict[str, list[Any]] = {
    "int": [0, 1, -1, 2, 7, -10, 100, 10**6],
    "float": [0.0, 1.5, -2.5, 1e-3, 1e6],
    "str": ["", "a", "ab", "abc", "Hello World", "aaa", "racecar", "a b c", "123"],
    "bool": [True, False],
    "list": [[], [0], [1, 2, 3], [3, 1, 2], [2, 2, 2], [-1, 0, 1], [5, -3, 8, 0, -3], list(range(30))],
    "list_str": [[], ["a"], ["b", "a", "c"], ["x", "x"], ["", "ab", "abc"]],
    "list_float": [[], [0.5], [1.0, 2.5, -3.0], [2.0, 2.0]],
    "dict": [{}, {"a": 1}, {"a": 1, "b": 2}],
    "tuple": [(), (1,), (1, 2), (0, -1, 5)],
}
ANNOTATION_KINDS = {"int": "int", "float": "float", "str": "str", "bool": "bool", "list": "list", "List": "list",
                    "dict": "dict", "Dict": "dict", "tuple": "tuple", "Tuple": "tuple"}


@dataclass(frozen=True)
class Case:
    """One input (positional arguments) and the reference's answer to it."""

    args: tuple[Any, ...]
    expected: Any


@dataclass(frozen=True)
class Synthesized:
    """The outcome for one task: the cases written into its test, the pool, and the grade."""

    task: Task
    cases: tuple[Case, ...]
    pool: int
    dropped: int
    mutants_changed: int = 0
    mutants_killed: int = 0
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def mutation_score(self) -> float | None:
        return self.mutants_killed / self.mutants_changed if self.mutants_changed else None


def parse_call(text: str, entry: str) -> tuple[Any, ...] | None:
    """The literal positional arguments of a call `entry(...)` written in `text`, or None when it is not one."""
    text = text.strip().removeprefix(">>>").strip()
    if not text or len(text) > MAX_CALL_CHARS:
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    call = tree.body
    if isinstance(call, ast.Compare) and len(call.ops) == 1:  # `f(x) == y`: the call is the left side
        call = call.left
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == entry
            and not call.keywords):
        return None
    try:
        return tuple(ast.literal_eval(arg) for arg in call.args)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None


def docstring_calls(task: Task) -> list[tuple[Any, ...]]:
    """The arguments of the `>>> entry(...)` examples in the task's prompt."""
    entry = task.entry_point or ""
    return [args for line in task.prompt.splitlines() if line.strip().startswith(">>>")
            if (args := parse_call(line, entry)) is not None]


def _signature(task: Task) -> list[str]:
    """The kind of each parameter of the entry function from its annotations ('' where unknown)."""
    try:
        tree = ast.parse(reference_program(task))
    except (SyntaxError, ValueError, RecursionError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == task.entry_point:
            kinds = []
            for arg in node.args.args:
                text = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                base = text.split("[", 1)[0]
                kind = ANNOTATION_KINDS.get(base, "")
                if kind == "list" and "str" in text:
                    kind = "list_str"
                elif kind == "list" and "float" in text:
                    kind = "list_float"
                kinds.append(kind)
            return kinds
    return []


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "list_str"
    if isinstance(value, list) and value and any(isinstance(v, float) for v in value):
        return "list_float"
    return {int: "int", float: "float", str: "str", list: "list", dict: "dict", tuple: "tuple"}.get(type(value), "")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fits(value: Any, seen: Sequence[Any]) -> Any:
    """`value` shaped like the docstring's values `seen` of the same parameter, or None when it cannot be: what
    every example keeps is taken as the function's contract (numbers not negative, strings of one character,
    lists sorted or without negatives), so edge cases test the function, not inputs it never promised to take."""
    if not seen:
        return value
    if _is_number(value) and all(_is_number(v) and v >= 0 for v in seen) and value < 0:
        return None
    if isinstance(value, str) and all(isinstance(v, str) and len(v) == 1 for v in seen) and len(value) != 1:
        return None
    if isinstance(value, list) and all(isinstance(v, list) for v in seen):
        items = [x for v in seen for x in v]
        if items and all(_is_number(x) and x >= 0 for x in items) and any(_is_number(x) and x < 0 for x in value):
            return None
        if any(len(v) > 1 for v in seen) and all(v == sorted(v) for v in seen if _sortable(v)):
            return sorted(value) if _sortable(value) else None
    return value


def within_contract(args: tuple[Any, ...], contract: Sequence[tuple[Any, ...]]) -> bool:
    """Whether a proposed call keeps the shape of the docstring's examples as it is (see `_fits`)."""
    shaped = [c for c in contract if len(c) == len(args)]
    if not shaped:
        return not contract
    return all(_fits(value, [c[i] for c in shaped]) == value for i, value in enumerate(args))


def _sortable(values: list[Any]) -> bool:
    try:
        sorted(values)
    except TypeError:
        return False
    return True


def edge_calls(task: Task, examples: Sequence[tuple[Any, ...]], limit: int = 40,
               contract: Sequence[tuple[Any, ...]] = ()) -> list[tuple[Any, ...]]:
    """Edge-case inputs: each parameter in turn set to its kind's edge values, the others kept from the first
    example (or the kind's first edge value when there is no example). Values are shaped by `contract` (the
    docstring's examples, see `_fits`); list parameters that have one length in every example keep it."""
    kinds = _signature(task)
    if examples and len(examples[0]) == len(kinds or examples[0]):
        kinds = [k or _kind_of(v) for k, v in zip(kinds or [""] * len(examples[0]), examples[0], strict=True)]
    if not kinds or any(k == "" for k in kinds):
        return []
    base = list(examples[0]) if examples else [EDGE_VALUES[k][1 if len(EDGE_VALUES[k]) > 1 else 0] for k in kinds]
    contract = [c for c in contract if len(c) == len(kinds)]
    lists = [i for i, v in enumerate(base) if isinstance(v, list)]
    same_length = len(lists) > 1 and bool(contract) and all(len({len(c[i]) for i in lists}) == 1 for c in contract)
    out: list[tuple[Any, ...]] = []
    for i, kind in enumerate(kinds):
        for value in EDGE_VALUES[kind]:
            shaped = _fits(value, [c[i] for c in contract])
            if shaped is None:
                continue
            if same_length and i in lists and any(len(shaped) != len(base[j]) for j in lists if j != i):
                continue
            out.append(tuple(shaped if j == i else base[j] for j in range(len(kinds))))
    return out[:limit]


REFERENCE_RUN = """
import copy
args = ARGS
first = ENTRY(*copy.deepcopy(args))
second = ENTRY(*copy.deepcopy(args))
__codekiln_send__([first, second])
"""

MUTANT_RUN = """
import copy
answers = []
for args in ARGS:
    try:
        answers.append(["ok", ENTRY(*copy.deepcopy(args))])
    except BaseException as err:
        answers.append(["error", type(err).__name__])
__codekiln_send__(answers)
"""


def _program(source: str, template: str, entry: str, args: Any) -> str:
    # The arguments are literals parsed (or made) in this process: their repr is a literal again.
    return f"{source}\n{template.replace('ARGS', repr(args)).replace('ENTRY', entry)}"


def same(a: Any, b: Any) -> bool:
    """Plain answers equal, numbers within the verifier's tolerance, containers element by element."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return values_equal(a, b)


def run_reference(task: Task, calls: Sequence[tuple[Any, ...]], sandbox: Sandbox, limits: Limits) -> list[Case]:
    """The calls the reference answers, twice the same, within the limits; in order, duplicates dropped."""
    source, entry = reference_program(task), task.entry_point or ""
    cases: list[Case] = []
    seen: set[str] = set()
    for args in calls:
        key = repr(args)
        if key in seen:
            continue
        seen.add(key)
        result = sandbox.run(_program(source, REFERENCE_RUN, entry, args), limits=limits)
        if result.status != "ok" or not result.sent or not isinstance(result.value, list) or len(result.value) != 2:
            continue
        first, second = result.value
        if same(first, second):
            cases.append(Case(args, first))
    return cases


def mutant_answers(source: str, entry: str, calls: Sequence[tuple[Any, ...]], sandbox: Sandbox,
                   limits: Limits) -> list[Any] | None:
    """A program's answers to every call (["ok", value] or ["error", type]); None when it hung or died as a whole."""
    result = sandbox.run(_program(source, MUTANT_RUN, entry, list(calls)), limits=limits)
    if result.status != "ok" or not result.sent or not isinstance(result.value, list):
        return None
    return result.value


def grade(task: Task, cases: Sequence[Case], max_cases: int, sandbox: Sandbox, limits: Limits,
          max_mutants: int = 30, seed: int = 0) -> tuple[int, int]:
    """(mutants that change behaviour on the pool `cases`, of them those the first `max_cases` cases catch)."""
    calls = [c.args for c in cases]
    changed = killed = 0
    for mutant in mutants(reference_program(task), limit=max_mutants, seed=seed):
        answers = mutant_answers(mutant, task.entry_point or "", calls, sandbox, limits)
        if answers is None:  # hung or crashed on the pool: it changes behaviour, and a test over the pool sees it
            differs = [True] * len(cases)
        else:
            differs = [a[0] != "ok" or not same(a[1], c.expected) for a, c in zip(answers, cases, strict=True)]
        if any(differs):
            changed += 1
            killed += any(differs[:max_cases]) or answers is None
    return changed, killed


def write_test(entry: str, cases: Sequence[Case]) -> str:
    """A HumanEval-style check: exact asserts, `_near` (the verifier's tolerance) where an answer holds a float."""
    lines = ["def check(candidate):"]
    needs_near = False
    for case in cases:
        call = f"candidate({', '.join(repr(a) for a in case.args)})"
        if _has_float(case.expected):
            needs_near = True
            lines.append(f"    assert _near({call}, {repr(case.expected)})")
        else:
            lines.append(f"    assert {call} == {repr(case.expected)}")
    if not needs_near:
        return "\n".join(lines) + "\n"
    helper = [
        "import math", "",
        "def _near(a, b):",
        "    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):",
        "        return type(a) is type(b) and len(a) == len(b) and all(_near(x, y) for x, y in zip(a, b))",
        "    if isinstance(a, dict) and isinstance(b, dict):",
        "        return a.keys() == b.keys() and all(_near(a[k], b[k]) for k in a)",
        "    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):",
        "        if math.isnan(b):",
        "            return math.isnan(a)",
        "        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)",
        "    return a == b", "", "",
    ]
    return "\n".join(helper + lines) + "\n"


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


def synthesize_task(task: Task, sandbox: Sandbox, limits: Limits, proposed: Sequence[str] = (), max_cases: int = 12,
                    max_mutants: int = 30, seed: int = 0) -> Synthesized:
    """Tests for one python task with a reference (see the module docstring); `proposed` are a model's calls."""
    if task.kind != "python" or not task.reference or not task.entry_point:
        raise UserError(f"task {task.task_id}: synthesize-tests needs a python task with `reference` and "
                        "`entry_point`")
    entry = task.entry_point
    examples = docstring_calls(task)
    from_model = [args for text in proposed if (args := parse_call(text, entry)) is not None
                  and within_contract(args, examples)]
    edges = edge_calls(task, examples + from_model, contract=examples)
    calls = [*examples, *from_model, *edges]
    pool = run_reference(task, calls, sandbox, limits)
    changed, killed = grade(task, pool, max_cases, sandbox, limits, max_mutants, seed) if pool else (0, 0)
    kept = tuple(pool[:max_cases])
    test = write_test(entry, kept) if kept else None
    meta = {**task.meta, "tests": "synthesized", "test_cases": len(kept),
            "mutation_score": round(killed / changed, 4) if changed else None, "mutants_changed": changed}
    return Synthesized(task=replace(task, test=test, meta=meta), cases=kept, pool=len(pool),
                       dropped=len({repr(c) for c in calls}) - len(pool), mutants_changed=changed,
                       mutants_killed=killed,
                       sources={"docstring": len(examples), "model": len(from_model), "edge": len(edges)})


def parse_assertion(text: str, entry: str) -> Case | None:
    """`assert entry(literals) == literal` (a model-written test line) as a Case, or None when it is not one."""
    text = text.strip()
    if not text.startswith("assert ") or len(text) > MAX_CALL_CHARS:
        return None
    try:
        node = ast.parse(text).body[0]
    except (SyntaxError, ValueError, RecursionError, MemoryError, IndexError):
        return None
    if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return None
    args = parse_call(ast.unparse(node.test.left), entry)
    try:
        expected = ast.literal_eval(node.test.comparators[0])
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    return None if args is None else Case(args, expected)


def synthesize_without_reference(task: Task, sandbox: Sandbox, limits: Limits, assertions: Sequence[str],
                                 solutions: Sequence[str], max_cases: int = 12, min_agreeing: int = 2) -> Synthesized:
    """Tests for a python task without a reference, kept where model-written tests and model-written solutions
    agree (CodeT's dual agreement): solutions are grouped by the set of tests they pass, a group scores (its
    solutions) x (its tests), and the best group's tests are kept when at least `min_agreeing` solutions and one
    test agree. The task gains one of those solutions as its reference and `meta.trust = "low"`."""
    entry = task.entry_point or ""
    cases = list({repr(c.args): c for line in assertions if (c := parse_assertion(line, entry))}.values())
    groups: dict[tuple[int, ...], list[str]] = {}
    for solution in solutions:
        answers = mutant_answers(f"{task.prompt}\n{solution}", entry, [c.args for c in cases], sandbox, limits)
        if answers is None:
            continue
        passed = tuple(i for i, (a, c) in enumerate(zip(answers, cases, strict=True))
                       if a[0] == "ok" and same(a[1], c.expected))
        groups.setdefault(passed, []).append(solution)
    best = max(groups.items(), key=lambda g: (len(g[1]) * len(g[0]), len(g[1])), default=((), []))
    agreed = best[1] if len(best[1]) >= min_agreeing and best[0] else []
    kept = tuple(cases[i] for i in best[0])[:max_cases] if agreed else ()
    meta = {**task.meta, "tests": "synthesized", "trust": "low", "test_cases": len(kept),
            "agreeing_solutions": len(agreed)}
    new = replace(task, test=write_test(entry, kept) if kept else None, meta=meta,
                  reference=agreed[0] if agreed else task.reference)
    return Synthesized(task=new, cases=kept, pool=len(cases), dropped=len(cases) - len(kept),
                       sources={"model_tests": len(cases), "solutions": len(solutions)})


def keep(result: Synthesized, min_score: float) -> bool:
    """Whether a task's synthesized test is good enough to train on: some cases, and the mutation score at or above
    `min_score` (a task whose mutants never change behaviour on the pool has no score and is kept if it has cases)."""
    if not result.cases:
        return False
    score = result.mutation_score
    return score is None or score >= min_score
