"""`codekiln verify` and `verify_samples`: verdict files, resume, pass@k output, exit codes."""

from __future__ import annotations

import gzip
import json
import math
from fractions import Fraction

import pytest

from codekiln.cli import main
from codekiln.config import VerifyConfig
from codekiln.evaluate.passk import default_ks, pass_at_k, pass_at_k_table
from codekiln.records import Sample, Verdict, read_jsonl
from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval
from codekiln.verify.run import verify_samples


@pytest.fixture(scope="module")
def humaneval_subset(tmp_path_factory):
    """The first three HumanEval problems in their own .jsonl.gz, as a user would pass them."""
    path = tmp_path_factory.mktemp("he") / "HumanEval-3.jsonl.gz"
    with gzip.open(bundled_humaneval_path(), "rt") as src, gzip.open(path, "wt") as dst:
        for _, line in zip(range(3), src, strict=False):
            dst.write(line)
    return path


def _samples_file(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(tasks):
    rows = []
    for t in tasks:
        rows.append({"task_id": t.task_id, "completion": t.reference})
        rows.append({"task_id": t.task_id, "completion": "    return None\n"})
    return rows


def test_cli_writes_verdicts_and_prints_pass_at_k(humaneval_subset, tmp_path, capsys):
    tasks = read_humaneval(humaneval_subset)
    samples = _samples_file(tmp_path / "samples.jsonl", _rows(tasks))
    out = tmp_path / "verdicts.jsonl"
    code = main(["verify", "--tasks", str(humaneval_subset), "--samples", str(samples), "--out", str(out),
                 "--workers", "1", "--timeout", "5", "--quiet"])
    assert code == 0
    verdicts = read_jsonl(out, Verdict)
    assert [(v.task_id, v.passed) for v in verdicts] == [(t.task_id, ok) for t in tasks for ok in (True, False)]
    assert verdicts[0].sample_id == "HumanEval/0#0" and verdicts[1].sample_id == "HumanEval/0#1"
    printed = capsys.readouterr().out
    assert "pass@1    0.5000" in printed and "pass@2    1.0000" in printed
    assert "passed        3" in printed and "failed        3" in printed


def test_cli_calibrates_limits_unless_told_not_to(humaneval_subset, tmp_path, monkeypatch):
    """By default each task's limit comes from its reference's time here (cached under $CODEKILN_CACHE);
    --no-calibrate gives every program --timeout."""
    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    tasks = read_humaneval(humaneval_subset)
    samples = _samples_file(tmp_path / "samples.jsonl", _rows(tasks))
    base = ["verify", "--tasks", str(humaneval_subset), "--samples", str(samples), "--workers", "1", "--timeout", "5",
            "--quiet"]
    assert main(base + ["--out", str(tmp_path / "calibrated.jsonl")]) == 0
    calibrated = read_jsonl(tmp_path / "calibrated.jsonl", Verdict)
    assert all(v.details["limit_s"] == 4.0 for v in calibrated)  # the floor: the references take milliseconds
    assert len(list((tmp_path / "cache").glob("calibration/*/*.json"))) == len(tasks) + 1  # + machine.json
    assert main(base + ["--out", str(tmp_path / "constant.jsonl"), "--no-calibrate"]) == 0
    assert [v.details.get("limit_s") for v in read_jsonl(tmp_path / "constant.jsonl", Verdict)] == [None] * 6


def test_cli_user_errors_exit_2(humaneval_subset, tmp_path, capsys):
    base = ["verify", "--tasks", str(humaneval_subset), "--out", str(tmp_path / "v.jsonl"), "--quiet"]
    assert main(base + ["--samples", str(tmp_path / "missing.jsonl")]) == 2
    unknown = _samples_file(tmp_path / "unknown.jsonl", [{"task_id": "Nope/1", "completion": ""}])
    assert main(base + ["--samples", str(unknown)]) == 2
    assert "unknown.jsonl:1: unknown task_id 'Nope/1'" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": \n')
    assert main(base + ["--samples", str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    no_completion = _samples_file(tmp_path / "nocomp.jsonl", [{"task_id": "HumanEval/0"}])
    assert main(base + ["--samples", str(no_completion)]) == 2
    assert main(["verify", "--tasks", str(tmp_path / "no-tasks.jsonl"), "--samples", str(bad),
                 "--out", str(tmp_path / "v.jsonl")]) == 2
    samples = _samples_file(tmp_path / "ok.jsonl", [{"task_id": "HumanEval/0", "completion": ""}])
    assert main(base + ["--samples", str(samples), "--timeout", "-1"]) == 2
    assert main(base + ["--samples", str(samples), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_resume_keeps_finished_verdicts_and_restores_input_order(humaneval_subset, tmp_path):
    tasks = read_humaneval(humaneval_subset)
    samples = [Sample(task_id=r["task_id"], completion=r["completion"]) for r in _rows(tasks)]
    out = tmp_path / "verdicts.jsonl"
    # A run killed after two verdicts, written in completion order, with a torn last line.
    finished = Verdict(task_id="HumanEval/1", sample_id="HumanEval/1#1", status="failed", passed=False,
                       feedback="kept from the first run")
    other = Verdict(task_id="HumanEval/0", sample_id="HumanEval/0#0", status="passed", passed=True, score=1.0)
    out.write_text(json.dumps(finished.__dict__) + "\n" + json.dumps(other.__dict__) + "\n" + '{"task_id": "Hu')
    verdicts = verify_samples(tasks, samples, VerifyConfig(workers=1, timeout_s=5), out=out, quiet=True)
    assert [v.sample_id for v in verdicts] == [f"{t.task_id}#{i}" for t in tasks for i in (0, 1)]
    assert verdicts[3].feedback == "kept from the first run"  # not recomputed
    assert read_jsonl(out, Verdict) == verdicts


def test_pass_at_k_matches_the_binomial_formula():
    for n, c, k in [(5, 2, 2), (10, 0, 3), (10, 10, 1), (20, 3, 7), (200, 13, 100), (1000, 10, 100)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9, abs=1e-12)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_pass_at_k_table_and_ks():
    verdicts = [Verdict(task_id=t, sample_id=str(i), status="passed" if ok else "failed", passed=ok)
                for t, oks in (("a", (True, False, False)), ("b", (False, False, False))) for i, ok in enumerate(oks)]
    table = pass_at_k_table(verdicts, [1, 2, 3, 5])
    assert table["pass@1"] == pytest.approx((1 / 3 + 0) / 2)
    assert table["pass@3"] == pytest.approx(0.5) and "pass@5" not in table
    assert (table["tasks"], table["samples"], table["passed"], table["tasks_solved"]) == (2, 6, 1, 1)
    assert table["status"] == {"passed": 1, "failed": 5}
    assert default_ks(3) == [1, 2, 3] and default_ks(200) == [1, 2, 5, 10, 20, 50, 100, 200]
