"""The judge end to end through the real llama.cpp backend: a scripted model (mechanics) and SmolLM2 (slow).

The scripted judge (a real GGUF, see scripted_model.py) continues the prefilled answer `{"A": {"rating": ` with
`x` when decoding greedily, which cannot be parsed, and when sampling (the retries) mostly with a rating 4-9
for the response shown first and 2 for the one shown second (`7},B:2`). So every first answer must be retried,
the retries must give real parsed ratings, and which ratings they can be is known; a rerun is served from the
on-disk cache without a single model call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import JudgeConfig, VerifyConfig
from codekiln.judge.run import Judge
from codekiln.records import Sample, Verdict
from codekiln.tasks import load_tasks
from codekiln.verify import get_verifier
from codekiln.verify.judge import JudgeVerifier

pytestmark = pytest.mark.slow

ANSWERS = [
    "def count_vowels(text: str) -> int:\n    \"\"\"Count a, e, i, o, u, ignoring case.\"\"\"\n"
    "    return sum(ch in 'aeiou' for ch in text.lower())",
    "I like turtles.",
]
FIRST, SECOND = "456789", 2  # ratings the scripted judge gives the response shown first, and the one shown second


def judge_table() -> dict[int, dict[int, float]]:
    """The scripted judge: after the prefill, `x` (logit 10) beats each rating digit (9.9) when decoding greedily."""
    from scripted_model import SURE, chain, tokens

    last = tokens('{"A": {"rating": ')[-1]
    digits = [tokens(d)[0] for d in FIRST]
    table = {last: {tokens("x")[0]: 10.0, **{d: 9.9 for d in digits}}}
    table.update({d: {tokens("}")[0]: SURE} for d in digits})
    table.update(chain("}", f",B:{SECOND}"))
    return table


def possible_ratings() -> set[float]:
    """A response's rating: as shown first, as shown second, or the mean of both orders."""
    return {float(d) for d in FIRST} | {float(SECOND)} | {(int(d) + SECOND) / 2 for d in FIRST}


@pytest.fixture(scope="module")
def judge_gguf(tmp_path_factory) -> Path:
    from scripted_model import scripted_gguf

    return scripted_gguf(tmp_path_factory.mktemp("scripted-judge"), judge_table())


def _jobs(n_tasks: int):
    tasks = load_tasks("open-basic:test")[:n_tasks]
    return [(t, Sample(t.task_id, a, f"{t.task_id}#{i}", raw=a)) for t in tasks for i, a in enumerate(ANSWERS)]


def _essence(verdicts):
    return [(v.sample_id, v.status, v.score, v.feedback) for v in verdicts]


def _rating(verdict: Verdict) -> float | None:
    return next(iter(verdict.judgement.ratings.values()))


def test_scripted_llamacpp_judge_retries_parses_and_caches(judge_gguf, tmp_path):
    cfg = VerifyConfig(judge=JudgeConfig(model=str(judge_gguf), cache_dir=str(tmp_path / "cache"), group_size=2,
                                         both_orders=True, retries=3, reply_tokens=24, context_size=4096))
    jobs = _jobs(2)
    verifier = get_verifier("open", cfg)
    try:
        first = verifier.verify(jobs)
        calls = verifier.judge.calls
    finally:
        verifier.close()
    assert [v.sample_id for v in first] == [s.sample_id for _, s in jobs]
    assert all(v.judgement.judge.endswith("scripted.gguf") for v in first)
    # 2 tasks x 1 preference x 2 orders = 4 greedy answers, none parseable: each is retried (at most 3 times)
    assert 8 <= calls <= 16
    # Every verdict carries a rating parsed from a retry (one retry parses with odds ~0.84; three all fail ~0.4%)
    assert [v.sample_id for v in first if v.status == "invalid"] == []
    for v in first:
        rating = _rating(v)
        assert rating in possible_ratings(), (v.sample_id, rating)
        assert v.score == pytest.approx((rating - 1) / 9)
        assert v.status == ("passed" if v.score >= cfg.judge.threshold else "failed")

    again = get_verifier("open", cfg)
    try:
        second = again.verify(jobs)
        assert again.judge.calls == 0  # every call served from the cache
    finally:
        again.close()
    assert _essence(second) == _essence(first)


