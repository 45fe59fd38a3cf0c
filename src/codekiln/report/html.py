"""`report.html` of a run: one self-contained file (inline SVG and CSS, no scripts, no external resources).

Sections: the headline (base vs final test pass@1 with the paired interval, how `final` was chosen, and base vs final
on each extra task set the loop never saw), pass@k per round on validation (decides), test (reported) and train, the
over-fitting and reward-hacking checks (train pass rate vs validation pass@1, invalid verdicts), the data funnel per
round, training loss and reward-margin curves, the verdict status mix, stage timings, and a few example tasks with
the base and the final model's programs side by side.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from codekiln.records import STATUSES, Sample, Verdict, read_jsonl_resumable
from codekiln.report.charts import STATUS_COLORS, Series, grouped_bars, line_chart, stacked_bars
from codekiln.report.evidence import (
    alarm_section,
    gain_text,
    judged_section,
    selection_note,
    transfer_section,
)
from codekiln.report.stats import PassK, RoundStats, paired_gain, run_stats

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111827;margin:0;background:#f3f4f6}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d1d5db;padding-bottom:4px}
.meta{color:#4b5563;font-size:13px} .card{background:#fff;border-radius:8px;padding:16px;margin:12px 0;
box-shadow:0 1px 2px rgba(0,0,0,.06)} .headline{display:flex;gap:24px;flex-wrap:wrap}
.kpi{min-width:180px} .kpi b{display:block;font-size:26px} .kpi span{color:#4b5563;font-size:12px}
.up{color:#059669} .down{color:#dc2626} table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:right} th:first-child,td:first-child{text-align:left}
svg{max-width:100%;height:auto;font-family:inherit} .grid{stroke:#e5e7eb} .tick{font-size:11px;fill:#4b5563}
.axis{font-size:12px;fill:#374151} .lg{font-size:12px;fill:#111827} .val{font-size:10px;fill:#374151}
.inbar{font-size:11px;fill:#fff} .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:12px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px} pre{background:#0f172a;color:#e2e8f0;padding:10px;
border-radius:6px;overflow:auto;font-size:12px;max-height:360px;margin:4px 0;white-space:pre-wrap}
.prompt{background:#f9fafb;color:#111827;border:1px solid #e5e7eb} .badge{display:inline-block;padding:1px 8px;
border-radius:10px;font-size:12px;color:#fff} .note{color:#6b7280;font-size:12px}
.alarm{background:#fef2f2;border-left:4px solid #dc2626;padding:6px 10px;margin:6px 0}
.ok{background:#f0fdf4;border-left:4px solid #059669;padding:6px 10px;margin:6px 0}
"""


def write_report(root: Path, out: Path | None = None, examples: int = 4) -> Path:
    """Render the report of the run in `root` to `out` (default `root/report.html`), atomically."""
    root = Path(root)
    html = render_report(root, examples)
    out = out or root / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def render_report(root: Path, examples: int = 4) -> str:
    manifest = _read_json(root / "manifest.json")
    rounds = run_stats(root, int(_config(root).get("eval", {}).get("bootstrap", 1000)))
    final = _final_round(manifest)
    body = [
        _header(manifest, rounds, final),
        "<h2>Transfer: base vs final on task sets the loop never saw</h2>",
        transfer_section(manifest, rounds, final),
        "<h2>pass@k per round</h2>",
        _passk_section(rounds),
        _score_section(rounds),
        judged_section(root),
        "<h2>Over-fitting and reward-hacking checks</h2>",
        alarm_section(rounds),
        "<h2>Data funnel per round</h2>",
        _funnel_section(rounds),
        "<h2>Training</h2>",
        _training_section(rounds),
        "<h2>Verdict status mix</h2>",
        _status_section(rounds),
        "<h2>Rounds and stage timings</h2>",
        _timings_section(manifest, rounds),
        "<h2>Examples: base vs final model on test tasks</h2>",
        _examples_section(root, final, examples),
        _ui_screenshots(root, final),
    ]
    title = f"codekiln run {escape(str(manifest.get('name', root.name)))}"
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _config(root: Path) -> dict[str, Any]:
    import yaml

    path = root / "config.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def _final_round(manifest: dict[str, Any]) -> int | None:
    final = manifest.get("final")
    return int(final.split("/")[0].split("-")[1]) if final else None


