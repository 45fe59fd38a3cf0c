"""The judge end to end through the real llama.cpp backend: a tiny random model (mechanics) and SmolLM2 (slow).

A random model answers nonsense, so its samples mostly end `invalid` after the retries: what is checked is
the machinery — every sample gets a verdict, retries happen, nothing crashes, and a rerun is served from
the on-disk cache without a single model call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import JudgeConfig, VerifyConfig
from codekiln.judge.run import Judge
from codekiln.records import Sample, Verdict
from codekiln.tasks import load_tasks
from codekiln.verify import get_verifier
from codekiln.verify.judge import JudgeVerifier, judge_details

pytestmark = pytest.mark.slow

ANSWERS = [
    "def count_vowels(text: str) -> int:\n    \"\"\"Count a, e, i, o, u, ignoring case.\"\"\"\n"
    "    return sum(ch in 'aeiou' for ch in text.lower())",
    "I like turtles.",
]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-judge")
    return write_gguf(build_tiny_model(root / "hf"), root / "tiny.gguf", "f32")


def _jobs(n_tasks: int):
    tasks = load_tasks("open-basic:test")[:n_tasks]
    return [(t, Sample(t.task_id, a, f"{t.task_id}#{i}", raw=a)) for t in tasks for i, a in enumerate(ANSWERS)]


def _essence(verdicts):
    return [(v.sample_id, v.status, v.score, v.feedback) for v in verdicts]


def test_tiny_llamacpp_judge_mechanics_and_cache(tiny_gguf, tmp_path):
    cfg = VerifyConfig(judge=JudgeConfig(model=str(tiny_gguf), cache_dir=str(tmp_path / "cache"), group_size=2,
                                         both_orders=True, retries=1, reply_tokens=24, context_size=4096))
    jobs = _jobs(2)
    verifier = get_verifier("open", cfg)
    try:
        first = verifier.verify(jobs)
        calls = verifier.judge.calls
    finally:
        verifier.close()
    assert [v.sample_id for v in first] == [s.sample_id for _, s in jobs]
    assert all(v.status in ("passed", "failed", "invalid") for v in first)
    # 2 tasks x 1 preference x 2 orders = 4 first attempts; unparseable ones were retried once
    assert 4 <= calls <= 8
    if any(v.status == "invalid" for v in first):
        assert calls > 4  # an invalid verdict only after a retry
    assert all(judge_details(v)["judge"].endswith("tiny.gguf") for v in first)

    again = get_verifier("open", cfg)
    try:
        second = again.verify(jobs)
        assert again.judge.calls == 0  # every call served from the cache
    finally:
        again.close()
    assert _essence(second) == _essence(first)


def test_smollm2_judges_open_basic(tmp_path):
    cfg = JudgeConfig(cache_dir=str(tmp_path / "cache"), both_orders=False, retries=1, reply_tokens=48)
    judge = Judge.from_config(cfg)
    verifier = JudgeVerifier(VerifyConfig(judge=cfg), judge=judge)
    try:
        verdicts = verifier.verify(_jobs(1))
    finally:
        judge.close()
    assert len(verdicts) == 2
    for v in verdicts:
        details = judge_details(v)
        assert details["judge"].startswith("smollm2-135m")
        rating = next(iter(details["ratings"].values()))
        assert v.status == "invalid" or (1 <= rating <= 10 and 0 <= v.score <= 1)


def test_open_tasks_through_verify_samples_resume(tiny_gguf, tmp_path):
    from codekiln.records import read_jsonl
    from codekiln.verify.run import verify_samples

    cfg = VerifyConfig(judge=JudgeConfig(model=str(tiny_gguf), cache_dir=str(tmp_path / "cache"), retries=0,
                                         reply_tokens=16, preferences=["style"]))
    jobs = _jobs(2)
    tasks = list({t.task_id: t for t, _ in jobs}.values())
    samples = [s for _, s in jobs]
    out = tmp_path / "verdicts.jsonl"
    first = verify_samples(tasks, samples, cfg, out, quiet=True)
    assert [v.sample_id for v in first] == [s.sample_id for s in samples]
    assert _essence(read_jsonl(out, Verdict)) == _essence(first)
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:2]))  # as if killed after two verdicts
    (tmp_path / "cache").rename(tmp_path / "cache-gone")  # the rest must come from the model again
    again = verify_samples(tasks, samples, cfg, out, quiet=True)
    assert _essence(again) == _essence(first)  # the judge is deterministic: same verdicts from a fresh start
