
import pytest

from codekiln.config import JudgeConfig, SampleConfig, VerifyConfig
from codekiln.judge.agreement import format_agreement, judge_test_agreement
from codekiln.judge.benchmark import format_summary, judge_verdicts, summarize_ratings
from codekiln.judge.data import judged_pairs, preference_score, preference_verdicts, top_rated_sft
from codekiln.judge.pool import model_slug, sample_pool
from codekiln.judge.run import Judge
from codekiln.records import Sample, Task, Verdict, read_jsonl
from codekiln.tasks import load_tasks
from codekiln.verify.judge import JudgeVerifier
from judge_fixtures import CommentingWriter, CommentJudge, comment_rating

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


def test_preference_scores_and_pairs_per_preference():
    task = Task("o/1", "open", "Write add.", meta={"preference": "readability"})
    samples = [Sample("o/1", c, f"o/1#{i}", model=m, raw=c) for i, (c, m) in enumerate(
        [(PLAIN, "m1"), (TWO, "m2"), (ONE, "m1")])]
    verdicts = [verdict("o/1", "o/1#0", {"readability": 2, "style": 9}),
                verdict("o/1", "o/1#1", {"readability": 9, "style": 1}),
                verdict("o/1", "o/1#2", {"readability": 5, "style": 5})]
    assert preference_score(verdicts[1], "readability") == pytest.approx(8 / 9)
    assert [v.score for v in preference_verdicts(verdicts, "style")] == pytest.approx([8 / 9, 0.0, 4 / 9])

    (pair,) = judged_pairs([task], samples, verdicts)  # the task's own preference: readability
    assert pair.chosen[0]["content"] == TWO and pair.rejected[0]["content"] == PLAIN
    assert pair.margin == pytest.approx(7 / 9) and pair.source == "judge:best-vs-worst:readability"
    assert pair.meta["chosen_model"] == "m2" and pair.meta["rejected_model"] == "m1"
    assert pair.prompt[-1]["role"] == "user" and "Write add." in pair.prompt[-1]["content"]
    (style_pair,) = judged_pairs([task], samples, verdicts, preference="style")
    assert style_pair.chosen[0]["content"] == PLAIN and style_pair.rejected[0]["content"] == TWO
    assert len(judged_pairs([task], samples, verdicts, pairs_per_task=3)) == 1  # each sample used once


def test_no_pair_from_invalid_or_equal_ratings():
    task = Task("o/1", "open", "x")
    samples = [Sample("o/1", PLAIN, "a", raw=PLAIN), Sample("o/1", ONE, "b", raw=ONE)]
    assert judged_pairs([task], samples, [verdict("o/1", "a", {"style": 5}), verdict("o/1", "b", {"style": 5})]) == []
    bad = Verdict("o/1", "b", "invalid", False)
    assert judged_pairs([task], samples, [verdict("o/1", "a", {"style": 9}), bad]) == []


def test_top_rated_sft_rows():
    tasks = [Task("o/1", "open", "x"), Task("o/2", "open", "y")]
    samples = [Sample("o/1", PLAIN, "a", raw=PLAIN), Sample("o/1", TWO, "b", raw=TWO), Sample("o/2", ONE, "c", raw=ONE)]
    verdicts = [verdict("o/1", "a", {"style": 8}), verdict("o/1", "b", {"style": 10}), verdict("o/2", "c", {"style": 4})]
    rows = top_rated_sft(tasks, samples, verdicts, min_rating=8, per_task=1)
    assert [r.meta["sample_id"] for r in rows] == ["b"] and rows[0].completion[0]["content"] == TWO
    assert len(top_rated_sft(tasks, samples, verdicts, min_rating=8, per_task=2)) == 2


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


def test_pool_and_judged_verdicts_end_to_end(tmp_path):
    tasks = [t for t in load_tasks("open-basic:test") if t.meta["preference"] == "readability"][:3]
    for name in ("quiet", "chatty"):
        (tmp_path / f"{name}.gguf").write_bytes(b"")  # model specs must name files; the writers stand in for them
    writers = {str(tmp_path / "quiet.gguf"): CommentingWriter("quiet", 0),
               str(tmp_path / "chatty.gguf"): CommentingWriter("chatty", 3)}
    cfg = SampleConfig(n=2, temperature=0.8)
    samples = sample_pool(tasks, cfg, list(writers), tmp_path, quiet=True, samplers=writers)
    assert len(samples) == 12 and len({s.sample_id for s in samples}) == 12
    assert {s.model for s in samples} == {"quiet", "chatty"}
    assert read_jsonl(tmp_path / "samples.jsonl", Sample) == samples
    assert model_slug("openai:qwen@http://h:1/v1") == "qwen" and model_slug("/m/x.gguf") == "x"

    vcfg = VerifyConfig(judge=JudgeConfig(threshold=0.5, group_size=4))
    model = CommentJudge()
    verifier = JudgeVerifier(vcfg, judge=Judge(model, vcfg.judge))
    verdicts = judge_verdicts(tasks, samples, vcfg, tmp_path / "v.jsonl", quiet=True, verifier=verifier)
    for s, v in zip(samples, verdicts, strict=True):
        assert v.judgement.ratings["readability"] == comment_rating(s.raw)
    calls = model.calls
    assert judge_verdicts(tasks, samples, vcfg, tmp_path / "v.jsonl", quiet=True, verifier=verifier) == verdicts
    assert model.calls == calls  # resumed from the verdict file
    pairs = judged_pairs(tasks, samples, verdicts)
    assert len(pairs) == 3 and all(p.meta["chosen_model"] == "chatty" != p.meta["rejected_model"] for p in pairs)
