"""`codekiln eval`: pass@k aggregation checked by hand, bootstrap CIs, and the command end to end on a scripted model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from codekiln.errors import UserError
from codekiln.evaluate.run import bootstrap_ci, metrics_from, per_task_counts, usable_ks
from codekiln.records import Task, Verdict

TASKS = [Task(f"t{i}", "python", f"def f{i}():\n", entry_point=f"f{i}", test="def check(c):\n    pass\n")
         for i in range(3)]


def _verdicts(passes: dict[str, list[bool]]) -> list[Verdict]:
    return [Verdict(task_id, f"{task_id}#r0s{i}", "passed" if ok else "failed", ok)
            for task_id, oks in passes.items() for i, ok in enumerate(oks)]


def test_pass_at_k_matches_a_hand_computation():
    verdicts = _verdicts({"t0": [True, False, False, False], "t1": [False] * 4, "t2": [True, True, False, True]})
    m = metrics_from(TASKS, verdicts, [1, 2, 10], bootstrap=200)
    # pass@1 per task = c/n: 1/4, 0, 3/4 -> mean 1/3. pass@2 = 1 - C(n-c,2)/C(n,2): 1-3/6, 0, 1 -> mean 1/2.
    assert m["pass@1"] == pytest.approx(1 / 3)
    assert m["pass@2"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert "pass@10" not in m, "k > n cannot be estimated"
    assert (m["tasks"], m["samples"], m["passed"], m["tasks_solved"]) == (3, 12, 4, 2)
    assert m["status"] == {"passed": 4, "failed": 8}
    assert [row["pass@2"] for row in m["per_task"]] == pytest.approx([0.5, 0.0, 1.0])
    lo, hi = m["ci"]["pass@1"]
    assert 0 <= lo <= m["pass@1"] <= hi <= 1


def test_bootstrap_ci_is_deterministic_and_degenerate_for_constant_data():
    values = [0.0, 1.0, 0.5, 0.25, 1.0, 0.0]
    assert bootstrap_ci(values, 500) == bootstrap_ci(values, 500)
    lo, hi = bootstrap_ci(values, 2000)
    assert lo < sum(values) / len(values) < hi
    assert bootstrap_ci([1.0] * 5, 100) == [1.0, 1.0]
    assert all(math.isnan(x) for x in bootstrap_ci([], 100))


def test_k_values_and_counts():
    assert usable_ks([10, 1, 1, 5], 5) == [1, 5]
    with pytest.raises(UserError, match="1 or more"):
        usable_ks([0], 5)
    assert per_task_counts(TASKS, _verdicts({"t1": [True, False]})) == [("t0", 0, 0), ("t1", 2, 1), ("t2", 0, 0)]


# The scripted model answers every python task with this body (see scripted_model.py): a known completion, so
# which tasks pass is known. Each check calls the candidate in the sandbox.
SCRIPTED_BODY = "    return a + b"
E2E_TASKS = [
    Task("adds", "python", "def plus(a, b):\n", entry_point="plus",
         test="def check(c):\n    assert c(2, 3) == 5\n    assert c('x', 'y') == 'xy'\n"),
    Task("multiplies", "python", "def times(a, b):\n", entry_point="times",
         test="def check(c):\n    assert c(2, 3) == 6\n"),
    Task("none-safe", "python", "def either(a, b):\n", entry_point="either",
         test="def check(c):\n    assert c(1, None) == 1\n"),
    Task("joins", "python", "def join(a, b):\n", entry_point="join",
         test="def check(c):\n    assert c([1], [2, 3]) == [1, 2, 3]\n"),
]


@pytest.fixture(scope="module")
def scripted_gguf_path(tmp_path_factory) -> Path:
    from scripted_model import chain, scripted_gguf

    return scripted_gguf(tmp_path_factory.mktemp("scripted-eval"), chain("```python\n", SCRIPTED_BODY))


def test_cli_eval_end_to_end_on_a_scripted_model(scripted_gguf_path, tmp_path, capsys):
    """Sampling (llama.cpp), the sandboxed checks and pass@k, with a known answer: `a + b` solves 2 of 4 tasks."""
    from codekiln.cli import main
    from codekiln.records import Sample, read_jsonl, write_jsonl

    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, E2E_TASKS)
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(scripted_gguf_path), "--tasks", str(tasks), "--n", "2", "--k", "1,2,5",
            "--temperature", "0.8", "--max-tokens", "16", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    samples, verdicts = read_jsonl(out / "samples.jsonl", Sample), read_jsonl(out / "verdicts.jsonl", Verdict)
    assert [s.completion for s in samples] == [SCRIPTED_BODY + "\n"] * 8
    assert [(v.task_id, v.status) for v in verdicts] == [
        (t, status) for t, status in [("adds", "passed"), ("multiplies", "failed"), ("none-safe", "runtime_error"),
                                      ("joins", "passed")] for _ in range(2)]
    assert metrics["samples"] == 8 and metrics["k"] == [1, 2] and metrics["k_skipped"] == [5]
    assert metrics["pass@1"] == metrics["pass@2"] == 0.5
    assert (metrics["passed"], metrics["tasks_solved"]) == (4, 2)
    assert metrics["status"] == {"passed": 4, "failed": 2, "runtime_error": 2}
    assert [row["pass@1"] for row in metrics["per_task"]] == [1.0, 0.0, 0.0, 1.0]
    assert "pass@1" in capsys.readouterr().out
    assert main([*argv[:-3], "--k", "3", "--out", str(tmp_path / "e2"), "--quiet"]) == 2
    assert "k <= n" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_smollm2_on_humaneval_agrees_with_its_verdicts(tmp_path):
    from codekiln.config import EvalConfig, SampleConfig, VerifyConfig
    from codekiln.evaluate.run import evaluate_model
    from codekiln.records import read_jsonl
    from codekiln.tasks import load_tasks

    tasks = load_tasks("humaneval")[:2]
    m = evaluate_model("smollm2-135m", tasks, EvalConfig(n=2, k=[1, 2], temperature=0.8),
                       SampleConfig(max_tokens=128), VerifyConfig(), tmp_path, quiet=True)
    verdicts = read_jsonl(tmp_path / "verdicts.jsonl", Verdict)
    by_task = {t.task_id: [v.passed for v in verdicts if v.task_id == t.task_id] for t in tasks}
    assert len(verdicts) == 4 and m.samples == 4
    assert m.pass1 == pytest.approx(sum(sum(p) / 2 for p in by_task.values()) / 2)
    assert m.pass_at[2] == pytest.approx(sum(any(p) for p in by_task.values()) / 2)
    assert m.metrics["sampled_by"].startswith("smollm2-135m (as Q8_0")
