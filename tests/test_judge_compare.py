"""Base vs final judged side by side in both orders (`codekiln compare`), on scripted judges."""

import json

import pytest

from codekiln.cli import main as cli_main
from codekiln.config import JudgeConfig
from codekiln.judge.compare import comparison_config, format_comparison, rate_pairs, summarize_pairs
from codekiln.judge.run import Judge
from codekiln.records import Sample, Task
from judge_fixtures import CommentJudge, FirstPositionJudge, comment_rating, shown_responses

PLAIN = "def add(a, b):\n    return a + b"
COMMENTED = 'def add(a, b):\n    """Sum of a and b."""\n    # plain addition\n    return a + b'


def tasks(n):
    return [Task(task_id=f"open/{i}", kind="open", prompt=f"Write add number {i}.", split="test",
                 meta={"preference": "readability"}) for i in range(n)]


def answers(ts, text, tag):
    return [Sample(t.task_id, text, f"{t.task_id}#{tag}", raw=text) for t in ts]


def compare(model, ts, base_text, final_text):
    judge = Judge(model, comparison_config(JudgeConfig()))
    ratings = rate_pairs(judge, ts, answers(ts, base_text, "base"), answers(ts, final_text, "final"))
    return summarize_pairs(ratings, len(ts), bootstrap=200)


def test_a_first_position_judge_gives_ties_not_wins():
    ts = tasks(6)
    summary = compare(FirstPositionJudge(), ts, PLAIN, COMMENTED)
    overall = summary["overall"]
    assert overall["tasks"] == 6
    assert (overall["wins"], overall["ties"], overall["losses"]) == (0, 6, 0)
    assert overall["difference"] == 0.0
    assert overall["order_agreement"] == 0.0  # the two orders disagree on every task
    assert "this judge ranks by position" in format_comparison(summary)


def test_a_judge_that_reads_the_answers_finds_the_better_final_model():
    ts = tasks(6)
    better = compare(CommentJudge(), ts, PLAIN, COMMENTED)["preferences"]["readability"]
    assert better["wins"] == 6 and better["difference"] > 0 and better["ci95"][0] > 0
    assert better["order_agreement"] == 1.0
    worse = compare(CommentJudge(), ts, COMMENTED, PLAIN)["overall"]
    assert worse["losses"] == 6 and worse["difference"] < 0
    text = format_comparison(compare(CommentJudge(), ts, PLAIN, COMMENTED))
    assert "readability" in text and "ranks by position" not in text


def test_every_pair_is_shown_in_both_orders():
    model = CommentJudge()
    compare(model, tasks(3), PLAIN, COMMENTED)
    assert model.calls == 6
    firsts = [r.messages[-1]["content"].split("## Response A\n")[1].split("\n## ")[0].strip() for r in model.requests]
    assert firsts.count(PLAIN) == firsts.count(COMMENTED) == 3


def test_tasks_missing_an_answer_are_left_out():
    ts = tasks(4)
    judge = Judge(CommentJudge(), comparison_config(JudgeConfig()))
    ratings = rate_pairs(judge, ts, answers(ts[:3], PLAIN, "b"), answers(ts[1:], COMMENTED, "f"))
    assert sorted({r.task_id for r in ratings}) == ["open/1", "open/2"]


def test_one_order_only_is_refused():
    judge = Judge(CommentJudge(), JudgeConfig(group_size=2, both_orders=False))
    with pytest.raises(ValueError, match="both_orders"):
        rate_pairs(judge, tasks(1), [], [])


def test_compare_on_a_run_without_final_round_is_one_clear_line(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"final": None}))
    (run / "config.yaml").write_text("tasks: open-basic\n")
    assert cli_main(["compare", str(run)]) == 2
    err = capsys.readouterr().err
    assert "no final trained round" in err and len(err.strip().splitlines()) == 1


def test_folders_compared_feed_the_run_table_and_report(tmp_path):
    from codekiln.judge.compare import VERSUS_BASE, compare_folders
    from codekiln.records import write_jsonl
    from codekiln.report.console import summary_lines
    from codekiln.report.evidence import judged_section
    from codekiln.report.stats import round_stats

    ts = tasks(5)
    base_dir, final_dir = tmp_path / "round-0" / "val", tmp_path / "round-1" / "val"
    for folder, text in ((base_dir, PLAIN), (final_dir, COMMENTED)):
        folder.mkdir(parents=True)
        write_jsonl(folder / "samples.jsonl", answers(ts, text, folder.parent.name))
    judge = Judge(CommentJudge(), comparison_config(JudgeConfig()))
    summary = compare_folders(ts, base_dir, final_dir, JudgeConfig(), judge=judge, bootstrap=100)
    assert (final_dir / VERSUS_BASE).exists() and summary["overall"]["wins"] == 5
    rounds = [round_stats(tmp_path / "round-0"), round_stats(tmp_path / "round-1")]
    assert rounds[0].val_metric("vs-base").value == 0.0
    assert rounds[1].val_metric("vs-base").value == pytest.approx(summary["overall"]["difference"])
    assert summary["overall"]["difference"] > 0
    lines = summary_lines(rounds, final_round=1, metric="vs-base")
    assert lines[0].startswith("final = round 1, chosen on validation judged difference from the base (rating points")
    assert not any("no trained round beat the base" in line for line in lines)
    html = judged_section(tmp_path)
    assert "round-1 vs base on validation (decides)" in html and "readability" in html
    assert judged_section(tmp_path / "round-0") == ""


def test_alone_rates_each_answer_in_its_own_call_and_pairs_them_by_task():
    ts = tasks(3)
    model = FirstPositionJudge()  # shown alone, every answer is "first": no position to favour
    judge = Judge(model, comparison_config(JudgeConfig(), alone=True))
    ratings = rate_pairs(judge, ts, answers(ts, PLAIN, "base"), answers(ts, COMMENTED, "final"))
    assert model.calls == len(model.requests) == 6 and all(len(shown_responses(r)) == 1 for r in model.requests)
    assert [(r.base, r.final) for r in ratings] == [(9.0, 9.0)] * 3
    reader = CommentJudge()
    better = rate_pairs(Judge(reader, comparison_config(JudgeConfig(), alone=True)), ts,
                        answers(ts, PLAIN, "base"), answers(ts, COMMENTED, "final"))
    assert [(r.task_id, r.base, r.final) for r in better] == [(t.task_id, comment_rating(PLAIN),
                                                               comment_rating(COMMENTED)) for t in ts]
    summary = summarize_pairs(better, 3, bootstrap=100)
    assert summary["overall"]["wins"] == 3 and summary["overall"]["order_agreement"] is None
