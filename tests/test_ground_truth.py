"""Ground truth from the model's own samples: a sql gold query by self-consistency (run in the sandbox, in the
synthesis and in the verifier), python tests agreed on by model-written solutions, tasks that have ground truth kept
as they are, and the model's work kept so a rerun redoes none of it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from contextlib import closing

import pytest

from codekiln.config import SampleConfig, VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task
from codekiln.sample import base
from codekiln.sample.base import Generation, GenParams, Request
from codekiln.tasks.ground_truth import GroundTruthOptions, make_ground_truth
from codekiln.tasks.sql_gold import self_consistent_gold
from codekiln.verify.sandbox import Limits, Sandbox
from codekiln.verify.sql import SqlVerifier

SCHEMA = "CREATE TABLE pet (name TEXT, age INTEGER);"
ROWS = "INSERT INTO pet VALUES ('Rex', 3), ('Tom', 7), ('Ida', 12), ('Bo', 1);"
OLD = Task(task_id="old-pets", kind="sql", split="train", prompt="Names of the pets older than 5.", schema=SCHEMA,
           rows=ROWS)
RIGHT = ["SELECT name FROM pet WHERE age > 5", "SELECT name FROM pet WHERE age >= 6",
         "SELECT name FROM pet WHERE age > 5 ORDER BY name"]
WRONG = "SELECT name FROM pet WHERE age > 2"
HOSTILE = ["DELETE FROM pet", "ATTACH DATABASE '/tmp/x' AS x", "SELEC name FROM pet",
           "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"]
LIMITS = Limits(timeout_s=2.0)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, preload=("sqlite3",)) as box:
        yield box


def sql_verdict(task: Task, query: str) -> str:
    with closing(SqlVerifier(VerifyConfig(workers=1, recheck=[]))) as verifier:
        (v,) = verifier.verify([(task, Sample(task_id=task.task_id, sample_id="s", completion=query))])
    return v.status


def test_the_result_most_samples_agree_on_becomes_gold(sandbox, monkeypatch):
    gold = self_consistent_gold(OLD, [*RIGHT, RIGHT[0], WRONG, *HOSTILE], sandbox, LIMITS, min_agreement=0.4)
    assert gold.found and gold.agreeing == 4 and gold.samples == 9 and gold.ran == 5
    assert gold.task.reference == RIGHT[0]  # the most frequent query of the winning group
    assert gold.task.meta["trust"] == "low" and gold.task.meta["agreement"] == pytest.approx(4 / 9, abs=1e-4)
    from codekiln.records import from_dict, to_dict

    assert from_dict(Task, to_dict(gold.task)) == gold.task  # what a task file keeps: the query and its marks
    # The verifier runs a sampled gold query in the sandbox, never in its own process.
    from codekiln.verify import sql

    def trusted_run(*args: object) -> dict:
        raise AssertionError("a sampled gold query ran in the trusted process")

    monkeypatch.setattr(sql, "run_select", trusted_run)
    assert sql_verdict(gold.task, "SELECT p.name FROM pet p WHERE p.age BETWEEN 6 AND 100") == "passed"
    assert sql_verdict(gold.task, WRONG) == "failed"


def test_too_little_agreement_or_an_empty_majority_is_no_gold(sandbox):
    split = self_consistent_gold(OLD, [RIGHT[0], RIGHT[1], WRONG, WRONG, "SELECT age FROM pet"], sandbox, LIMITS,
                                 min_agreement=0.5)
    assert not split.found and split.task.reference is None and split.agreeing == 2
    empty = ["SELECT name FROM pet WHERE age > 50", "SELECT name FROM pet WHERE age < 0", RIGHT[0]]
    assert not self_consistent_gold(OLD, empty, sandbox, LIMITS, min_agreement=0.5).found


ADD = Task(task_id="add", kind="python", split="train", entry_point="add",
           prompt='def add(a: int, b: int) -> int:\n    """The sum of a and b."""\n')
REPLIES = {
    "asserts": "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(2, 2) == 5\n"
               "assert add(__import__('os').getpid(), 1) == 0\nimport os",
    "add": ["```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef add(a, b):\n    return b + a\n```",
            "```python\ndef add(a, b):\n    return a - b\n```", "```python\nimport os\nos._exit(3)\n```"],
    "old-pets": [f"```sql\n{q}\n```" for q in [RIGHT[0], RIGHT[1], RIGHT[0], WRONG]],
}


class GroundTruthSampler:
    """The model's part, scripted (what is under test is what codekiln makes of it); counts its calls."""

    supports_prefill = False
    calls: list[str] = []

    def __init__(self, ref: base.ModelRef, cfg: SampleConfig) -> None:
        self.name = ref.name
        self.next: dict[str, int] = {}

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            text = request.messages[-1]["content"]
            key = "asserts" if "test assertions" in text else ("add" if "def add" in text else "old-pets")
            GroundTruthSampler.calls.append(key)
            if key == "asserts":
                out.append(Generation(REPLIES[key], 10))
                continue
            i = self.next.get(key, 0)
            self.next[key] = i + 1
            out.append(Generation(REPLIES[key][i % len(REPLIES[key])], 10))
        return out

    def close(self) -> None:
        pass


