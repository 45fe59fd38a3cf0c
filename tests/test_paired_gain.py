"""The paired bootstrap of a held-out change between two rounds: tasks are matched by id, and the interval
excludes zero only when the change is consistent across tasks."""

from __future__ import annotations

from codekiln.records import Verdict
from codekiln.report.stats import RoundStats, paired_gain, per_task_pass1


def _round(r: int, passed: dict[str, bool]) -> RoundStats:
    verdicts = [Verdict(task_id=t, sample_id=f"{t}#r{r}s0", status="passed" if ok else "failed", passed=ok,
                        score=float(ok)) for t, ok in passed.items()]
    return RoundStats(round=r, test_per_task=per_task_pass1(verdicts))


def test_tasks_are_matched_by_id_not_position():
    base = _round(0, {f"t{i}": i < 10 for i in range(40)})
    after = _round(1, dict(reversed(list({f"t{i}": i < 10 for i in range(40)}.items()))))
    gain = paired_gain(base, after)
    assert gain is not None and gain.value == 0 and (gain.better, gain.worse) == (0, 0)
    assert not gain.significant


def test_consistent_gain_is_significant_and_mixed_change_is_not():
    base = _round(0, {f"t{i}": i < 10 for i in range(100)})
    up = _round(1, {f"t{i}": i < 25 for i in range(100)})  # 15 more tasks solved, none lost
    gain = paired_gain(base, up)
    assert gain is not None and abs(gain.value - 0.15) < 1e-9 and gain.better == 15 and gain.worse == 0
    assert gain.significant and gain.low > 0
    mixed = _round(1, {f"t{i}": 5 <= i < 17 for i in range(100)})  # 7 gained, 5 lost: net +2
    gain = paired_gain(base, mixed)
    assert gain is not None and (gain.better, gain.worse) == (7, 5) and not gain.significant


def test_no_common_tasks_gives_none():
    assert paired_gain(_round(0, {"a": True}), _round(1, {"b": True})) is None


def test_extra_set_gain_is_paired_on_that_set_only():
    from codekiln.report.stats import SetStats, extra_gain

    def with_extra(r: int, test: dict[str, bool], extra: dict[str, bool] | None) -> RoundStats:
        stats = _round(r, test)
        if extra is not None:
            stats.extra["he"] = SetStats([], {}, {t: float(ok) for t, ok in extra.items()})
        return stats

    base = with_extra(0, {f"t{i}": i < 50 for i in range(100)}, {f"h{i}": i < 10 for i in range(60)})
    final = with_extra(2, {f"t{i}": i < 50 for i in range(100)}, {f"h{i}": i < 30 for i in range(60)})
    gain = extra_gain(base, final, "he")
    assert gain is not None and abs(gain.value - 20 / 60) < 1e-9 and (gain.better, gain.worse, gain.tasks) == (20, 0, 60)
    assert gain.significant
    test_gain = paired_gain(base, final)  # the test split is unchanged: its interval is its own
    assert test_gain is not None and test_gain.value == 0 and not test_gain.significant
    assert extra_gain(base, with_extra(2, {}, None), "he") is None  # the final model was not evaluated on it
