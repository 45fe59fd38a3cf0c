"""The closing console table of `codekiln run`: one line per round, then base vs final on test and on each extra set
(paired intervals), and the over-fitting and reward-hacking alarms."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from codekiln.report.alarms import alarms, no_alarm_text
from codekiln.report.stats import (
    Gain,
    PassK,
    RoundStats,
    beats_base_on_val,
    extra_gain,
    metric_label,
    no_round_beat_base,
    paired_gain,
)


def fmt_ci(p: PassK | None) -> str:
    if p is None:
        return "-"
    return f"{100 * p.value:.1f}% [{100 * p.low:.1f}, {100 * p.high:.1f}]"


def summary_table(rounds: list[RoundStats], final_round: int | None) -> Table:
    table = Table(title="codekiln run",
                  caption="validation decides (stopping, final); test is reported only, never used for a decision")
    scored = any(s.test_score is not None or (s.val is not None and s.val.score is not None) for s in rounds)
    versus = any(s.val_vs_base is not None for s in rounds)
    for col in ("round", "samples", "train pass rate", "SFT rows", "pairs", "loss", "val pass@1 [95% CI]",
                "test pass@1 [95% CI] (reported)", *(("val score", "test score (reported)") if scored else ()),
                *(("val vs base (judged)",) if versus else ())):
        table.add_column(col, justify="right")
    for s in rounds:
        label = "0 (base)" if s.round == 0 else str(s.round) + (" (final)" if s.round == final_round else "")
        scores = (fmt_score(s.val.score if s.val else None), fmt_score(s.test_score)) if scored else ()
        table.add_row(
            label,
            str(s.samples) if s.samples else "-",
            _train_rate(s),
            str(s.sft_rows) if s.round and not s.online else "-",
            str(s.pairs) if s.round and not s.online else "-",
            f"{s.loss:.3f}" if s.loss is not None else "-",
            fmt_ci(s.val_pass1()),
            fmt_ci(s.test_pass1()),
            *scores,
            *((fmt_points(s.val_metric("vs-base")),) if versus else ()),
        )
    return table


def _train_rate(s: RoundStats) -> str:
    """The train pass rate of the round's samples; an online round's mean reward during training instead."""
    if s.online:
        return f"reward {s.mean_reward:.3f}" if s.mean_reward is not None else "-"
    return f"{100 * s.pass_rate:.1f}%" if s.pass_rate is not None else "-"


def fmt_score(p: PassK | None) -> str:
    """A graded mean score (html) with its interval, on the 0-1 scale."""
    return "-" if p is None else f"{p.value:.3f} [{p.low:.3f}, {p.high:.3f}]"


def fmt_points(p: PassK | None) -> str:
    """A rating difference (judge points, 1-10 scale) with its interval."""
    return "-" if p is None else f"{p.value:+.2f} [{p.low:+.2f}, {p.high:+.2f}]"


def fmt_gain(gain: Gain) -> str:
    verdict = "outside the noise" if gain.significant else "within the noise"
    return (f"{100 * gain.value:+.1f} pts [{100 * gain.low:+.1f}, {100 * gain.high:+.1f}] (paired 95% CI over "
            f"{gain.tasks} tasks: {gain.better} better, {gain.worse} worse; {verdict})")


def summary_lines(rounds: list[RoundStats], final_round: int | None, metric: str = "pass@1") -> list[str]:
    """The lines under the table: base vs final on test and on each extra set, then every alarm."""
    lines = []
    final = next((s for s in rounds if s.round == final_round), None) if final_round else None
    shown = {"score": fmt_score, "vs-base": fmt_points}.get(metric, fmt_ci)
    if final is not None and rounds:
        base = rounds[0]
        lines.append(f"final = round {final_round}, chosen on validation {metric_label(metric)} "
                     f"({shown(final.val_metric(metric))}; base {shown(base.val_metric(metric))})")
        if not beats_base_on_val(base, final, metric):
            lines.append(no_round_beat_base(metric))
        gain = paired_gain(base, final)
        if gain is not None:
            lines.append(f"test pass@1, final vs base: {fmt_gain(gain)}")
        if final.test_vs_base is not None:
            lines.append(f"test, final judged beside base (both orders): {fmt_points(final.test_vs_base)} rating "
                         f"points over {final.test_vs_base.tasks} tasks")
        for name in sorted(final.extra):
            extra = extra_gain(base, final, name)
            if extra is not None:
                lines.append(f"transfer to {name} (never seen by the loop), final vs base: "
                             f"{fmt_ci(base.extra[name].pass1())} → {fmt_ci(final.extra[name].pass1())}, "
                             f"{fmt_gain(extra)}")
    found = alarms(rounds)
    lines += [f"warning: {alarm.text}" for alarm in found]
    if not found and len(rounds) > 1:
        lines.append(no_alarm_text(rounds))
    return lines


def print_summary(result) -> None:  # result: codekiln.loop.RunResult
    console = Console()
    if not console.is_terminal:  # a pipe or file: no need to squeeze the table into 80 columns
        console = Console(width=140)
    console.print(summary_table(result.rounds, result.final_round))
    lines = [f"stopped: {result.stop_reason}"]
    if result.final_round is not None:
        lines.append(f"final model: {result.root / 'final'} (round {result.final_round}; use it as --model)")
    lines += summary_lines(result.rounds, result.final_round, result.selection_metric)
    if result.report is not None:
        lines.append(f"report: {result.report}")
    for line in lines:  # whole lines, never wrapped: paths are copied from here
        console.print(line, soft_wrap=True, markup=False, highlight=False)
