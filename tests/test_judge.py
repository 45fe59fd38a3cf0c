
import pytest

from codekiln.config import JudgeConfig, VerifyConfig
from codekiln.judge.budget import Budget, BudgetExceeded
from codekiln.judge.cache import JudgeCache
from codekiln.judge.pairwise import mean_ratings, order_agreement, orderings, unshuffle
from codekiln.judge.run import Judge, JudgeItem, Judgement
from codekiln.records import Sample, Task, Verdict
from codekiln.verify.judge import JudgeVerifier, combine_verdicts, judge_tested
from judge_fixtures import (
    BrokenBackend,
    CommentJudge,
    FirstPositionJudge,
    GreedyRambler,
    comment_rating,
    shown_responses,
)

PLAIN = "def add(a, b):\n    return a + b"
COMMENTED = 'def add(a, b):\n    """Sum of a and b."""\n    # plain addition\n    return a + b'
VERY = '"""Adding."""\n# one\n# two\n# three\ndef add(a, b):\n    return a + b'


def item(key="t1", responses=(PLAIN, COMMENTED), preferences=("readability",)):
    return JudgeItem(key=key, instruction="Write add(a, b).", responses=tuple(responses), preferences=preferences)


# -- position shuffling and both orders ------------------------------------------------------------------------

def test_orderings_are_seeded_permutations_with_reverse():
    first = orderings(5, seed=3, both_orders=True)
    assert first == orderings(5, seed=3, both_orders=True)
    assert sorted(first[0]) == list(range(5)) and first[1] == first[0][::-1]
    assert any(orderings(5, seed=s, both_orders=False)[0] != list(range(5)) for s in range(5))
    assert orderings(1, seed=0, both_orders=True) == [[0]]
    assert len(orderings(2, seed=0, both_orders=False)) == 1


def test_unshuffle_and_mean():
    assert unshuffle([2, 0, 1], [9.0, 5.0, 1.0]) == [5.0, 1.0, 9.0]
    assert mean_ratings([[4.0, None], [6.0, None]]) == [5.0, None]
    assert mean_ratings([[4.0, 2.0], [None, 8.0]]) == [4.0, 5.0]


def test_order_agreement():
    assert order_agreement([1, 5, 9], [2, 6, 7]) == 1.0
    assert order_agreement([9, 3], [3, 9]) == 0.0
    assert order_agreement([5, 5, 1], [5, 4, 1]) == pytest.approx(2 / 3)
    assert order_agreement([5, None], [5, 6]) is None


def test_position_bias_is_exposed_and_cancelled_by_both_orders():
    judge = Judge(FirstPositionJudge(), JudgeConfig(both_orders=True))
    (a, b), = judge.judge([item()])
    assert a.ratings["readability"] == b.ratings["readability"] == 6.0  # 9 and 3, once each position
    assert a.agreement["readability"] == 0.0
    one_order = Judge(FirstPositionJudge(), JudgeConfig(both_orders=False)).judge([item()])[0]
    assert sorted(j.ratings["readability"] for j in one_order) == [3.0, 9.0]
    assert one_order[0].agreement["readability"] is None


def test_ratings_follow_responses_whatever_their_position():
    model = CommentJudge()
    judgements = Judge(model, JudgeConfig(both_orders=True)).judge([item(responses=(PLAIN, COMMENTED, VERY))])[0]
    assert [j.ratings["readability"] for j in judgements] == [comment_rating(r) for r in (PLAIN, COMMENTED, VERY)]
    assert judgements[0].agreement["readability"] == 1.0
    assert model.calls == 2  # one set, one preference, two orders
    firsts = [r.messages[-1]["content"].split("## Response A\n")[1].split("\n\n## ")[0] for r in model.requests]
    assert firsts[0] != firsts[1]  # the second order shows another response first


def test_score_is_weighted_normalised_rating():
    j = Judgement(ratings={"readability": 10.0, "style": 1.0, "complexity": None})
    assert j.score() == pytest.approx(0.5)
    assert j.score({"readability": 3.0}) == pytest.approx(0.75)
    assert Judgement(ratings={"style": None}).score() is None and Judgement(ratings={"style": None}).invalid


def test_unknown_preference_in_config_is_a_user_error():
    from codekiln.errors import UserError

    with pytest.raises(UserError, match="unknown judge preference"):
        Judge(CommentJudge(), JudgeConfig(preferences=["speed"]))
    with pytest.raises(UserError, match=r"unknown judge preference\(s\) \['readable'\]"):
        Judge(CommentJudge(), JudgeConfig(weights={"readable": 2.0}))


# -- retries, invalid answers, backend failures ------------------------------------------------------------

def test_unparseable_answer_is_retried_with_sampling():
    model = GreedyRambler()
    judgements = Judge(model, JudgeConfig(retries=1, both_orders=False)).judge([item(responses=(COMMENTED,))])[0]
    assert judgements[0].ratings["readability"] == comment_rating(COMMENTED)
    assert model.calls == 2