def _pct(p: PassK | None) -> str:
    return "-" if p is None else f"{100 * p.value:.1f}%"


def _ci(p: PassK | None) -> str:
    return "" if p is None else f"95% CI [{100 * p.low:.1f}, {100 * p.high:.1f}] over {p.tasks} tasks"


def _header(manifest: dict[str, Any], rounds: list[RoundStats], final: int | None) -> str:
    code = manifest.get("code", {})
    model = manifest.get("model", {})
    data = manifest.get("data", {})
    base = rounds[0].test_pass1() if rounds else None
    best = next((s.test_pass1() for s in rounds if s.round == final), None)
    kpis = [f'<div class="kpi"><span>base model, test pass@1</span><b>{_pct(base)}</b><span>{_ci(base)}</span></div>']
    if best is not None and base is not None:
        diff = best.value - base.value
        rel = f" ({100 * diff / base.value:+.0f}% relative)" if base.value > 0 else ""
        final_stats = next(s for s in rounds if s.round == final)
        verdict = gain_text(paired_gain(rounds[0], final_stats) if final else None)
        kpis.append(f'<div class="kpi"><span>final model (round {final}), test pass@1</span><b>{_pct(best)}</b>'
                    f'<span>{_ci(best)}</span></div>')
        kpis.append(f'<div class="kpi"><span>change on test</span><b class="{"up" if diff > 0 else "down" if diff < 0 else ""}">'
                    f'{100 * diff:+.1f} pts</b><span>{rel.strip(" ()")}{" · " if rel else ""}{verdict}</span></div>')
    commit = code.get("commit") or "not a git checkout"
    dirty = " (uncommitted changes)" if code.get("dirty") else ""
    val = f"{data['val_tasks']} validation / " if "val_tasks" in data else ""
    meta = (f"model <b>{escape(str(model.get('spec', '?')))}</b> · tasks <b>{escape(str(data.get('tasks', '?')))}</b> "
            f"({data.get('train_tasks', '?')} train / {val}{data.get('test_tasks', '?')} test) · "
            f"code {escape(str(code.get('version', '')))} {escape(commit[:12])}{dirty} · created "
            f"{escape(str(manifest.get('created', '')))}")
    stop = manifest.get("stop_reason")
    selection = selection_note(manifest, rounds, final)
    return (f"<h1>codekiln run {escape(str(manifest.get('name', '')))}</h1><div class=\"meta\">{meta}</div>"
            f"<div class=\"card headline\">{''.join(kpis)}</div>"
            + (f"<div class=\"meta selection\">{escape(selection)}</div>" if selection else "")
            + (f"<div class=\"meta\">stopped: {escape(stop)}</div>" if stop else ""))


