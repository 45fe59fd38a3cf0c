"""Generation budgets come from the task kind, and a reply cut by the budget is `truncated`, not a syntax error."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import CurateConfig, RunConfig, SampleConfig, VerifyConfig
from codekiln.curate.run import curate_round
from codekiln.records import Sample, Task, Verdict
from codekiln.sample.budget import with_budget
from codekiln.sample.generate import gen_params
from codekiln.sample.run import sample_tasks
from codekiln.verify.run import as_truncated, verify_samples

HTML = Task("ui/t", "html", "A page with the heading 'Hi'.", split="train", description="A page with the heading 'Hi'.")
SQL = Task("sql/t", "sql", "How many rows?", split="train", schema="CREATE TABLE t (a INT);", reference="SELECT 1")


def test_budget_by_kind_unless_the_user_sets_one() -> None:
    cfg = SampleConfig()
    assert (with_budget(cfg, [SQL]).max_tokens, with_budget(cfg, [SQL]).context_size) == (256, 2048)
    assert (with_budget(cfg, [HTML]).max_tokens, with_budget(cfg, [HTML]).context_size) == (1200, 2304)
    assert with_budget(cfg, [SQL, HTML]).max_tokens == 1200  # mixed kinds: the largest budget
    mine = SampleConfig(max_tokens=100, context_size=1024)
    assert with_budget(mine, [HTML]) == mine
    assert gen_params(with_budget(cfg, [HTML])).max_tokens == 1200
    assert RunConfig().sample.max_tokens is None  # the run leaves it to the kind too


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny")
    return write_gguf(build_tiny_model(folder / "hf"), folder / "tiny.gguf", "f32")


def test_a_reply_cut_by_the_limit_is_truncated_and_counted(tiny_gguf: Path, tmp_path: Path) -> None:
    cfg = SampleConfig(model=str(tiny_gguf), n=2, max_tokens=6, temperature=0.9, stop_at_fence=False)
    samples = sample_tasks([HTML], cfg, tmp_path / "s.jsonl", quiet=True)
    assert all(s.meta["finish"] == "length" for s in samples)  # a random tiny model never ends within 6 tokens
    verdicts = verify_samples([HTML], samples, VerifyConfig(), tmp_path / "v.jsonl", quiet=True)
    assert [v.status for v in verdicts] == ["truncated", "truncated"]
    assert all(v.details["cut_at_tokens"] == s.meta["tokens"] and v.details["checked_status"] == "syntax_error"
               for v, s in zip(verdicts, samples, strict=True))
    ended = [Sample(HTML.task_id, s.completion, s.sample_id, s.model, meta={**s.meta, "finish": "stop"})
             for s in samples]
    assert {v.status for v in verify_samples([HTML], ended, VerifyConfig(), quiet=True)} == {"syntax_error"}
    funnel = curate_round([HTML], samples, verdicts, CurateConfig(), tmp_path / "curated", quiet=True).funnel
    assert funnel["total"]["truncated"] == 2 and funnel["kinds"]["html"]["truncated"] == 2


def test_a_passing_reply_that_hit_the_limit_stays_passed() -> None:
    passed = Verdict("t", "s", "passed", True, 1.0)
    assert as_truncated(passed, 256) == passed
    failed = as_truncated(Verdict("t", "s", "failed", False, 0.3, "wrong"), 256)
    assert (failed.status, failed.score, failed.feedback, failed.details) == (
        "truncated", 0.3, "wrong", {"cut_at_tokens": 256, "checked_status": "failed"})


def test_training_length_follows_the_data_kinds(tmp_path: Path) -> None:
    from codekiln.records import SFTRow, write_jsonl
    from codekiln.sample.budget import train_length
    from codekiln.train.data import task_kinds

    assert (train_length({"html", "sql"}), train_length({"sql", None}), train_length(set())) == (1536, 512, 512)
    write_jsonl(tmp_path / "sft.jsonl", [SFTRow("p", "c", meta={"kind": "html"}), SFTRow("p", "c", meta={"kind": "sql"})])
    assert task_kinds(tmp_path / "sft.jsonl", None) == {"html", "sql"}


def test_eval_metrics_give_the_mean_score_per_task_and_the_rendered_share() -> None:
    import json as _json

    from codekiln.evaluate.run import metrics_from

    tasks = [HTML, Task("ui/u", "html", "x", description="x")]
    rendered = _json.dumps({"checks": {"renders": True}})
    verdicts = [Verdict("ui/t", "a", "passed", True, 0.9, rendered), Verdict("ui/t", "b", "failed", False, 0.3, rendered),
                Verdict("ui/u", "c", "truncated", False, 0.0, "")]
    m = metrics_from(tasks, verdicts, [1], 200)
    assert m["score"] == pytest.approx((0.6 + 0.0) / 2) and m["rendered"] == pytest.approx(2 / 3)
    assert m["ci"]["score"][0] <= m["score"] <= m["ci"]["score"][1]
