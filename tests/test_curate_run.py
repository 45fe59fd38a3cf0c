"""`curate_round` end to end on HumanEval tasks with hand-made verdicts, and the `codekiln curate` CLI."""

from __future__ import annotations

import json

import pytest

from codekiln.cli import main
from codekiln.config import CurateConfig
from codekiln.curate.run import curate_round
from codekiln.errors import UserError
from codekiln.records import Sample, Verdict, read_jsonl, write_jsonl
from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval

HE = read_humaneval(bundled_humaneval_path(), split="train")
T0, T1, T2 = HE[0], HE[1], HE[2]  # has_close_elements, separate_paren_groups, truncate_number
EVAL = [t for t in read_humaneval(bundled_humaneval_path(), split="test")[100:110]]

RENAMED_T0 = T0.reference.replace("elem2", "other").replace("elem", "value").replace("idx2", "j").replace("idx", "i")


def sample(task, i, completion):
    return Sample(task.task_id, completion, f"{task.task_id}#r0s{i}")


def verdict(s, status, score=0.0):
    return Verdict(s.task_id, s.sample_id, status, status == "passed", score)


def data():
    """Hand-made verdicts: the verifier's job is not under test here."""
    rows = [
        (sample(T0, 0, T0.reference), "passed"),
        (sample(T0, 1, RENAMED_T0), "passed"),  # AST duplicate of s0
        (sample(T0, 2, T0.reference.replace("< threshold", "> threshold")), "failed"),
        (sample(T0, 3, "    return (("), "syntax_error"),
        (sample(T0, 4, ""), "syntax_error"),  # nothing extracted
        (sample(T1, 0, "    return paren_string.split()"), "failed"),  # no passing sample for T1
        (sample(T1, 1, "    raise ValueError()"), "runtime_error"),
        (sample(T2, 0, T2.reference), "passed"),
        (sample(T2, 1, EVAL[3].prompt + EVAL[3].reference), "passed"),  # copies an evaluation task
        (sample(T2, 2, "    return number - int(number)"), "passed"),
    ]
    return [s for s, _ in rows], [verdict(s, st) for s, st in rows]