def test_never_parseable_becomes_invalid_without_stopping_the_batch():
    model = GreedyRambler()
    cfg = JudgeConfig(retries=0, both_orders=False)
    out = Judge(model, cfg).judge([item("a", (PLAIN,)), item("b", (COMMENTED,))])
    assert [j[0].invalid for j in out] == [True, True] and model.calls == 2


def test_backend_failure_is_invalid_not_a_crash():
    out = Judge(BrokenBackend(), JudgeConfig(retries=1)).judge([item(responses=(PLAIN,))])
    assert out[0][0].invalid


# -- cache -------------------------------------------------------------------------------------------------

def test_rerun_hits_the_cache_and_costs_nothing(tmp_path):
    items = [item("a"), item("b", (VERY, PLAIN), ("readability", "style"))]
    first_model = CommentJudge()
    cache = JudgeCache(tmp_path / "judge.sqlite")
    first = Judge(first_model, JudgeConfig(), cache).judge(items)
    cache.close()
    assert first_model.calls == 6 and cache.misses == 6

    again_model = CommentJudge()
    cache = JudgeCache(tmp_path / "judge.sqlite")  # a new process would open the file like this
    again = Judge(again_model, JudgeConfig(), cache).judge(items)
    assert again == first and again_model.calls == 0 and cache.hits == 6 and len(cache) == 6