def _passk_section(rounds: list[RoundStats]) -> str:
    xs = [float(s.round) for s in rounds]
    ks = sorted({p.k for s in rounds for p in s.test_passk + s.train_passk + (s.val.passk if s.val else [])})
    series = []
    for k in ks:
        val = [next((p for p in s.val.passk if p.k == k), None) if s.val else None for s in rounds]
        if any(val):
            series.append(Series(f"validation pass@{k} (decides)", xs, [p.value if p else None for p in val],
                                 [(p.low, p.high) if p else None for p in val]))
    for k in ks:
        test = [next((p for p in s.test_passk if p.k == k), None) for s in rounds]
        if any(test):
            series.append(Series(f"test pass@{k} (reported)", xs, [p.value if p else None for p in test],
                                 [(p.low, p.high) if p else None for p in test]))
    for k in ks:
        # Round R's train samples were drawn by the model it started from: plot them at that model (R - 1).
        train = [next((p for p in s.train_passk if p.k == k), None) for s in rounds]
        if any(train):
            series.append(Series(f"train pass@{k}", [x - 1 for x in xs], [p.value if p else None for p in train],
                                 [(p.low, p.high) if p else None for p in train], dashed=True))
    chart = line_chart("passk", series, x_label="model (0 = base, R = trained in round R)", y_label="pass@k",
                       y_max=1.0, y_min=0.0, percent=True, x_ticks=xs, width=900, height=340, dodge=7.0)
    note = ("<p class=\"note\">Validation: tasks carved from the train split (or the suite's own val split), never "
            "trained on; the stopping rule and the choice of the final round read it alone. Test: the held-out split, "
            "reported only. Both at the evaluation temperature. Train: the next round's samples of its fresh train "
            "tasks, at the sampling temperature, so the last model has no train point. Error bars: 95% bootstrap over "
            "tasks.</p>")
    return f'<div class="card">{chart}{note}</div>'


SCORE_BINS = 10


def _score_section(rounds: list[RoundStats]) -> str:
    """Graded scores (html): mean validation and test score per round with intervals, and the distribution of each
    round's train sample scores ('' when no verdict is graded)."""
    if not any(s.train_scores or s.test_score or (s.val and s.val.score) for s in rounds):
        return ""
    xs = [float(s.round) for s in rounds]
    series = []
    for name, get in (("validation score (decides)", lambda s: s.val.score if s.val else None),
                      ("test score (reported)", lambda s: s.test_score)):
        points = [get(s) for s in rounds]
        if any(points):
            series.append(Series(name, xs, [p.value if p else None for p in points],
                                 [(p.low, p.high) if p else None for p in points]))
    chart = line_chart("score", series, x_label="model (0 = base, R = trained in round R)", y_label="mean score",
                       y_max=1.0, y_min=0.0, x_ticks=xs, width=900, height=300, dodge=7.0) if series else ""
    labels = [f"{i / SCORE_BINS:.1f}-{(i + 1) / SCORE_BINS:.1f}" for i in range(SCORE_BINS)]
    bins = []
    for s in rounds:
        if s.train_scores:
            counts = [0.0] * SCORE_BINS
            for v in s.train_scores:
                counts[min(SCORE_BINS - 1, int(v * SCORE_BINS))] += 1
            bins.append((f"round {s.round} samples", counts))
    hist = grouped_bars("scores", labels, bins, y_label="samples", width=900, height=300) if bins else ""
    note = ("<p class=\"note\">The verifier's graded score (html: relevance mixed with the share of the task's UI "
            "requirements the rendered page meets). Error bars: 95% bootstrap over tasks. The histogram shows how the "
            "scores of each round's train samples spread: what curation filters and ranks pairs by.</p>")
    return f'<h2>Graded scores per round</h2><div class="card">{chart}{hist}{note}</div>'


FUNNEL_SKIP = {"by_kind", "kinds", "per_kind", "stats", "pair_stats", "pairs_stats"}


def _funnel_steps(funnel: dict[str, Any]) -> list[tuple[str, float]]:
    """The funnel's steps in order with their totals: curate writes {"steps": [names], "total": {name: count}};
    a flat {name: count} mapping is read too (nested tables and stats are left out)."""
    if isinstance(funnel.get("steps"), list) and isinstance(funnel.get("total"), dict):
        total = funnel["total"]
        return [(name, float(total.get(name, 0))) for name in funnel["steps"]]
    return [(k, float(v)) for k, v in funnel.items()
            if k not in FUNNEL_SKIP and isinstance(v, int | float) and not isinstance(v, bool)]


