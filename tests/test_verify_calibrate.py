"""Calibrated verdicts through the real sandbox: limits from a timed reference (cached per machine and task
content), reruns near the limit and of passes, and flaky programs kept out of training data."""

from __future__ import annotations

import dataclasses
import json
from contextlib import closing
from pathlib import Path

import pytest

from codekiln.config import CurateConfig, VerifyConfig
from codekiln.curate.run import curate_round
from codekiln.records import Pair, Sample, SFTRow, Task, read_jsonl
from codekiln.verify import get_verifier
from codekiln.verify.calibrate import verdict_changes
from codekiln.verify.python import PythonVerifier


def _double(reference: str, task_id: str = "cal/double") -> Task:
    return Task(task_id=task_id, kind="python", entry_point="f", prompt="def f(x):\n",
                test="def check(candidate):\n    assert candidate(2) == 4\n", reference=reference)


FAST = "    return x * 2\n"
SLEEP_1S = "    import time\n    time.sleep(1.0)\n    return x * 2\n"


def _verify(verifier, task: Task, completions: list[str]):
    jobs = [(task, Sample(task_id=task.task_id, sample_id=f"{task.task_id}#{i}", completion=c))
            for i, c in enumerate(completions)]
    return verifier.verify(jobs)


def _cached(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("calibration/*/*.json") if p.name != "machine.json")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_limit_is_k_times_a_reference_that_sleeps(_cache):
    """A reference that sleeps 0.5 s in the sandbox sets the limit to at least 4 x 0.5 s: a program that sleeps 1 s
    passes, where the constant limit (0.5 s) times it out."""
    task = _double("    import time\n    time.sleep(0.5)\n    return x * 2\n")
    cfg = VerifyConfig(workers=1, timeout_s=0.5, timeout_floor_s=0.5, timeout_factor=4.0, recheck=[])
    with closing(PythonVerifier(cfg)) as verifier:
        (verdict,) = _verify(verifier, task, [SLEEP_1S])
    assert verdict.status == "passed", verdict.feedback
    assert verdict.details["reference_s"] >= 0.5
    assert verdict.details["limit_s"] == pytest.approx(4.0 * verdict.details["reference_s"])
    assert verdict.details["calibration"] == "extended"  # it ran past the constant limit
    assert verdict_changes([verdict])["calibration_extended"] == 1
    assert len(_cached(_cache)) == 1
    with closing(PythonVerifier(cfg.model_copy(update={"calibrate": False}))) as verifier:
        (constant,) = _verify(verifier, task, [SLEEP_1S])
    assert constant.status == "timeout" and "limit_s" not in constant.details


def test_the_cache_is_reused_and_invalidated_when_the_reference_changes(_cache):
    task = _double(FAST)
    cfg = VerifyConfig(workers=1, timeout_s=5.0, timeout_floor_s=0.5, timeout_factor=4.0, recheck=[])
    with closing(PythonVerifier(cfg)) as verifier:  # a fast reference: the limit is the floor, and a 1 s program times out
        (first,) = _verify(verifier, task, [SLEEP_1S])
    assert first.status == "timeout" and first.details["limit_s"] == 0.5
    assert first.details["calibration"] == "tightened" and first.details["runs"] == ["timeout", "timeout"]
    (path,) = _cached(_cache)
    planted = {**json.loads(path.read_text()), "seconds": 2.0}  # a time no re-timing would give this reference
    path.write_text(json.dumps(planted))
    with closing(PythonVerifier(cfg)) as verifier:  # a new verifier (nothing in memory) reads the cached time
        (second,) = _verify(verifier, task, [SLEEP_1S])
    assert second.status == "passed" and second.details["limit_s"] == 8.0
    assert json.loads(path.read_text()) == planted  # read, not timed and written again
    changed = dataclasses.replace(task, reference=FAST + "    # the reference changed\n")
    with closing(PythonVerifier(cfg)) as verifier:
        (third,) = _verify(verifier, changed, [SLEEP_1S])
    assert third.status == "timeout" and third.details["limit_s"] == 0.5
    assert len(_cached(_cache)) == 2


def test_sql_limits_come_from_the_gold_query_timed_in_the_sandbox(_cache):
    """The gold query is fast, so the limit is the floor (0.5 s): a query that gives the right answer after counting
    to 60 million (about 18 s here) times out, where the constant limit (60 s) would let it pass."""
    task = Task(task_id="cal/sql", kind="sql", prompt="How many?", reference="SELECT COUNT(*) FROM t",
                schema="CREATE TABLE t (a INTEGER);", rows="INSERT INTO t VALUES (1), (2), (3);")
    slow = ("SELECT COUNT(*) FROM t WHERE (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < 60000000) SELECT COUNT(*) FROM c) > 0")
    cfg = VerifyConfig(workers=1, timeout_s=60.0, timeout_floor_s=0.5, recheck=[])
    with closing(get_verifier("sql", cfg)) as verifier:
        gold, late = _verify(verifier, task, ["SELECT COUNT(*) FROM t", slow])
    assert gold.status == "passed" and late.status == "timeout", late.feedback
    reference_s = gold.details["reference_s"]
    assert reference_s > 0 and gold.details["limit_s"] == max(0.5, round(4.0 * reference_s, 6))
    assert late.details["limit_s"] == gold.details["limit_s"]
    (path,) = _cached(_cache)
    assert json.loads(path.read_text())["seconds"] == reference_s


