"""The pandas-basic suite: sizes, splits, and every reference checked against an independently computed answer."""

from __future__ import annotations

from collections import Counter

from codekiln.tasks import load_tasks
from codekiln.tasks.pandas_basic import load
from codekiln.verify.compare import ValueOptions, compare_values
from codekiln.verify.pandas import run_program
from pandas_oracle import ANSWERS, expected, literal, perturbed


def test_suite_is_registered_and_sized():
    tasks = load_tasks("pandas-basic")
    splits = Counter(t.split for t in tasks)
    assert splits["train"] >= 150 and splits["test"] >= 50
    assert {t.kind for t in tasks} == {"pandas"}
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert not {t.setup for t in tasks if t.split == "train"} & {t.setup for t in tasks if t.split == "test"}


def test_training_items_are_not_flagged_as_test_contamination():
    from codekiln.curate.decontam import EvalIndex
    from codekiln.sample.prompts import task_text

    tasks = load()
    index = EvalIndex([t for t in tasks if t.split == "test"])
    flagged = [t.task_id for t in tasks if t.split == "train" and (index.check(task_text(t)) or index.check(t.reference))]
    assert flagged == []


def test_every_reference_gives_the_independently_computed_answer():
    """References are the project's own code, so they may run here; each value must equal the answer worked out
    in plain Python from the task's prompt and data (`pandas_oracle`), for every template of the suite."""
    tasks = load()
    assert {t.meta["template"] for t in tasks} <= set(ANSWERS), "a new template needs an answer in pandas_oracle"
    for task in tasks:
        out = run_program(task.setup, task.reference, task.result_name, "")
        assert "value" in out, (task.task_id, out)
        comparison = compare_values(expected(task), out["value"], ValueOptions.from_meta(task.meta))
        assert comparison.equal, (task.task_id, task.prompt, comparison.reason)


def test_sandboxed_verifier_passes_the_known_answer_and_fails_near_misses():
    """One task per template through the real verifier: the reference runs in the sandbox as the gold value, the
    independent answer written as a literal passes, the same answer with one cell changed and `df` itself fail."""
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.verify import get_verifier

    tasks = list({t.meta["template"]: t for t in reversed(load())}.values())
    programs = {"known": lambda t: literal(expected(t)), "near-miss": lambda t: literal(perturbed(expected(t))),
                "naive": lambda t: "result = df\n"}
    jobs = [(t, Sample(t.task_id, write(t), f"{t.task_id}#{name}")) for t in tasks for name, write in programs.items()]
    verifier = get_verifier("pandas", VerifyConfig(workers=2))
    try:
        verdicts = verifier.verify(jobs)
    finally:
        verifier.close()
    got = {v.sample_id: (v.status, v.feedback) for v in verdicts}
    for task in tasks:
        assert got[f"{task.task_id}#known"][0] == "passed", (task.prompt, got[f"{task.task_id}#known"])
        for name in ("near-miss", "naive"):
            assert got[f"{task.task_id}#{name}"][0] == "failed", (name, task.prompt, got[f"{task.task_id}#{name}"])


def test_references_differ_from_a_naive_answer():
    """A task whose answer is `df` itself would teach nothing: every reference differs from the raw input."""
    for task in load():
        gold = run_program(task.setup, task.reference, "result", "")["value"]
        naive = run_program(task.setup, "result = df", "result", "")["value"]
        assert not compare_values(gold, naive, ValueOptions.from_meta(task.meta)).equal, task.task_id
