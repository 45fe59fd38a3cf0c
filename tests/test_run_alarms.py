"""Over-fitting and reward-hacking alarms, from constructed round figures: what fires, what does not, and that the
console lines and the report's section say it."""

from codekiln.report.alarms import alarms, model_points, no_alarm_text
from codekiln.report.console import summary_lines
from codekiln.report.evidence import alarm_section, selection_note
from codekiln.report.stats import PassK, RoundStats, SetStats, no_round_beat_base


def _val(p1: float, invalid: int = 0, samples: int = 10) -> SetStats:
    passed = round(p1 * samples)
    return SetStats([PassK(1, p1, p1, p1, samples)],
                    {"passed": passed, "failed": samples - passed - invalid, "invalid": invalid}, {})


def _round(r: int, val: SetStats, passed: int = 0, invalid: int = 0, samples: int = 10) -> RoundStats:
    """Round r: its train verdicts (drawn by model r - 1) and its model's validation figures."""
    status = {"passed": passed, "failed": samples - passed - invalid, "invalid": invalid} if r else {}
    return RoundStats(round=r, samples=samples if r else 0, passed=passed if r else 0, train_status=status, val=val)


def _run(train: list[tuple[int, int]], val: list[tuple[float, int]]) -> list[RoundStats]:
    """train[m] = (passed, invalid) of 10 train samples drawn by model m; val[m] = (pass@1, invalid of 10)."""
    rounds = []
    for r, (p1, bad) in enumerate(val):
        passed, invalid = train[r - 1] if r else (0, 0)
        rounds.append(_round(r, _val(p1, bad), passed, invalid))
    return rounds


def test_model_points_line_up_train_samples_with_the_model_that_drew_them():
    points = model_points(_run(train=[(2, 0), (4, 0)], val=[(0.5, 0), (0.3, 0), (0.4, 0)]))
    assert [(p.model, p.train_rate, p.val_pass1) for p in points] == [(0, 0.2, 0.5), (1, 0.4, 0.3), (2, None, 0.4)]


def test_train_up_while_validation_down_is_an_over_fitting_alarm():
    found = alarms(_run(train=[(2, 0), (4, 0)], val=[(0.5, 0), (0.3, 0), (0.4, 0)]))
    assert [(a.kind, a.model) for a in found] == [("overfit", 1)]
    assert found[0].text == ("over-fitting sign: from the base model to round 1's model, the train pass rate rose "
                             "20.0% → 40.0% (fresh train tasks at the sampling temperature) while validation pass@1 "
                             "fell 50.0% → 30.0%")
    # Both rising, both falling, or train falling while validation rises: no alarm.
    for train, val in (([(2, 0), (4, 0)], [(0.3, 0), (0.5, 0)]), ([(4, 0), (2, 0)], [(0.5, 0), (0.3, 0)]),
                       ([(4, 0), (2, 0)], [(0.3, 0), (0.5, 0)]), ([(2, 0), (2, 0)], [(0.5, 0), (0.3, 0)])):
        assert alarms(_run(train, val + [(0.1, 0)])) == [], (train, val)


def test_a_rising_share_of_invalid_verdicts_is_a_reward_hacking_alarm():
    found = alarms(_run(train=[(2, 1), (2, 3)], val=[(0.5, 0), (0.5, 2), (0.5, 1)]))
    assert [(a.kind, a.model) for a in found] == [("invalid", 1), ("invalid", 1)]
    assert found[0].text.endswith("the share of invalid verdicts (programs their check refused: tried to forge or "
                                  "escape it; for SQL, anything but one read-only query) rose 10.0% (1/10) → 30.0% "
                                  "(3/10) of train samples")
    assert found[1].text.endswith("rose 0.0% (0/10) → 20.0% (2/10) of validation samples")
    assert alarms(_run(train=[(2, 3), (2, 1)], val=[(0.5, 2), (0.5, 2)])) == []  # falling or flat: none