def test_tasks_without_a_reference_get_ground_truth_from_the_models_samples(tmp_path, monkeypatch):
    monkeypatch.setitem(base.BACKENDS, "scripted", f"{__name__}:GroundTruthSampler")
    monkeypatch.setattr(GroundTruthSampler, "calls", [])
    marker = tmp_path / "pwned"
    REPLIES["add"].append(f"```python\nimport os\nos.system('touch {marker}')\ndef add(a, b):\n    return 0\n```")
    tested = dataclasses.replace(ADD, task_id="has-test", test="def check(candidate):\n    assert candidate(1, 1) == 2\n",
                                 reference="    return a + b\n")
    with_gold = dataclasses.replace(OLD, task_id="has-gold", reference=RIGHT[0])
    tasks = [ADD, tested, OLD, with_gold]
    options = GroundTruthOptions(sample=SampleConfig(model="smollm2-135m", backend="scripted"), n=5, workers=2,
                                 min_agreement=0.5)
    made = make_ground_truth(tasks, options, tmp_path / "work", quiet=True)
    REPLIES["add"].pop()
    assert [t.task_id for t in made.tasks] == ["add", "has-test", "old-pets", "has-gold"]
    add, _, old, _ = made.tasks
    assert made.tasks[1] == tested and made.tasks[3] == with_gold and made.had_it == 2
    assert add.meta["trust"] == "low" and add.meta["agreeing_solutions"] == 2
    assert re.findall(r"candidate\((.*?)\)", add.test or "") == ["1, 2", "0, 0"]  # add(2, 2) == 5 did not agree
    assert old.reference == RIGHT[0] and old.meta["agreement"] == pytest.approx(0.8) and not marker.exists()
    assert sorted(GroundTruthSampler.calls) == ["add"] * 5 + ["asserts"] + ["old-pets"] * 5
    # A rerun reads the model's work back instead of asking again, and makes the same tasks.
    GroundTruthSampler.calls.clear()
    again = make_ground_truth(tasks, options, tmp_path / "work", quiet=True)
    assert GroundTruthSampler.calls == [] and again.tasks == made.tasks
    assert "1 of 1 python task(s) got tests" in made.summary() and "1 of 1 sql task(s)" in made.summary()


def test_tasks_without_a_reference_need_a_model(tmp_path):
    with pytest.raises(UserError, match=r"2 task\(s\) have no reference .*drop --no-model"):
        make_ground_truth([ADD, OLD], GroundTruthOptions(sample=None), tmp_path, quiet=True)
    lost = dataclasses.replace(OLD, schema=None, rows=None)
    with pytest.raises(UserError, match="neither a gold query nor a database"):
        make_ground_truth([lost], GroundTruthOptions(sample=None), tmp_path, quiet=True)


CLAMP = Task(task_id="clamp", kind="python", entry_point="clamp", split="train",
             prompt='def clamp(x: int, lo: int, hi: int) -> int:\n    """Limit x to [lo, hi].\n\n'
                    '    >>> clamp(5, 0, 3)\n    3\n    """\n',
             reference="    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n")


class ClampSampler(GroundTruthSampler):
    """Proposes two calls when asked for calls; writes one right clamp otherwise."""

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            calls = "different calls" in request.messages[-1]["content"]
            GroundTruthSampler.calls.append("calls" if calls else "solve")
            out.append(Generation("clamp(1, 0, 2)\nclamp(-5, 0, 2)" if calls else
                                  "```python\ndef clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n```", 10))
        return out


def test_a_run_on_tasks_without_tests_stops_with_the_way_out_or_makes_them_first(tmp_path, monkeypatch):
    from codekiln.config import RunConfig
    from codekiln.loop import run
    from codekiln.records import read_jsonl, write_jsonl

    monkeypatch.setitem(base.BACKENDS, "scripted", f"{__name__}:ClampSampler")
    monkeypatch.setattr(GroundTruthSampler, "calls", [])
    untested = tmp_path / "untested.jsonl"
    write_jsonl(untested, [dataclasses.replace(CLAMP, split=s, task_id=f"clamp-{i}")
                           for i, s in enumerate(["train"] * 8 + ["test"] * 2)])
    cfg = {"tasks": str(untested), "runs_dir": str(tmp_path / "runs"), "name": "r", "rounds": 0,
           "sample": {"backend": "scripted", "n": 1}, "eval": {"extra": []}}
    with pytest.raises(UserError, match="10 task.s. have no ground truth, .*synthesize-tests.*synthesize_tests=true"):
        run(RunConfig(**cfg), quiet=True)
    result = run(RunConfig(**{**cfg, "synthesize_tests": True}), quiet=True)
    made = read_jsonl(tmp_path / "runs" / "r" / "ground_truth" / "tasks.jsonl", Task)
    assert len(made) == 10 and all(t.test and "candidate(5, 0, 3)" in t.test for t in made)  # the docstring's
    assert GroundTruthSampler.calls.count("calls") == 0 and result.report.exists()  # no model call per task in a run
    from codekiln.records import Verdict

    verdicts = read_jsonl(tmp_path / "runs" / "r" / "round-0" / "eval" / "verdicts.jsonl", Verdict)
    assert len(verdicts) == 2 and all(v.passed for v in verdicts)  # the right clamp passes the made tests
    from codekiln.tasks import ground_truth

    def remade(*args: object, **kwargs: object) -> None:
        raise AssertionError("a resumed run made the ground truth again (it may differ: a hang, a timing)")

    monkeypatch.setattr(ground_truth, "make_ground_truth", remade)
    run(RunConfig(**{**cfg, "synthesize_tests": True}), quiet=True)  # resumed: the tasks are read back