def _funnel_section(rounds: list[RoundStats]) -> str:
    trained = [s for s in rounds if s.round > 0 and s.funnel]
    if not trained:
        return '<div class="card"><p class="note">No curated round yet.</p></div>'
    steps = [name for name, _ in _funnel_steps(trained[0].funnel)]
    series = [(f"round {s.round}", [dict(_funnel_steps(s.funnel)).get(n, 0.0) for n in steps]) for s in trained]
    chart = grouped_bars("funnel", steps, series, y_label="items", width=900, height=320)
    head = ("".join(f"<th>{escape(n)}</th>" for n in steps)
            + "<th>SFT rows</th><th>pairs</th><th>truncated (cut by the token limit)</th>")
    rows = "".join(
        f"<tr><td>round {s.round}</td>" + "".join(f"<td>{v:g}</td>" for v in vals)
        + f"<td>{s.sft_rows}</td><td>{s.pairs}</td><td>{(s.funnel.get('total') or {}).get('truncated', 0)}</td></tr>"
        for s, (_, vals) in zip(trained, series, strict=True))
    return f'<div class="card">{chart}<table><tr><th>round</th>{head}</tr>{rows}</table></div>'


MARGIN_KEYS = ("rewards/margins", "reward_margin", "margin")


def _training_section(rounds: list[RoundStats]) -> str:
    loss, margin = [], []
    for s in rounds:
        rows = [row for row in s.log if isinstance(row.get("step"), int | float)]
        pts = [(float(r["step"]), float(r["loss"])) for r in rows if isinstance(r.get("loss"), int | float)]
        if pts:
            loss.append(Series(f"round {s.round}", [p[0] for p in pts], [p[1] for p in pts]))
        key = next((k for k in MARGIN_KEYS if any(isinstance(r.get(k), int | float) for r in rows)), None)
        if key:
            mp = [(float(r["step"]), float(r[key])) for r in rows if isinstance(r.get(key), int | float)]
            margin.append(Series(f"round {s.round}", [p[0] for p in mp], [p[1] for p in mp]))
    charts = [line_chart("loss", loss, x_label="step", y_label="training loss"),
              line_chart("margin", margin, x_label="step", y_label="reward margin (chosen − rejected)")
              if margin else _no_margin()]
    return f'<div class="card charts">{"".join(charts)}</div>'


def _no_margin() -> str:
    from codekiln.report.charts import _empty

    return _empty("margin", 640, "no reward margins logged (SFT-only training)")


def _status_section(rounds: list[RoundStats]) -> str:
    rows: list[tuple[str, dict[str, int]]] = []
    for s in rounds:
        if s.train_status:
            rows.append((f"round {s.round} train", s.train_status))
        if s.val:
            rows.append((f"round {s.round} validation", s.val.status))
        if s.test_status:
            rows.append((f"round {s.round} test", s.test_status))
    chart = stacked_bars("status", rows, STATUSES, colors=STATUS_COLORS, width=900)
    return f'<div class="card">{chart}</div>'


def _timings_section(manifest: dict[str, Any], rounds: list[RoundStats]) -> str:
    stages = manifest.get("stages", [])
    names = ["sample", "verify", "curate", "train", "val", "eval", "extra"]
    seconds: dict[tuple[int, str], float] = {}
    for st in stages:  # every extra-NAME stage of a round is summed into its `extra` column
        key = (st["round"], "extra" if st["stage"].startswith("extra-") else st["stage"])
        seconds[key] = seconds.get(key, 0.0) + float(st.get("seconds", 0))
    labels = {"val": "val eval", "eval": "test eval", "extra": "extra sets"}
    head = "".join(f"<th>{labels.get(n, n)} (s)</th>" for n in names)
    body = []
    for s in rounds:
        cells = "".join(f"<td>{seconds[(s.round, n)]:.0f}</td>" if (s.round, n) in seconds else "<td>-</td>"
                        for n in names)
        rate = f"{100 * s.pass_rate:.1f}%" if s.pass_rate is not None else "-"
        loss = f"{s.loss:.3f}" if s.loss is not None else "-"
        body.append(f"<tr><td>{s.round}</td><td>{s.samples or '-'}</td><td>{rate}</td><td>{s.sft_rows}</td>"
                    f"<td>{s.pairs}</td><td>{loss}</td><td>{_pct(s.val_pass1())}</td><td>{_pct(s.test_pass1())}</td>"
                    f"{cells}</tr>")
    total = sum(st.get("seconds", 0) for st in stages)
    return (f'<div class="card"><table><tr><th>round</th><th>samples</th><th>train pass rate</th><th>SFT rows</th>'
            f"<th>pairs</th><th>loss</th><th>val pass@1</th><th>test pass@1 (reported)</th>{head}</tr>"
            f"{''.join(body)}</table>"
            f'<p class="note">Total stage time {total / 60:.1f} min over {len(manifest.get("invocations", []))} '
            f"invocation(s).</p></div>")


