"""The closing console table of `codekiln run`: one line per round."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from codekiln.runstats import Gain, PassK, RoundStats, paired_gain


def fmt_ci(p: PassK | None) -> str:
    if p is None:
        return "-"
    return f"{100 * p.value:.1f}% [{100 * p.low:.1f}, {100 * p.high:.1f}]"


def summary_table(rounds: list[RoundStats], final_round: int | None) -> Table:
    table = Table(title="codekiln run")
    for col in ("round", "samples", "pass rate", "SFT rows", "pairs", "loss", "held-out pass@1 [95% CI]"):
        table.add_column(col, justify="right")
    for s in rounds:
        label = "0 (base)" if s.round == 0 else str(s.round) + (" (final)" if s.round == final_round else "")
        table.add_row(
            label,
            str(s.samples) if s.samples else "-",
            f"{100 * s.pass_rate:.1f}%" if s.pass_rate is not None else "-",
            str(s.sft_rows) if s.round else "-",
            str(s.pairs) if s.round else "-",
            f"{s.loss:.3f}" if s.loss is not None else "-",
            fmt_ci(s.test_pass1()),
        )
    return table


def fmt_gain(gain: Gain) -> str:
    verdict = "outside the noise" if gain.significant else "within the noise"
    return (f"{100 * gain.value:+.1f} pts [{100 * gain.low:+.1f}, {100 * gain.high:+.1f}] (paired 95% CI over "
            f"{gain.tasks} tasks: {gain.better} better, {gain.worse} worse; {verdict})")


def print_summary(result) -> None:  # result: codekiln.loop.RunResult
    console = Console()
    if not console.is_terminal:  # a pipe or file: no need to squeeze the table into 80 columns
        console = Console(width=120)
    console.print(summary_table(result.rounds, result.final_round))
    lines = [f"stopped: {result.stop_reason}"]
    if result.final_round is not None:
        lines.append(f"final model: {result.root / 'final'} (round {result.final_round}; use it as --model)")
        final = next((s for s in result.rounds if s.round == result.final_round), None)
        gain = paired_gain(result.rounds[0], final) if final is not None and result.final_round else None
        if gain is not None:
            lines.append(f"held-out pass@1, final vs base: {fmt_gain(gain)}")
            if gain.value <= 0:
                lines.append("no trained round beat the base model on held-out pass@1: keep using the base model")
    if result.report is not None:
        lines.append(f"report: {result.report}")
    for line in lines:  # whole lines, never wrapped: paths are copied from here
        console.print(line, soft_wrap=True, markup=False, highlight=False)
