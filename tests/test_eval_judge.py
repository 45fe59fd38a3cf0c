import argparse
import json

from codekiln.commands.eval import add_judge_arguments, judge_verify_config
from codekiln.config import VerifyConfig
from codekiln.judge.benchmark import format_judged, report_judged
from codekiln.judge.run import Judge
from codekiln.records import Sample, Task, Verdict, write_jsonl
from codekiln.verify.judge import JudgeVerifier
from judge_fixtures import CommentJudge


def test_flags_set_the_judge_config():
    parser = argparse.ArgumentParser()
    add_judge_arguments(parser)
    args = parser.parse_args(["--judge", "qwen2.5-coder-0.5b", "--judge-max-calls", "50", "--no-judge-both-orders"])
    cfg = judge_verify_config(args, VerifyConfig())
    assert (cfg.judge.model, cfg.judge.max_calls, cfg.judge.both_orders) == ("qwen2.5-coder-0.5b", 50, False)
    assert judge_verify_config(parser.parse_args([]), VerifyConfig()) == VerifyConfig()
    assert "Stop after this many judge model calls" in parser.format_help()


def test_report_judges_tested_tasks_and_reports_agreement(tmp_path):
    py = Task("p/1", "python", "def add(a, b):\n", entry_point="add", test="def check(c): pass")
    op = Task("o/1", "open", "Explain add.", meta={"preference": "explanation"})
    samples = [Sample("p/1", "    # adds both\n    return a + b", "p#0"), Sample("p/1", "    return a - b", "p#1"),
               Sample("o/1", "x", "o#0", raw="x")]
    verdicts = [Verdict("p/1", "p#0", "passed", True, 1.0), Verdict("p/1", "p#1", "failed", False),
                Verdict("o/1", "o#0", "failed", False, 0.2,
                        feedback=json.dumps({"judge": "j", "ratings": {"explanation": 3}}))]
    write_jsonl(tmp_path / "samples.jsonl", samples)
    write_jsonl(tmp_path / "verdicts.jsonl", verdicts)
    cfg = VerifyConfig()
    cfg = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"preferences": ["readability"]})})
    model = CommentJudge()
    verifier = JudgeVerifier(cfg, judge=Judge(model, cfg.judge))
    report = report_judged([py, op], tmp_path, cfg, quiet=True, verifier=verifier)
    assert model.calls == 2  # each python sample alone (group_size 1), one preference; the open one was judged already
    ratings = report["ratings"]["preferences"]
    assert ratings["explanation"]["mean"] == 3.0 and "readability" in ratings
    assert report["agreement"]["pairs"] == 1 and report["agreement"]["concordance"] == 1.0
    assert (tmp_path / "judged.json").exists() and (tmp_path / "judge_verdicts.jsonl").exists()
    assert "ranks the passing sample higher in 100.0%" in format_judged(report)