def _examples_section(root: Path, final: int | None, limit: int) -> str:
    if final is None:
        return '<div class="card"><p class="note">No trained round yet.</p></div>'
    base = _eval_programs(root / "round-0" / "eval")
    last = _eval_programs(root / f"round-{final}" / "eval")
    common = [t for t in base if t in last]
    if not common:
        return '<div class="card"><p class="note">No evaluated task shared by both models.</p></div>'

    def rank(task_id: str) -> int:
        b, f = base[task_id][1].passed, last[task_id][1].passed
        return 0 if (f and not b) else 1 if (b and not f) else 2 if f else 3

    chosen = sorted(common, key=lambda t: (rank(t), common.index(t)))[:limit]
    prompts = _task_prompts(root)
    cards = []
    for task_id in chosen:
        prompt = prompts.get(task_id)
        cols = []
        for label, (sample, verdict) in (("base model (round 0)", base[task_id]),
                                         (f"final model (round {final})", last[task_id])):
            color = STATUS_COLORS.get(verdict.status, "#4b5563")
            cols.append(f'<div><div>{label} <span class="badge" style="background:{color}">'
                        f"{escape(verdict.status)}</span></div><pre>{escape(sample.completion)}</pre></div>")
        prompt_html = f'<pre class="prompt">{escape(prompt)}</pre>' if prompt else ""
        cards.append(f'<div class="card example"><b>{escape(task_id)}</b>{prompt_html}'
                     f'<div class="pair">{"".join(cols)}</div></div>')
    return "".join(cards)


def _eval_programs(folder: Path) -> dict[str, tuple[Sample, Verdict]]:
    """First sample and its verdict per task, from an evaluation folder."""
    samples = read_jsonl_resumable(folder / "samples.jsonl", Sample)
    verdicts = {v.sample_id: v for v in read_jsonl_resumable(folder / "verdicts.jsonl", Verdict)}
    out: dict[str, tuple[Sample, Verdict]] = {}
    for s in samples:
        if s.task_id not in out and s.sample_id in verdicts:
            out[s.task_id] = (s, verdicts[s.sample_id])
    return out


def _task_prompts(root: Path) -> dict[str, str]:
    """Task prompts by id, when the run's task source is still loadable (the report works without them)."""
    from codekiln.errors import UserError
    from codekiln.tasks.load import load_tasks

    spec = _config(root).get("tasks")
    try:
        return {t.task_id: t.prompt for t in load_tasks(spec)} if spec else {}
    except (UserError, OSError):
        return {}


def _ui_screenshots(root: Path, final: int | None) -> str:
    """Screenshots of base vs final pages for a few held-out html tasks (codekiln.report.screenshots); '' without any."""
    from codekiln.errors import UserError
    from codekiln.report.screenshots import ui_section
    from codekiln.tasks.load import load_tasks

    spec = _config(root).get("tasks")
    try:
        tasks = {t.task_id: t for t in load_tasks(spec)} if spec else {}
    except (UserError, OSError):
        return ""
    return ui_section(root, tasks, final)
