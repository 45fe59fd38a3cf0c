
import pytest

from codekiln.config import JudgeConfig, VerifyConfig
from codekiln.judge.agreement import format_agreement, judge_test_agreement
from codekiln.judge.benchmark import format_summary, judge_verdicts, summarize_ratings
from codekiln.judge.run import Judge
from codekiln.records import Sample, Task, Verdict, read_jsonl
from codekiln.tasks import load_tasks
from codekiln.verify.judge import JudgeVerifier
from judge_fixtures import CommentJudge, comment_rating

PLAIN = "def add(a, b):\n    return a + b"
ONE = "def add(a, b):\n    # sum\n    return a + b"
TWO = '"""Add."""\n# sum of two\ndef add(a, b):\n    return a + b'


def verdict(tid, sid, ratings, status="passed", score=None):
    rated = [r for r in ratings.values() if r is not None]
    score = sum((r - 1) / 9 for r in rated) / len(rated) if score is None and rated else (score or 0.0)
    return Verdict(tid, sid, status, status == "passed", score=score,
                   details={"judge": {"judge": "j", "ratings": ratings}})


def test_open_basic_suite():
    tasks = load_tasks("open-basic")
    assert len(tasks) >= 100 and all(t.kind == "open" for t in tasks)
    assert len({t.task_id for t in tasks}) == len(tasks) and len({t.prompt for t in tasks}) == len(tasks)
    per = {}
    for t in tasks:
        per.setdefault(t.meta["preference"], []).append(t.split)
    assert len(per) == 5 and all(len(s) >= 20 and "test" in s and "train" in s for s in per.values())
    test = load_tasks("open-basic:test")
    assert {t.task_id for t in test}.isdisjoint(t.task_id for t in load_tasks("open-basic:train"))


def test_agreement_with_tests():
    tests = [Verdict("p/1", "a", "passed", True, 1.0), Verdict("p/1", "b", "failed", False),
             Verdict("p/1", "c", "syntax_error", False), Verdict("p/2", "d", "passed", True, 1.0)]
    judged = [verdict("p/1", "a", {"style": 8}), verdict("p/1", "b", {"style": 3}, status="failed"),
              verdict("p/1", "c", {"style": 9}), verdict("p/2", "d", {"style": 2}, status="failed")]
    report = judge_test_agreement(tests, judged)
    assert report["pairs"] == 2 and report["concordance"] == 0.5  # a>b right, a<c wrong; p/2 has no pair
    assert report["per_preference"]["style"] == {"pairs": 2, "concordance": 0.5}
    assert report["threshold_accuracy"] == pytest.approx(2 / 4)  # a and b match the tests, c and d do not
    assert "50.0% of 2 (pass, fail) pairs" in format_agreement(report)
    assert "nothing to compare" in format_agreement(judge_test_agreement(tests[3:], judged[3:]))


def test_summary_means_and_bootstrap_ci():
    tasks = [Task(f"o/{i}", "open", "x") for i in range(4)]
    verdicts = [verdict(f"o/{i}", f"s{i}", {"style": r}) for i, r in enumerate([2, 4, 6, 8])]
    verdicts.append(Verdict("o/0", "bad", "invalid", False))
    summary = summarize_ratings(tasks, verdicts, bootstrap=500, seed=1)
    row = summary["preferences"]["style"]
    assert row["mean"] == 5.0 and row["tasks"] == 4 and summary["invalid"] == 1
    assert 2 <= row["ci95"][0] < 5 < row["ci95"][1] <= 8
    assert summarize_ratings(tasks, verdicts, bootstrap=500, seed=1) == summary
    assert "style" in format_summary(summary)


def test_judged_verdicts_resume_from_their_file(tmp_path):
    tasks = [t for t in load_tasks("open-basic:test") if t.meta["preference"] == "readability"][:3]
    samples = [Sample(t.task_id, code, f"{t.task_id}#{i}", raw=code) for t in tasks for i, code in enumerate((PLAIN, TWO))]
    vcfg = VerifyConfig(judge=JudgeConfig(threshold=0.5, group_size=4))
    model = CommentJudge()
    verifier = JudgeVerifier(vcfg, judge=Judge(model, vcfg.judge))
    verdicts = judge_verdicts(tasks, samples, vcfg, tmp_path / "v.jsonl", quiet=True, verifier=verifier)
    for s, v in zip(samples, verdicts, strict=True):
        assert v.judgement.ratings["readability"] == comment_rating(s.raw)
    calls = model.calls
    assert judge_verdicts(tasks, samples, vcfg, tmp_path / "v.jsonl", quiet=True, verifier=verifier) == verdicts
    assert model.calls == calls  # resumed from the verdict file
    assert read_jsonl(tmp_path / "v.jsonl", Verdict) == verdicts
