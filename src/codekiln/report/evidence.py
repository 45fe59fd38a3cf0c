"""The report's evidence sections: how `final` was chosen, base vs final on the extra task sets the loop never saw
(transfer, with paired intervals), the over-fitting and reward-hacking checks (codekiln.report.alarms), and judged
answers compared side by side with the base model's (codekiln.judge.compare)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from codekiln.report.alarms import alarms, model_points, no_alarm_text
from codekiln.report.charts import PALETTE, Series, line_chart
from codekiln.report.stats import (
    Gain,
    PassK,
    RoundStats,
    beats_base_on_val,
    extra_gain,
    metric_label,
    no_round_beat_base,
)


def _pct(p: PassK | None) -> str:
    return "-" if p is None else f"{100 * p.value:.1f}%"


def gain_text(gain: Gain | None) -> str:
    if gain is None:
        return "the base model itself"
    return (f"paired 95% CI [{100 * gain.low:+.1f}, {100 * gain.high:+.1f}] pts over {gain.tasks} tasks "
            f"({gain.better} better, {gain.worse} worse): "
            + ("the gain is outside the noise" if gain.value > 0 and gain.significant
               else "a real loss" if gain.significant else "within the noise"))


def selection_note(manifest: dict[str, Any], rounds: list[RoundStats], final: int | None) -> str:
    """How `final` was chosen, said plainly (an older run chose it on the split it reports)."""
    if final is None:
        return ""
    if manifest.get("selection_split") != "val":
        return ("final was chosen on the test split (a run made before validation splits): its test figure is "
                "the best of several noisy estimates on the same tasks, optimistic by construction")
    metric = manifest.get("selection_metric", "pass@1")
    chosen = next((s.val_metric(metric) for s in rounds if s.round == final), None)
    base = rounds[0].val_metric(metric) if rounds else None
    shown = (f"{chosen.value:.3f}; base {base.value:.3f}" if metric == "score" and chosen and base
             else f"{_pct(chosen)}; base {_pct(base)}")
    note = (f"final = round {final}, chosen on validation {metric_label(metric)} ({shown}) over "
            f"{manifest.get('data', {}).get('val_tasks', '?')} validation tasks never trained on; the test split "
            "and the extra sets only report, they never decided anything")
    final_stats = next((s for s in rounds if s.round == final), None)
    if rounds and final_stats is not None and not beats_base_on_val(rounds[0], final_stats, metric):
        advice = no_round_beat_base(metric)
        note += f". {advice[0].upper()}{advice[1:]}"
    return note


def transfer_section(manifest: dict[str, Any], rounds: list[RoundStats], final: int | None) -> str:
    final_stats = next((s for s in rounds if s.round == final), None) if final else None
    if final_stats is None or not rounds:
        return '<div class="card"><p class="note">No trained final model: nothing to compare.</p></div>'
    names = sorted(set(rounds[0].extra) & set(final_stats.extra))
    if not names:
        return '<div class="card"><p class="note">No extra task set was evaluated (eval.extra).</p></div>'
    specs = manifest.get("data", {}).get("extra", {})
    rows = []
    for name in names:
        base, last = rounds[0].extra[name].pass1(), final_stats.extra[name].pass1()
        gain = extra_gain(rounds[0], final_stats, name)
        spec = specs.get(name, {}).get("spec", name)
        change = f"{100 * gain.value:+.1f} pts" if gain else "-"
        cls = "up" if gain and gain.value > 0 else "down" if gain and gain.value < 0 else ""
        shown = f' <span class="note">{escape(str(spec))}</span>' if spec != name else ""
        rows.append(f'<tr class="transfer"><td>{escape(name)}{shown}</td>'
                    f"<td>{base.tasks if base else '-'}</td><td>{_pct(base)}</td><td>{_pct(last)}</td>"
                    f'<td class="{cls}">{change}</td><td>{escape(gain_text(gain))}</td></tr>')
    return (f'<div class="card"><table><tr><th>task set</th><th>tasks</th><th>base pass@1</th>'
            f"<th>final (round {final}) pass@1</th><th>change</th><th>paired 95% CI</th></tr>{''.join(rows)}</table>"
            '<p class="note">Does the gain carry over to tasks of the same kind the loop never sampled, trained on or '
            "decided on? Same evaluation settings as the test split.</p></div>")


def _share(counts: tuple[int, int] | None) -> float | None:
    return counts[0] / counts[1] if counts and counts[1] else None


def alarm_section(rounds: list[RoundStats]) -> str:
    points = model_points(rounds)
    xs = [float(p.model) for p in points]
    fit = line_chart("overfit", [
        Series("validation pass@1", xs, [p.val_pass1 for p in points], color=PALETTE[0]),
        Series("train pass rate (fresh train tasks, sampling temperature)", xs, [p.train_rate for p in points],
               color=PALETTE[2], dashed=True),
    ], x_label="model (0 = base, R = trained in round R)", y_label="pass rate", y_min=0.0, percent=True, x_ticks=xs)
    invalid = line_chart("invalid", [
        Series("invalid share, train samples", xs, [_share(p.train_invalid) for p in points]),
        Series("invalid share, validation", xs, [_share(p.val_invalid) for p in points]),
    ], x_label="model (0 = base, R = trained in round R)", y_label="share of invalid verdicts", y_min=0.0,
        percent=True, x_ticks=xs)
    found = alarms(rounds)
    lines = "".join(f'<div class="alarm">{escape(a.text)}</div>' for a in found) or \
        f'<div class="ok">{escape(no_alarm_text(rounds))}</div>'
    note = ("<p class=\"note\">Over-fitting: a model whose pass rate on fresh train tasks rises while its validation "
            "pass@1 falls is fitting the training distribution's surface, not the skill. Reward hacking: "
            "<code>invalid</code> verdicts are programs their check refused (that tried to forge or escape it; for "
            "SQL, anything but one read-only query, which includes several statements in one reply); a rising share "
            "means training may be rewarding the attempt: open the verdicts' feedback to see which. Nothing is decided on these; they are said so you can look.</p>")
    return f'<div class="card">{lines}<div class="charts">{fit}{invalid}</div>{note}</div>'


def judged_section(root: Path) -> str:
    """Each round's answers judged beside the base model's (both orders): per preference, on validation and test."""
    from codekiln.judge.compare import VERSUS_BASE, format_comparison

    blocks = []
    for folder in sorted(root.glob(f"round-*/*/{VERSUS_BASE}"), key=lambda p: (int(p.parent.parent.name[6:]), p)):
        split = {"val": "validation (decides)", "eval": "test (reported)"}.get(folder.parent.name, folder.parent.name)
        summary = json.loads(folder.read_text(encoding="utf-8"))
        blocks.append(f"<h3>{escape(folder.parent.parent.name)} vs base on {escape(split)}, judged by "
                      f"{escape(str(summary.get('judge', '?')))}</h3><pre>{escape(format_comparison(summary))}</pre>")
    if not blocks:
        return ""
    note = ("<p class=\"note\">Each task's base answer and the round's answer are rated together, once in each order; "
            "an answer's rating is the mean of the two, so a judge that favours a position gives ties. Intervals: "
            "95% paired bootstrap over tasks.</p>")
    return f"<h2>Judged beside the base model</h2><div class=\"card\">{''.join(blocks)}{note}</div>"