@pytest.mark.slow
def test_pandas_limits_come_from_a_reference_that_sleeps(_cache):
    setup = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\n"
    task = Task(task_id="cal/pandas", kind="pandas", prompt="Sum a.", setup=setup, result_name="result",
                reference="import time\ntime.sleep(0.5)\nresult = df['a'].sum()\n")
    cfg = VerifyConfig(workers=1, timeout_s=0.5, timeout_floor_s=0.5, recheck=[])
    with closing(get_verifier("pandas", cfg)) as verifier:
        (verdict,) = _verify(verifier, task, ["import time\ntime.sleep(1.0)\nresult = int(df.a.sum())\n"])
    assert verdict.status == "passed", verdict.feedback
    assert verdict.details["reference_s"] >= 0.5 and verdict.details["limit_s"] >= 2.0


RANDOM_PARITY = "    import os\n    return os.urandom(1)[0]\n"  # even or odd at random, whatever `random`'s seed


def test_a_program_that_passes_at_random_is_flaky_and_never_trained_on(tmp_path):
    """Passes are run twice (verify.recheck): a program whose verdict differs between runs is `flaky`, and curation
    keeps it out of SFT rows and of both sides of pairs. 48 tasks: P(no flaky one) = 0.75^48, about 1e-6."""
    tasks = [Task(task_id=f"cal/parity{i}", kind="python", entry_point="f", prompt="def f():\n",
                  test="def check(candidate):\n    assert candidate() % 2 == 0\n", split="train")
             for i in range(48)]
    samples = []
    for task in tasks:
        for name, code in (("random", RANDOM_PARITY), ("even", "    return 2\n"), ("odd", "    return 1\n")):
            samples.append(Sample(task_id=task.task_id, sample_id=f"{task.task_id}#{name}", completion=code))
    by_id = {t.task_id: t for t in tasks}
    with closing(PythonVerifier(VerifyConfig(workers=2))) as verifier:
        verdicts = verifier.verify([(by_id[s.task_id], s) for s in samples])
    flaky = {v.sample_id for v in verdicts if v.status == "flaky"}
    assert flaky and all(sid.endswith("#random") for sid in flaky)
    for v in verdicts:
        if v.status == "flaky":
            assert not v.passed and v.details["rerun"] == "recheck" and v.details["runs"] == ["passed", "failed"]
    assert {v.status for v in verdicts if v.sample_id.endswith("#even")} == {"passed"}

    out = tmp_path / "curated"
    funnel = curate_round(tasks, samples, verdicts, CurateConfig(), out, quiet=True).funnel
    used = {row.meta["sample_id"] for row in read_jsonl(out / "sft.jsonl", SFTRow)}
    pairs = read_jsonl(out / "pairs.jsonl", Pair)
    used |= {p.meta["chosen_id"] for p in pairs} | {p.meta["rejected_id"] for p in pairs}
    assert pairs and not used & flaky
    removed = {row["sample_id"]: row["stage"] for row in map(json.loads, (out / "removed.jsonl").read_text().splitlines())}
    assert {sid for sid, stage in removed.items() if stage == "flaky"} == flaky
    assert funnel["verdicts"]["flaky"] == funnel["total"]["flaky"] == len(flaky)
    assert funnel["verdicts"]["rerun_changed"] == len(flaky)


@pytest.mark.slow
def test_a_program_that_times_out_at_random_is_rerun_and_flaky():
    """No rechecks: only the rerun of a timeout can catch a program that sleeps past its limit half of the time.
    P(no flaky one among 48) = 0.75^48, about 1e-6."""
    task = Task(task_id="cal/sleepy", kind="python", entry_point="f", prompt="def f():\n",
                test="def check(candidate):\n    assert candidate() == 1\n")
    sleepy = "    import os, time\n    if os.urandom(1)[0] % 2:\n        time.sleep(3)\n    return 1\n"
    with closing(PythonVerifier(VerifyConfig(workers=2, timeout_s=0.5, recheck=[]))) as verifier:
        verdicts = _verify(verifier, task, [sleepy] * 48)
    assert "limit_s" not in verdicts[0].details  # no reference: the constant limit
    flaky = [v for v in verdicts if v.status == "flaky"]
    assert flaky and all(v.details["rerun"] == "near_limit" and v.details["runs"] == ["timeout", "passed"]
                         for v in flaky)
    assert {v.status for v in verdicts} <= {"passed", "timeout", "flaky"}


def test_rerun_margin_zero_runs_every_program_once():
    """rerun_margin=0 (the online-RL reward's setting): a timeout is not rerun (by default every timeout is)."""
    task = Task(task_id="cal/hang", kind="python", entry_point="f", prompt="def f():\n",
                test="def check(candidate):\n    assert candidate() == 1\n")
    hang, fast = "    while True:\n        pass\n", "    return 1\n"
    cfg = VerifyConfig(workers=1, timeout_s=1.0, recheck=[], rerun_margin=0.0)
    with closing(PythonVerifier(cfg)) as verifier:
        verdicts = _verify(verifier, task, [hang, fast])
    assert [v.status for v in verdicts] == ["timeout", "passed"]
    assert all("rerun" not in v.details for v in verdicts)


def test_details_travel_through_jsonl_and_are_left_out_when_empty(tmp_path):
    from codekiln.records import Verdict, write_jsonl

    plain = Verdict(task_id="t", sample_id="s0", status="passed", passed=True)
    flaky = Verdict(task_id="t", sample_id="s1", status="flaky", passed=False,
                    details={"rerun": "recheck", "runs": ["passed", "failed"], "limit_s": 4.0, "reference_s": 0.01})
    path = write_jsonl(tmp_path / "verdicts.jsonl", [plain, flaky])
    assert "details" not in path.read_text().splitlines()[0]
    assert read_jsonl(path, Verdict) == [plain, flaky]
    assert verdict_changes([plain, flaky]) == {"calibrated": 1, "calibration_extended": 0, "calibration_tightened": 0,
                                               "rerun": 1, "rerun_changed": 1, "flaky": 1}