def test_curate_round_end_to_end(tmp_path):
    samples, verdicts = data()
    result = curate_round([T0, T1, T2], samples, verdicts, CurateConfig(), tmp_path, eval_tasks=EVAL, quiet=True)
    funnel = result.funnel
    removed = {r["sample_id"]: r for r in read_jsonl_dicts(tmp_path / "removed.jsonl")}
    sft = read_jsonl_dicts(tmp_path / "sft.jsonl")
    pairs = read_jsonl_dicts(tmp_path / "pairs.jsonl")
    assert (result.sft_rows, result.pairs, result.removed) == (len(sft), len(pairs), len(removed))
    assert result.removed_by_stage == funnel["removed_by_stage"] and sum(result.removed_by_stage.values()) == len(removed)

    assert removed[f"{T0.task_id}#r0s1"]["stage"] == "dedup-ast"
    assert removed[f"{T0.task_id}#r0s1"]["duplicate_of"] == f"{T0.task_id}#r0s0"
    assert removed[f"{T0.task_id}#r0s4"]["stage"] == "nonempty"
    assert removed[f"{T2.task_id}#r0s1"]["stage"] == "decontam"
    assert removed[f"{T2.task_id}#r0s1"]["eval_task"] == EVAL[3].task_id
    # T1 has no passing sample: no pair is invented, its failures are listed
    assert {removed[f"{T1.task_id}#r0s{i}"]["stage"] for i in (0, 1)} == {"status"}

    assert sorted(r["sample_id"] for r in sft) == [f"{T0.task_id}#r0s0", f"{T2.task_id}#r0s0", f"{T2.task_id}#r0s2"]
    row = sft[0]
    assert row["prompt"][-1]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"].startswith("```python\nfrom typing import List\n\n\ndef has_close_elements")

    # CodeLutra pairs for T0: the wrong answer before the syntax error
    assert [(p["chosen_id"], p["rejected_id"]) for p in pairs] == [
        (f"{T0.task_id}#r0s0", f"{T0.task_id}#r0s2"), (f"{T0.task_id}#r0s0", f"{T0.task_id}#r0s3")]
    assert all(p["margin"] == 1.0 and p["source"] == "correct-vs-incorrect" for p in pairs)
    assert set(pairs[0]) >= {"prompt", "chosen", "rejected"}

    total = funnel["total"]
    assert [total[s] for s in funnel["steps"]] == [10, 9, 5, 4, 3, 3]
    assert funnel["kinds"]["python"]["pairs"] == 2
    assert funnel["pairs"]["count"] == 2 and funnel["pairs"]["duplicate_pairs"] == 0
    assert json.loads((tmp_path / "funnel.json").read_text())["total"] == total
    # every sample is accounted for exactly once
    used = {r["sample_id"] for r in sft} | {p[k] for p in pairs for k in ("chosen_id", "rejected_id")}
    assert used.isdisjoint(removed) and len(used | set(removed)) == len(samples)


def read_jsonl_dicts(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sft_cap_per_task(tmp_path):
    samples = [sample(T2, i, f"    return number % 1.0 if number > {i} else number - int(number)") for i in range(5)]
    verdicts = [verdict(s, "passed") for s in samples]
    cfg = CurateConfig(sft_per_task=2, near_dup_threshold=1.0)
    funnel = curate_round([T2], samples, verdicts, cfg, tmp_path, quiet=True).funnel
    assert funnel["total"]["used"] == 2
    removed = read_jsonl_dicts(tmp_path / "removed.jsonl")
    assert [r["stage"] for r in removed] == ["cap"] * 3


def test_reference_as_chosen_is_off_by_default_and_reported_when_on(tmp_path):
    samples, verdicts = data()
    off = curate_round([T0, T1, T2], samples, verdicts, CurateConfig(), tmp_path / "off", quiet=True).funnel
    assert off["reference_as_chosen"]["references_used"] == {}
    on = curate_round([T0, T1, T2], samples, verdicts, CurateConfig(reference_as_chosen=True), tmp_path / "on",
                      quiet=True).funnel
    assert on["reference_as_chosen"] == {"enabled": True, "tasks_without_good_answer": {"python": 1},
                                         "references_used": {"python": 1}}
    pairs = read_jsonl_dicts(tmp_path / "on" / "pairs.jsonl")
    t1 = [p for p in pairs if p["task_id"] == T1.task_id]
    assert [(p["chosen_id"], p["rejected_id"]) for p in t1] == [
        (f"{T1.task_id}#reference", f"{T1.task_id}#r0s0"), (f"{T1.task_id}#reference", f"{T1.task_id}#r0s1")]
    assert on["total"]["reference_rows"] == 1


def test_second_round_skips_programs_already_trained_on(tmp_path):
    samples, verdicts = data()
    curate_round([T0, T1, T2], samples, verdicts, CurateConfig(), tmp_path / "r0", eval_tasks=EVAL, quiet=True)
    again = [Sample(s.task_id, s.completion, s.sample_id.replace("r0", "r1")) for s in samples]
    again_v = [Verdict(v.task_id, v.sample_id.replace("r0", "r1"), v.status, v.passed) for v in verdicts]
    funnel = curate_round([T0, T1, T2], again, again_v, CurateConfig(), tmp_path / "r1", eval_tasks=EVAL,
                          previous=[tmp_path / "r0"], quiet=True).funnel
    assert funnel["previous_programs"] == 5  # T0: s0 (SFT and chosen), s2 and s3 (rejected); T2: s0, s2 (SFT)
    assert funnel["total"]["used"] == 0
    assert funnel["removed_by_stage"]["seen-before"] >= 3
    allowed = curate_round([T0, T1, T2], again, again_v, CurateConfig(dedup_across_rounds=False), tmp_path / "r1b",
                           eval_tasks=EVAL, previous=[tmp_path / "r0"], quiet=True).funnel
    assert allowed["total"]["used"] == 3


def test_bad_inputs_are_user_errors(tmp_path):
    samples, verdicts = data()
    with pytest.raises(UserError, match="have no verdict"):
        curate_round([T0, T1, T2], samples, verdicts[:-1], CurateConfig(), tmp_path, quiet=True)
    with pytest.raises(UserError, match="not in the tasks given"):
        curate_round([T0, T1], samples, verdicts, CurateConfig(), tmp_path, quiet=True)
    with pytest.raises(UserError, match="not a curated folder"):
        curate_round([T0, T1, T2], samples, verdicts, CurateConfig(), tmp_path, previous=[tmp_path / "nope"],
                     quiet=True)


def write_inputs(tmp_path):
    samples, verdicts = data()
    write_jsonl(tmp_path / "tasks.jsonl", [T0, T1, T2])
    write_jsonl(tmp_path / "samples.jsonl", samples)
    write_jsonl(tmp_path / "verdicts.jsonl", verdicts)
    write_jsonl(tmp_path / "eval.jsonl", EVAL)
    return [f"--tasks={tmp_path / 'tasks.jsonl'}", f"--samples={tmp_path / 'samples.jsonl'}",
            f"--verdicts={tmp_path / 'verdicts.jsonl'}"]


def test_cli_curate(tmp_path, capsys):
    args = write_inputs(tmp_path)
    out = tmp_path / "cur"
    code = main(["curate", *args, "--out", str(out), "--eval-tasks", str(tmp_path / "eval.jsonl"),
                 "--pair-builder", "best-vs-worst", "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    assert "curation funnel" in err and "pairs (best-vs-worst)" in err and "removed by stage" in err
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["config"]["pair_builder"] == "best-vs-worst" and funnel["total"]["decontaminated"] == 3
    assert len(read_jsonl(out / "sft.jsonl", __import__("codekiln.records").records.SFTRow)) == 3


@pytest.mark.parametrize("extra, message", [
    (["--pair-builder", "nope"], "curate.pair_builder='nope' is not a choice"),
    (["--filters", "status,bogus"], "curate.filters='bogus' is not a choice"),
    (["--near-dup-threshold", "1.5"], "near_dup_threshold"),
    (["--previous", "/no/such/dir"], "not a curated folder"),
])
def test_cli_bad_input_exits_2(tmp_path, capsys, extra, message):
    args = write_inputs(tmp_path)
    assert main(["curate", *args, "--out", str(tmp_path / "o"), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_missing_file_exits_2(tmp_path, capsys):
    args = write_inputs(tmp_path)
    args[2] = f"--verdicts={tmp_path / 'missing.jsonl'}"
    assert main(["curate", *args, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_humaneval_samples_without_ids_join_verdicts_by_position(tmp_path):
    samples = [Sample(T2.task_id, T2.reference), Sample(T2.task_id, "    return 0.0")]
    verdicts = [Verdict(T2.task_id, f"{T2.task_id}#0", "passed", True),
                Verdict(T2.task_id, f"{T2.task_id}#1", "failed", False)]
    funnel = curate_round([T2], samples, verdicts, CurateConfig(), tmp_path, quiet=True).funnel
    assert funnel["total"]["used"] == 1 and funnel["pairs"]["count"] == 1
    pair = read_jsonl_dicts(tmp_path / "pairs.jsonl")[0]
    assert (pair["chosen_id"], pair["rejected_id"]) == (f"{T2.task_id}#0", f"{T2.task_id}#1")
    with pytest.raises(UserError, match="matched by position"):
        curate_round([T2], samples, verdicts[:1], CurateConfig(), tmp_path, quiet=True)


def test_funnel_is_per_kind(tmp_path):
    from codekiln.records import Task

    sql = Task("sql/0", "sql", "How many singers are older than 30?", split="train",
               schema="CREATE TABLE singer(id INT, age INT)", reference="SELECT count(*) FROM singer WHERE age > 30")
    rows = [
        (Sample(sql.task_id, "SELECT count(*) FROM singer WHERE age > 30", "q0"), "passed"),
        (Sample(sql.task_id, "select COUNT(*)\nfrom singer -- all of them\nwhere age > 30", "q1"), "passed"),  # exact dup
        (Sample(sql.task_id, "SELECT count(*) FROM singer", "q2"), "failed"),
        (Sample(sql.task_id, "The answer is four.", "q3"), "syntax_error"),  # not code
        (Sample(T2.task_id, T2.reference, "p0"), "passed"),
    ]
    samples = [s for s, _ in rows]
    verdicts = [Verdict(s.task_id, s.sample_id, st, st == "passed") for s, st in rows]
    funnel = curate_round([sql, T2], samples, verdicts, CurateConfig(), tmp_path, quiet=True).funnel
    assert funnel["kinds"]["sql"] == {"generated": 4, "extracted": 3, "verified_passing": 2, "unique": 1,
                                      "decontaminated": 1, "used": 1, "pairs": 1, "reference_rows": 0, "flaky": 0,
                                      "truncated": 0}
    assert funnel["kinds"]["python"]["used"] == 1 and funnel["total"]["generated"] == 5
    removed = {r["sample_id"]: r["stage"] for r in read_jsonl_dicts(tmp_path / "removed.jsonl")}
    assert removed == {"q1": "dedup-exact", "q3": "nonempty"}
    sft = read_jsonl_dicts(tmp_path / "sft.jsonl")
    assert sft[0]["completion"][0]["content"] == "```sql\nSELECT count(*) FROM singer WHERE age > 30\n```"


def test_cli_decontaminates_against_the_other_splits_of_tasks(tmp_path):
    args = write_inputs(tmp_path)
    held_out = EVAL[3]  # a sample of T2 copies this task's prompt and reference
    write_jsonl(tmp_path / "tasks.jsonl", [T0, T1, T2, held_out])
    assert main(["curate", *args, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    removed = {r["sample_id"]: r for r in read_jsonl_dicts(tmp_path / "o" / "removed.jsonl")}
    assert removed[f"{T2.task_id}#r0s1"]["eval_task"] == held_out.task_id


def test_curating_evaluation_tasks_is_a_user_error(tmp_path):
    samples, verdicts = data()
    with pytest.raises(UserError, match="also evaluation tasks"):
        curate_round([T0, T1, T2], samples, verdicts, CurateConfig(), tmp_path, eval_tasks=[T0], quiet=True)


def test_sample_ids_need_only_be_unique_within_a_task(tmp_path):
    samples = [Sample(T0.task_id, T0.reference, "0"), Sample(T2.task_id, T2.reference, "0"),
               Sample(T2.task_id, "    return 0.0", "1")]
    verdicts = [Verdict(T0.task_id, "0", "passed", True), Verdict(T2.task_id, "0", "passed", True),
                Verdict(T2.task_id, "1", "failed", False)]
    funnel = curate_round([T0, T2], samples, verdicts, CurateConfig(), tmp_path / "r0", quiet=True).funnel
    assert funnel["total"]["used"] == 2 and funnel["pairs"]["count"] == 1
    programs = read_jsonl_dicts(tmp_path / "r0" / "programs.jsonl")
    assert sorted((p["task_id"], p["sample_id"]) for p in programs) == [
        (T0.task_id, "0"), (T2.task_id, "0"), (T2.task_id, "1")]
    again = curate_round([T0, T2], samples, verdicts, CurateConfig(), tmp_path / "r1", previous=[tmp_path / "r0"],
                         quiet=True).funnel
    removed = read_jsonl_dicts(tmp_path / "r1" / "removed.jsonl")
    assert again["total"]["used"] == 0 and {r["duplicate_of"] for r in removed} == {
        f"r0/{T0.task_id}/0", f"r0/{T2.task_id}/0", f"r0/{T2.task_id}/1"}