def test_console_lines_and_report_say_the_alarms():
    rounds = _run(train=[(2, 0), (4, 2)], val=[(0.5, 0), (0.3, 0), (0.4, 0)])
    lines = summary_lines(rounds, final_round=None)
    assert [line.split(":")[0] for line in lines] == ["warning", "warning"]
    assert "over-fitting sign: from the base model to round 1's model" in lines[0]
    assert "reward-hacking sign: from the base model to round 1's model" in lines[1] and "(2/10)" in lines[1]
    html = alarm_section(rounds)
    assert html.count('<div class="alarm">') == 2 and 'data-chart="overfit"' in html and 'data-chart="invalid"' in html
    assert "round 1&#x27;s model, the train pass rate rose 20.0% → 40.0%" in html


def test_no_alarm_says_what_was_compared():
    quiet = _run(train=[(2, 0), (3, 0)], val=[(0.3, 0), (0.5, 0), (0.6, 0)])
    assert no_alarm_text(quiet) == ("no over-fitting sign (train pass rate vs validation pass@1, 1 pair(s) of models); "
                                    "no rise in invalid verdicts (3 comparison(s))")
    assert summary_lines(quiet, None) == [no_alarm_text(quiet)]
    assert '<div class="ok">no over-fitting sign' in alarm_section(quiet)
    one_round = _run(train=[(2, 0)], val=[(0.3, 0), (0.5, 0)])
    assert no_alarm_text(one_round).startswith("over-fitting not checked (the train pass rate of two models needs 2 "
                                               "or more rounds)")


def _with_test(stats: RoundStats, per_task: dict[str, float]) -> RoundStats:
    return RoundStats(round=stats.round, samples=stats.samples, passed=stats.passed, train_status=stats.train_status,
                      val=stats.val, test_per_task=per_task)


def test_advice_to_keep_the_base_model_follows_validation_not_test():
    tasks = [f"t{i}" for i in range(10)]
    # Validation fell under the base while test rose: the advice is to keep the base model.
    fell = _run(train=[(2, 0)], val=[(0.5, 0), (0.3, 0)])
    fell = [_with_test(fell[0], dict.fromkeys(tasks, 0.0)), _with_test(fell[1], dict.fromkeys(tasks, 1.0))]
    lines = summary_lines(fell, final_round=1)
    assert no_round_beat_base() in lines and any(line.startswith("test pass@1, final vs base: +100.0 pts") for line in lines)
    assert "No trained round beat the base model on validation" in selection_note({"selection_split": "val"}, fell, 1)
    # Validation rose while test fell: no such advice (test reports, it does not decide).
    rose = _run(train=[(2, 0)], val=[(0.3, 0), (0.5, 0)])
    rose = [_with_test(rose[0], dict.fromkeys(tasks, 1.0)), _with_test(rose[1], dict.fromkeys(tasks, 0.0))]
    lines = summary_lines(rose, final_round=1)
    assert no_round_beat_base() not in lines and any(line.startswith("test pass@1, final vs base: -100.0 pts")
                                                   for line in lines)
    assert "base model" not in selection_note({"selection_split": "val"}, rose, 1).split("; the test split")[-1]


def test_a_graded_run_is_judged_on_its_validation_score():
    """pass@1 rose while the mean score fell: a run that selects on the score says so, one on pass@1 does not."""
    rounds = _run(train=[(2, 0)], val=[(0.3, 0), (0.5, 0)])
    scores = (0.62, 0.41)
    rounds = [RoundStats(round=s.round, samples=s.samples, passed=s.passed, train_status=s.train_status,
                         val=SetStats(s.val.passk, s.val.status, {}, PassK(0, x, x - 0.1, x + 0.1, 10)))
              for s, x in zip(rounds, scores, strict=True)]
    on_score = summary_lines(rounds, final_round=1, metric="score")
    assert on_score[0] == "final = round 1, chosen on validation mean score (0.410 [0.310, 0.510]; base 0.620 [0.520, 0.720])"
    assert no_round_beat_base("score") in on_score
    assert "chosen on validation mean score (0.410; base 0.620)" in selection_note(
        {"selection_split": "val", "selection_metric": "score"}, rounds, 1)
    on_pass1 = summary_lines(rounds, final_round=1)
    assert on_pass1[0].startswith("final = round 1, chosen on validation pass@1 (50.0%")
    assert no_round_beat_base() not in on_pass1
