"""The python-basic suite: sizes, disjoint splits, well-formed tasks, references that pass, tests that can fail."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from codekiln.config import CurateConfig, VerifyConfig
from codekiln.curate.decontam import EvalIndex
from codekiln.records import Sample
from codekiln.sample.prompts import task_text
from codekiln.tasks import load_tasks
from codekiln.tasks.python_basic import DIFFICULTIES, SuiteFormatError, load, parse_blocks

# Runs trusted task data (references we wrote, docstring examples) in a child process so a broken
# reference cannot hang or crash the test run; prints one JSON list of problems.
CHECK_REFERENCES = r"""
import doctest, io, json, sys
problems = []
for t in json.load(sys.stdin):
    name = t["entry_point"]
    try:
        scope = {}
        exec(compile(t["prompt"] + "\n" + t["reference"] + "\n" + t["test"], t["task_id"], "exec"), scope)
        scope["check"](scope[name])
    except BaseException as err:
        problems.append(f"{t['task_id']} {name}: reference fails its tests: {err!r}")
        continue
    stub = {}
    exec(t["prompt"] + "\n    pass\n", stub)
    parsed = doctest.DocTestParser().get_doctest(stub[name].__doc__, {name: scope[name]}, name, None, 0)
    runner = doctest.DocTestRunner()
    out = io.StringIO()
    runner.run(parsed, out=out.write)
    if runner.failures or not parsed.examples:
        problems.append(f"{t['task_id']} {name}: docstring examples disagree with the reference: {out.getvalue()}")
print(json.dumps(problems))
"""


def _split(split: str):
    return [t for t in load() if t.split == split]


def _docstring(prompt: str) -> str:
    return " ".join(prompt.split('"""')[1].split())


def test_suite_is_registered_and_sized():
    tasks = load_tasks("python-basic")
    splits = Counter(t.split for t in tasks)
    assert splits["train"] >= 300 and splits["test"] >= 100
    assert set(splits) == {"train", "test"}
    assert {t.kind for t in tasks} == {"python"}
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert all(re.fullmatch(r"python-basic/\d{3}", t.task_id) for t in tasks)
    assert load_tasks("python-basic:test") == [t for t in tasks if t.split == "test"]


def test_every_task_is_well_formed():
    tasks = load()
    assert len({t.entry_point for t in tasks}) == len(tasks), "function names repeat"
    for t in tasks:
        compile(t.prompt, t.task_id, "exec")  # compiling runs nothing
        compile(t.reference, t.task_id, "exec")
        compile(t.test, t.task_id, "exec")
        assert f"def {t.entry_point}(" in t.prompt and f"def {t.entry_point}(" in t.reference, t.task_id
        assert t.prompt.rstrip().endswith('"""') and ">>> " in t.prompt, t.task_id
        assert t.test.startswith("def check(candidate):"), t.task_id
        assert 4 <= t.test.count("assert ") <= 8, t.task_id
        assert t.meta["difficulty"] in DIFFICULTIES and t.meta["family"], t.task_id


def test_train_and_test_share_no_task():
    train, test = _split("train"), _split("test")
    assert not {t.task_id for t in train} & {t.task_id for t in test}
    normalised = lambda t: " ".join(t.prompt.lower().split())  # noqa: E731
    assert not {normalised(t) for t in train} & {normalised(t) for t in test}
    assert not {_docstring(t.prompt) for t in train} & {_docstring(t.prompt) for t in test}
    assert not {t.entry_point for t in train} & {t.entry_point for t in test}


def test_no_test_task_leaks_into_train_by_ngrams():
    """The curation stage's own decontamination, at its default settings, flags no train prompt or reference."""
    cfg = CurateConfig()
    index = EvalIndex(_split("test"), ngram=cfg.ngram, threshold=cfg.decontam_threshold)
    assert len(index) >= 100  # most test prompts and references are long enough to be indexed
    leaks = []
    for t in _split("train"):
        for field, text in (("prompt", task_text(t)), ("reference", t.reference)):
            hit = index.check(text)
            if hit:
                leaks.append(f"{t.task_id} {field}: {hit.reason()}")
    assert not leaks, leaks


def test_both_splits_cover_every_family_and_difficulty():
    tasks = load()
    families = {t.meta["family"] for t in tasks}
    assert len(families) >= 5
    for split in ("train", "test"):
        level = Counter(t.meta["difficulty"] for t in tasks if t.split == split)
        assert level["easy"] > level["hard"] > 0, (split, level)
        assert level["medium"] >= level["hard"], (split, level)
        assert {t.meta["family"] for t in tasks if t.split == split} == families


def test_every_reference_passes_its_tests_and_docstring_examples():
    tasks = [{k: getattr(t, k) for k in ("task_id", "prompt", "reference", "test", "entry_point")} for t in load()]
    done = subprocess.run([sys.executable, "-I", "-c", CHECK_REFERENCES], input=json.dumps(tasks),
                          capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(done.stdout) == []


def test_a_wrong_docstring_example_is_caught():
    """The reference check above can fail: a task whose docstring example disagrees with its reference."""
    task = next(t for t in load() if t.task_id == "python-basic/000")
    wrong_prompt = task.prompt.replace("    3\n", "    4\n", 1)
    assert wrong_prompt != task.prompt
    bad = [{"task_id": task.task_id, "prompt": wrong_prompt, "reference": task.reference, "test": task.test,
            "entry_point": task.entry_point}]
    done = subprocess.run([sys.executable, "-I", "-c", CHECK_REFERENCES], input=json.dumps(bad),
                          capture_output=True, text=True, timeout=60, check=True)
    assert len(json.loads(done.stdout)) == 1


@pytest.mark.slow
def test_verifier_passes_every_reference_and_fails_a_stub():
    """Through the real sandboxed verifier: each reference passes; a `return None` body fails every task's tests."""
    from codekiln.verify.run import verify_samples

    tasks = load()
    samples = [Sample(task_id=t.task_id, sample_id=f"{t.task_id}#ref", completion=t.reference) for t in tasks]
    samples += [Sample(task_id=t.task_id, sample_id=f"{t.task_id}#none",
                       completion=f"def {t.entry_point}(*args, **kwargs):\n    return None\n") for t in tasks]
    verdicts = verify_samples(tasks, samples, VerifyConfig(workers=2), quiet=True)
    reference, stub = verdicts[: len(tasks)], verdicts[len(tasks):]
    assert [v.task_id for v in reference if v.status != "passed"] == []
    assert [v.task_id for v in stub if v.status != "failed"] == []


def test_block_parsing_builds_references_and_rejects_malformed_blocks():
    body = '# x\n\n=== twice | numbers | easy\ndef twice(x: int) -> int:\n    """Double x.\n\n    >>> twice(2)\n    4\n' \
           '    """\n--- solution\n    return 2 * x\n--- tests\nassert candidate(2) == 4\n\nassert candidate(0) == 0\n'
    (block,) = parse_blocks(body, "mem.txt")
    assert block["reference"] == "def twice(x: int) -> int:\n    return 2 * x\n"
    assert block["test"] == "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(0) == 0\n"
    whole = body.replace("    return 2 * x", "def twice(x):\n    return x + x")
    assert parse_blocks(whole, "mem.txt")[0]["reference"] == "def twice(x):\n    return x + x\n"
    for broken in (body.replace("--- tests", "--- test"), body.replace("| easy", "| tiny"),
                   body.replace("=== twice", "=== thrice")):
        with pytest.raises(SuiteFormatError):
            parse_blocks(broken, "mem.txt")
