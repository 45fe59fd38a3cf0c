"""Render-and-score throughput of the html verifier: the warm Chromium pool vs launching a browser per page.

Pages are small UI pages built here for the ui-basic test descriptions (headings, labelled inputs, buttons,
a list: what a model writes for such a description). Each page goes the full verifier path: parse check,
render in Chromium with the network blocked, the compile checks, pHash, and the minilm relevance score.
The anchor (named in issue 9) is the same verifier with `RenderPool(fresh_browser=True)`: a new Chromium
launched for every page. The scorer is loaded before timing in both cases.

    .venv/bin/python benchmarks/render_throughput.py [--pages 30] [--fresh-pages 8] [--pool 2]
"""

from __future__ import annotations

import argparse
import os
import re
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def page_for(description: str) -> str:
    """A plausible page for a description: its quoted labels as heading and buttons, plus a form and a list."""
    labels = re.findall(r"'([^']{1,40})'", description) or ["Welcome"]
    buttons = "".join(f"<button>{label}</button>" for label in labels[1:]) or "<button>Continue</button>"
    return (f"<!doctype html><html><head><style>body{{font-family:sans-serif;margin:32px}} button{{margin:4px}}"
            f"</style></head><body><h1>{labels[0]}</h1><p>Everything you need, in one place.</p><form><label>Name <input name=n>"
            f"</label><label>Email <input type=email name=e></label></form><ul><li>One</li><li>Two</li></ul>"
            f"{buttons}</body></html>")


def measure(tasks, pages, pool, scorer) -> tuple[float, int]:
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.verify.html import HtmlVerifier

    verifier = HtmlVerifier(VerifyConfig(), pool=pool, scorer=scorer)
    jobs = [(t, Sample(t.task_id, p, sample_id=f"{t.task_id}#{i}")) for i, (t, p) in enumerate(zip(tasks, pages, strict=True))]
    start = time.perf_counter()
    verdicts = verifier.verify(jobs)
    seconds = time.perf_counter() - start
    return len(jobs) / seconds, sum(v.passed for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30, help="pages through the warm pool")
    parser.add_argument("--fresh-pages", type=int, default=8, help="pages with a browser launched per page")
    parser.add_argument("--pool", type=int, default=2, help="pages rendered at once")
    args = parser.parse_args()

    from codekiln.tasks.load import load_tasks
    from codekiln.verify.render import RenderLimits, RenderPool
    from codekiln.verify.scorers import get_scorer

    tasks = load_tasks("ui-basic:test")
    tasks = (tasks * (args.pages // len(tasks) + 1))[: args.pages]
    pages = [page_for(t.description or t.prompt) for t in tasks]
    scorer = get_scorer("minilm")
    scorer.score("warm up", __import__("codekiln.verify.render", fromlist=["Rendered"]).Rendered(text="warm"))
    limits = RenderLimits(timeout_s=30.0)

    start = time.perf_counter()
    with RenderPool(size=args.pool, limits=limits) as pool:
        startup = time.perf_counter() - start
        measure(tasks[:2], pages[:2], pool, scorer)  # first pages warm the renderer caches
        warm_rate, warm_passed = measure(tasks, pages, pool, scorer)
    with RenderPool(size=args.pool, limits=limits, fresh_browser=True) as pool:
        fresh_rate, fresh_passed = measure(tasks[: args.fresh_pages], pages[: args.fresh_pages], pool, scorer)

    print(f"html verifier throughput (render + checks + minilm score), {args.pool} pages at once, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':34s}{'pages/s':>10s}{'passed':>10s}")
    print(f"{'warm pool (codekiln)':34s}{warm_rate:10.2f}{warm_passed:>6d}/{args.pages}")
    print(f"{'browser launched per page (anchor)':34s}{fresh_rate:10.2f}{fresh_passed:>6d}/{args.fresh_pages}")
    print(f"ratio warm / per-page launch: {warm_rate / fresh_rate:.1f}x   (pool start-up, paid once: {startup:.1f} s)")


if __name__ == "__main__":
    main()