def test_single_answer_ratings_are_the_written_digit_without_expected_rating(judge_gguf, tmp_path):
    cfg = VerifyConfig(judge=JudgeConfig(model=str(judge_gguf), cache_dir=str(tmp_path / "cache"), retries=3,
                                         reply_tokens=16, preferences=["style"], expected_rating=False))
    verifier = get_verifier("open", cfg)
    try:
        verdicts = verifier.verify(_jobs(1))
    finally:
        verifier.close()
    assert all(_rating(v) in {float(d) for d in FIRST} for v in verdicts), _essence(verdicts)


def test_choice_probs_follow_the_model(tmp_path):
    """SmolLM2's probabilities of each rating after the prefill: a distribution whose most likely rating is the one
    it writes when decoding greedily."""
    from codekiln.config import SampleConfig
    from codekiln.judge.run import SCALE
    from codekiln.sample.base import GenParams, Request, load_sampler
    from codekiln.sample.models import resolve_model

    sampler = load_sampler(resolve_model("smollm2-135m"), SampleConfig(context_size=2048))
    try:
        request = Request(messages=[{"role": "user", "content": "Rate from 1 to 10 this answer to 'add two numbers': "
                                     "def add(a, b): return a + b. Reply with JSON."}],
                          seed=1, prefill='{"A": {"rating": ')
        probs = sampler.choice_probs(request, SCALE)
        # options evaluated together equal options evaluated alone (each multi-token option from the prompt's state)
        together = sampler.choice_probs(request, ["10", "20", "3"])
        alone = [sampler.choice_probs(request, [option])[0] for option in ("10", "20", "3")]
        greedy = sampler.generate([request], GenParams(temperature=0.0, top_p=1.0, max_tokens=2))[0].text
    finally:
        sampler.close()
    assert all(0.0 <= p <= 1.0 for p in probs) and 0.5 < sum(probs[:9]) <= 1.0 + 1e-6
    written = greedy.removeprefix(request.prefill)[0]
    assert SCALE[max(range(9), key=lambda i: probs[i])] == written, (probs, greedy)
    assert probs[9] <= probs[0]  # "10" begins with "1"
    assert together == pytest.approx(alone, rel=1e-4) and together[2] == pytest.approx(probs[2], rel=1e-4)


def test_smollm2_judges_open_basic(tmp_path):
    cfg = JudgeConfig(cache_dir=str(tmp_path / "cache"), both_orders=False, retries=1, reply_tokens=48)
    judge = Judge.from_config(cfg)
    verifier = JudgeVerifier(VerifyConfig(judge=cfg), judge=judge)
    try:
        verdicts = verifier.verify(_jobs(1))
    finally:
        judge.close()
    assert len(verdicts) == 2
    for v in verdicts:  # after the prefilled answer SmolLM2 writes a rating the parser reads (greedy: 1 for both)
        assert v.judgement.judge.startswith("smollm2-135m")
        rating = _rating(v)
        assert v.status != "invalid" and rating is not None, (v.status, v.feedback)
        assert 1 <= rating <= 10 and v.score == pytest.approx((rating - 1) / 9, abs=1e-5)  # score: 6 decimals


def test_open_tasks_through_verify_samples_resume(judge_gguf, tmp_path):
    from codekiln.records import read_jsonl
    from codekiln.verify.run import verify_samples

    cfg = VerifyConfig(judge=JudgeConfig(model=str(judge_gguf), cache_dir=str(tmp_path / "cache"), retries=3,
                                         reply_tokens=16, preferences=["style"]))
    jobs = _jobs(2)
    tasks = list({t.task_id: t for t, _ in jobs}.values())
    samples = [s for _, s in jobs]
    out = tmp_path / "verdicts.jsonl"
    first = verify_samples(tasks, samples, cfg, out, quiet=True)
    assert [v.sample_id for v in first] == [s.sample_id for s in samples]
    # One response a call: its rating is the mean of the scale under the judge's probabilities after the prefill;
    # the scripted judge gives the digits 4-9 equal logits (and "x" more, which is not a rating): 6.5 each.
    assert all(_rating(v) == pytest.approx(6.5) for v in first), _essence(first)
    assert _essence(read_jsonl(out, Verdict)) == _essence(first)
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:2]))  # as if killed after two verdicts
    (tmp_path / "cache").rename(tmp_path / "cache-gone")  # the rest must come from the model again
    again = verify_samples(tasks, samples, cfg, out, quiet=True)
    assert _essence(again) == _essence(first)  # the judge is seeded: same verdicts from a fresh start
