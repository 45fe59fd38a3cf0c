"""The report's UI section: screenshots of the base and the final model's pages for a few held-out html tasks.

The pages are the models' own evaluation samples (hostile HTML), so they are rendered again here only inside
the network-blocked Chromium pool of `codekiln.verify.render`, and embedded as downscaled PNG data URIs (the
report stays one self-contained file). Without Chromium the section says so instead of failing the report.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

from codekiln.records import Sample, Task, Verdict, read_jsonl_resumable

THUMB_WIDTH = 420
CSS = (".shots{display:grid;grid-template-columns:1fr 1fr;gap:12px} .shots img{width:100%;border:1px solid #d1d5db;"
       "border-radius:4px;background:#fff}")


def ui_section(root: Path, tasks: dict[str, Task], final: int | None, limit: int = 3) -> str:
    """HTML for the section ('' when the run has no evaluated html task in both round 0 and `final`)."""
    if final is None:
        return ""
    base = _first_samples(root / "round-0" / "eval")
    last = _first_samples(root / f"round-{final}" / "eval")
    common = [t for t in base if t in last and t in tasks and tasks[t].kind == "html"]
    if not common:
        return ""

    def rank(task_id: str) -> tuple[int, float]:
        b, f = base[task_id][1], last[task_id][1]
        return (0 if f.passed and not b.passed else 1 if f.passed else 2, -(f.score - b.score))

    chosen = sorted(common, key=rank)[:limit]
    pages = [base[t][0].completion for t in chosen] + [last[t][0].completion for t in chosen]
    try:
        shots = render_thumbnails(pages)
    except Exception as err:  # noqa: BLE001 - the report must not fail for want of a browser
        return (f'<h2>UI screenshots: base vs final</h2><div class="card"><p class="note">Screenshots unavailable: '
                f"{escape(str(err).splitlines()[0] if str(err) else type(err).__name__)}</p></div>")
    cards = []
    for i, task_id in enumerate(chosen):
        cols = []
        for label, (_, verdict), shot in (("base model (round 0)", base[task_id], shots[i]),
                                          (f"final model (round {final})", last[task_id], shots[len(chosen) + i])):
            img = (f'<img alt="{escape(label)} page" src="data:image/png;base64,{shot}">' if shot
                   else '<p class="note">did not render</p>')
            cols.append(f"<div><div>{label}: <b>{escape(verdict.status)}</b>, score {verdict.score:.2f}"
                        f"{_problem(verdict)}</div>{img}</div>")
        desc = tasks[task_id].description or tasks[task_id].prompt
        cards.append(f'<div class="card"><b>{escape(task_id)}</b><p>{escape(desc)}</p>'
                     f'<div class="shots">{"".join(cols)}</div></div>')
    return (f"<style>{CSS}</style><h2>UI screenshots: base vs final model on held-out descriptions</h2>"
            + "".join(cards))


def render_thumbnails(pages: list[str]) -> list[str]:
    """Base64 PNG thumbnails of pages rendered in the sandboxed pool ('' for a page that did not render)."""
    from PIL import Image

    from codekiln.verify.render import RenderLimits, RenderPool

    out = []
    with RenderPool(size=1, limits=RenderLimits(timeout_s=8.0)) as pool:
        for page in pages:
            r = pool.render(page)
            if not r.screenshot:
                out.append("")
                continue
            img = Image.open(io.BytesIO(r.screenshot)).convert("RGB")
            img = img.resize((THUMB_WIDTH, round(img.height * THUMB_WIDTH / img.width)), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, "PNG", optimize=True)
            out.append(base64.b64encode(buf.getvalue()).decode())
    return out


def _problem(verdict: Verdict) -> str:
    problems = verdict.page.problems if verdict.page else []
    return f' <span class="note">({escape(str(problems[0])[:120])})</span>' if problems else ""


def _first_samples(folder: Path) -> dict[str, tuple[Sample, Verdict]]:
    samples = read_jsonl_resumable(folder / "samples.jsonl", Sample)
    verdicts = {(v.task_id, v.sample_id): v for v in read_jsonl_resumable(folder / "verdicts.jsonl", Verdict)}
    out: dict[str, tuple[Sample, Verdict]] = {}
    for s in samples:
        if s.task_id not in out and (s.task_id, s.sample_id) in verdicts:
            out[s.task_id] = (s, verdicts[(s.task_id, s.sample_id)])
    return out
