"""Over-fitting and reward-hacking alarms of a run, model by model (0 = base, m = the model trained in round m).

Two measures are lined up on the same model: its **train pass rate** (the share of passing samples it drew for the
next round's fresh train tasks, at the sampling temperature: round m+1's verdicts) and its **validation pass@1**.
- Over-fitting: from one model to the next, the train pass rate rose while validation pass@1 fell.
- Reward hacking: the share of `invalid` verdicts (a program its check refused: one that tried to forge or escape
  it; for SQL, anything but one read-only query) rose, on the
  train samples or on validation.
Each alarm says what moved, from what to what. The console table and the report print them; nothing decides on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codekiln.report.stats import RoundStats


@dataclass(frozen=True)
class ModelPoint:
    """The figures of one model that the alarms compare (None: not measured, e.g. the last model drew no samples)."""

    model: int
    train_rate: float | None
    train_invalid: tuple[int, int] | None
    """(invalid verdicts, samples) of the train samples this model drew."""
    val_pass1: float | None
    val_invalid: tuple[int, int] | None
    """(invalid verdicts, samples) of this model's validation evaluation."""


@dataclass(frozen=True)
class Alarm:
    kind: str
    """`overfit` or `invalid`."""
    model: int
    """The later of the two models compared."""
    text: str


def model_name(m: int) -> str:
    return "the base model" if m == 0 else f"round {m}'s model"


def model_points(rounds: Sequence[RoundStats]) -> list[ModelPoint]:
    by_round = {s.round: s for s in rounds}
    points = []
    for m in sorted(by_round):
        drew = by_round.get(m + 1)  # round m+1 sampled its train tasks from model m
        sampled = drew is not None and drew.samples > 0
        val = by_round[m].val
        p1 = val.pass1() if val else None
        points.append(ModelPoint(
            m,
            drew.pass_rate if sampled and drew else None,
            (drew.train_status.get("invalid", 0), drew.samples) if sampled and drew else None,
            p1.value if p1 else None,
            (val.status.get("invalid", 0), sum(val.status.values())) if val else None))
    return points


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _share(counts: tuple[int, int]) -> float:
    return counts[0] / counts[1] if counts[1] else 0.0


def checks(rounds: Sequence[RoundStats]) -> tuple[int, int]:
    """How many comparisons the alarms could make: (over-fitting model pairs, invalid-share pairs)."""
    points = model_points(rounds)
    overfit = invalid = 0
    for a, b in zip(points, points[1:], strict=False):
        overfit += None not in (a.train_rate, b.train_rate, a.val_pass1, b.val_pass1)
        invalid += (a.train_invalid is not None and b.train_invalid is not None) + \
            (a.val_invalid is not None and b.val_invalid is not None)
    return overfit, invalid


def no_alarm_text(rounds: Sequence[RoundStats]) -> str:
    """What was checked when no alarm fired (so 'no sign' is never said of a check that could not be made)."""
    overfit, invalid = checks(rounds)
    first = (f"no over-fitting sign (train pass rate vs validation pass@1, {overfit} pair(s) of models)" if overfit
             else "over-fitting not checked (the train pass rate of two models needs 2 or more rounds)")
    second = (f"no rise in invalid verdicts ({invalid} comparison(s))" if invalid
              else "invalid verdicts not compared (needs 2 or more evaluated models)")
    return f"{first}; {second}"


def alarms(rounds: Sequence[RoundStats]) -> list[Alarm]:
    """Every over-fitting and reward-hacking sign between consecutive models, in model order."""
    out: list[Alarm] = []
    points = model_points(rounds)
    for before, after in zip(points, points[1:], strict=False):
        span = f"from {model_name(before.model)} to {model_name(after.model)}"
        t0, t1, v0, v1 = before.train_rate, after.train_rate, before.val_pass1, after.val_pass1
        if t0 is not None and t1 is not None and v0 is not None and v1 is not None and t1 > t0 and v1 < v0:
            out.append(Alarm("overfit", after.model, (
                f"over-fitting sign: {span}, the train pass rate rose {_pct(t0)} → {_pct(t1)} (fresh train tasks at "
                f"the sampling temperature) while validation pass@1 fell {_pct(v0)} → {_pct(v1)}")))
        for where, a, b in (("train samples", before.train_invalid, after.train_invalid),
                            ("validation samples", before.val_invalid, after.val_invalid)):
            if a is not None and b is not None and _share(b) > _share(a):
                out.append(Alarm("invalid", after.model, (
                    f"reward-hacking sign: {span}, the share of invalid verdicts (programs their check refused: "
                    f"tried to forge or escape it; for SQL, anything but one read-only query) rose "
                    f"{_pct(_share(a))} ({a[0]}/{a[1]}) → {_pct(_share(b))} ({b[0]}/{b[1]}) "
                    f"of {where}")))
    return out