def test_cache_key_covers_model_rubric_prompt_and_response(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    Judge(CommentJudge(), JudgeConfig(), cache).judge([item()])
    other_response = CommentJudge()
    Judge(other_response, JudgeConfig(), cache).judge([item(responses=(PLAIN, VERY))])
    assert other_response.calls == 2
    other_model = FirstPositionJudge()  # another judge model name
    Judge(other_model, JudgeConfig(), cache).judge([item()])
    assert other_model.calls == 2
    import codekiln.judge.run as run

    original = run.RUBRIC_VERSION
    run.RUBRIC_VERSION = "test-rubric/99"
    try:
        new_rubric = CommentJudge()
        Judge(new_rubric, JudgeConfig(), cache).judge([item()])
        assert new_rubric.calls == 2
    finally:
        run.RUBRIC_VERSION = original


# -- budget ------------------------------------------------------------------------------------------------

def test_budget_stops_clearly_and_rerun_resumes(tmp_path):
    items = [item(str(i), (PLAIN,)) for i in range(5)]
    cache = JudgeCache(tmp_path / "judge.sqlite")
    model = CommentJudge()
    with pytest.raises(BudgetExceeded, match=r"judge budget reached: 3 calls of verify.judge.max_calls=3"):
        Judge(model, JudgeConfig(max_calls=3), cache).judge(items)
    assert model.calls == 3 and len(cache) == 3
    resumed = CommentJudge()
    out = Judge(resumed, JudgeConfig(max_calls=2), cache).judge(items)  # 3 cached + 2 new fit in 2 calls
    assert resumed.calls == 2 and len(out) == 5


def test_token_budget():
    budget = Budget(max_tokens=100)
    budget.charge(60)
    budget.check()
    budget.charge(60)
    with pytest.raises(BudgetExceeded, match="120 tokens of verify.judge.max_total_tokens=100"):
        budget.check()


# -- the verifier ------------------------------------------------------------------------------------------

def open_task(tid, preference=None, split="test"):
    return Task(task_id=tid, kind="open", prompt="Write add(a, b).", split=split,
                meta={"preference": preference} if preference else {})


def test_verifier_verdicts_stream_in_job_order():
    cfg = VerifyConfig(judge=JudgeConfig(threshold=0.5, group_size=2))
    t1, t2 = open_task("o/1", "readability"), open_task("o/2")
    jobs = [(t1, Sample("o/1", PLAIN, "o/1#0")), (t2, Sample("o/2", VERY, "o/2#0")),
            (t1, Sample("o/1", VERY, "o/1#1"))]
    model = CommentJudge()
    seen = []
    verdicts = JudgeVerifier(cfg, judge=Judge(model, cfg.judge)).verify(jobs, lambda v: seen.append(v.sample_id))
    assert [v.sample_id for v in verdicts] == ["o/1#0", "o/2#0", "o/1#1"] and sorted(seen) == ["o/1#0", "o/1#1", "o/2#0"]
    assert [v.status for v in verdicts] == ["failed", "passed", "passed"]
    assert verdicts[0].score == pytest.approx((comment_rating(PLAIN) - 1) / 9)
    details = verdicts[1].judgement
    assert set(details.ratings) == set(cfg.judge.preferences)  # no task preference: all five
    assert list(verdicts[0].judgement.ratings) == ["readability"]
    assert details.judge == "comment-judge" and details.rubric
    assert verdicts[0].feedback.startswith("judge comment-judge: readability ")  # a line for people, not JSON
    # o/1's two samples were judged together, in both orders: 1 preference x 2 orders; o/2 alone: 5 x 1
    assert model.calls == 2 + 5


def test_verifier_marks_unjudgeable_samples_invalid():
    cfg = VerifyConfig(judge=JudgeConfig(retries=1))
    verdicts = JudgeVerifier(cfg, judge=Judge(BrokenBackend(), cfg.judge)).verify(
        [(open_task("o/1", "style"), Sample("o/1", PLAIN, "s"))])
    assert verdicts[0].status == "invalid" and not verdicts[0].passed


def test_judge_is_reached_through_the_registry():
    from codekiln.verify import get_verifier

    assert isinstance(get_verifier("open", VerifyConfig()), JudgeVerifier)


def test_combine_with_tests_keeps_test_status():
    test = Verdict("p/1", "s", "passed", True, score=1.0, feedback="4/4 tests")
    judged = Verdict("p/1", "s", "failed", False, score=0.2, feedback="judge j: style 2.8/10",
                     details={"judge": {"judge": "j", "ratings": {"style": 2.8}}})
    mixed = combine_verdicts(test, judged, weight=0.25)
    assert mixed.status == "passed" and mixed.score == pytest.approx(0.8)
    assert mixed.judgement.judge == "j" and mixed.judgement.ratings == {"style": 2.8}
    assert mixed.feedback == "4/4 tests\njudge j: style 2.8/10"
    invalid = Verdict("p/1", "s", "invalid", False)
    assert combine_verdicts(test, invalid, 0.5) == test


def test_judge_tested_mixes_scores_into_python_verdicts():
    task = Task("p/1", "python", "def add(a, b):\n", entry_point="add", test="def check(c): pass")
    samples = [Sample("p/1", "    return a + b", "p/1#0"), Sample("p/1", "    # sum\n    return a + b", "p/1#1")]
    tested = [Verdict("p/1", "p/1#0", "passed", True, 1.0), Verdict("p/1", "p/1#1", "passed", True, 1.0)]
    cfg = VerifyConfig(judge=JudgeConfig(preferences=["readability"], judge_weight=0.5))
    out = judge_tested([task], samples, tested, cfg, judge=Judge(CommentJudge(), cfg.judge))
    assert out[1].score > out[0].score and all(v.passed for v in out)


def test_an_answer_rating_more_responses_gets_more_tokens():
    class Budgeted(CommentJudge):
        def __init__(self) -> None:
            super().__init__()
            self.budgets: list[tuple[int, int]] = []  # (responses shown, max_tokens)

        def generate(self, requests, params):
            self.budgets += [(len(shown_responses(r)), params.max_tokens) for r in requests]
            return super().generate(requests, params)

    model = Budgeted()
    cfg = JudgeConfig(reply_tokens=50, both_orders=False)
    Judge(model, cfg).judge([item(key="four", responses=(PLAIN, COMMENTED, VERY, PLAIN + "\n")),
                             item(key="one", responses=(PLAIN,))])
    assert sorted(set(model.budgets)) == [(1, 50), (4, 200)]


def test_expected_rating_takes_longer_ratings_out_of_their_prefix():
    from codekiln.judge.run import expected_rating

    probs = [0.3, 0, 0, 0, 0, 0, 0, 0.5, 0, 0.1]  # "1" (0.3) includes "10" (0.1)
    assert expected_rating(probs) == pytest.approx((1 * 0.2 + 8 * 0.5 + 10 * 0.1) / 0.8)
    assert expected_rating([0.0] * 10) is None


class ProbableJudge(CommentJudge):
    """CommentJudge whose probabilities after the prefill put 0.6 on its written rating and 0.4 on the next one up."""

    name = "probable-judge"

    def __init__(self) -> None:
        super().__init__()
        self.probes = 0

    def choice_probs(self, request, options):
        self.probes += 1
        written = comment_rating(next(iter(shown_responses(request).values())))
        up = min(10, written + 1)
        probs = [0.6 * (o == str(written)) + 0.4 * (o == str(up)) for o in options]
        probs[0] += probs[9]  # "1" begins "10"
        return probs


def test_single_answers_get_the_expected_rating_and_groups_keep_the_written_one(tmp_path):
    model = ProbableJudge()
    cache = JudgeCache(tmp_path / "c.sqlite")
    judge = Judge(model, JudgeConfig(both_orders=True), cache)
    single = judge.judge([item(key="s", responses=(PLAIN,))])[0][0]
    assert single.ratings["readability"] == pytest.approx(0.6 * 1 + 0.4 * 2)  # PLAIN is written as 1
    pair = judge.judge([item(key="p")])[0]
    assert [j.ratings["readability"] for j in pair] == [comment_rating(PLAIN), comment_rating(COMMENTED)]
    assert model.probes == 1
    cached = ProbableJudge()
    again = Judge(cached, JudgeConfig(both_orders=True), cache).judge([item(key="s", responses=(PLAIN,))])
    assert again[0][0].ratings == single.ratings and cached.probes == 0  # from the cache
    off = Judge(ProbableJudge(), JudgeConfig(expected_rating=False)).judge([item(key="s", responses=(PLAIN,))])
    assert off[0][0].ratings["readability"] == comment_rating(PLAIN)
