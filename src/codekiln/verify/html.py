"""Verify html samples as UICoder did: "compile" checks on a real render, then a relevance score.

Checks, in order (the first failure sets the status; every problem is listed in the feedback, one `; ` apart):

| check | status when it fails |
| --- | --- |
| parses: markup, no unclosed `<script>`/`<style>`/comment, no unclosed non-optional element (a cut-off page) | syntax_error |
| renders in Chromium within the time limit | timeout (runtime_error for a crash) |
| stays on its page (does not navigate itself away) | invalid |
| no uncaught page errors, no console errors | runtime_error |
| not blank: the screenshot's pixel standard deviation is at least `MIN_PIXEL_STD` | failed |
| has visible text | failed |
| nothing overflows the viewport's width (more than `OVERFLOW_TOLERANCE_PX`) | failed |
| score at least `VerifyConfig.html_threshold`: the relevance scorer's value (`codekiln.verify.scorers`), mixed with the share of the task's UI requirements the rendered layout meets when it has some (`codekiln.verify.ui_requirements`) | failed |

A page that renders gets a relevance score whatever its checks say (so pairs can rank two failures); the
others score 0. Requests to anything but the page itself are blocked (listed in the details, not a failure:
what is scored is what renders without them). The verdict's details hold a `PageDetails` (`Verdict.page`):
`checks`, `problems`, `relevance`, `scorer`, `blocked`, `phash` (the screenshot's perceptual hash, which curation
uses to collapse near-identical renders) and, for a task with requirements, `requirements` (met, of, unmet with
reasons, score).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from html.parser import HTMLParser
from typing import Any

from codekiln.config import VerifyConfig
from codekiln.curate.phash import phash
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict
from codekiln.verdict_details import PageDetails
from codekiln.verify.render import BrowserDied, Rendered, RenderLimits, RenderPool
from codekiln.verify.scorers import Scorer, get_scorer, quoted_labels
from codekiln.verify.threaded import CheckCrashed
from codekiln.verify.ui_requirements import REQUIREMENTS_WEIGHT, auto_requirements, score_requirements

MIN_PIXEL_STD = 1.5
OVERFLOW_TOLERANCE_PX = 4
MAX_HTML_CHARS = 200_000
# Elements whose end tag HTML lets you leave out (or that have none); any other element left open is a cut.
OPTIONAL_END = {"html", "head", "body", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
                "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "area", "base", "br", "col", "embed",
                "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param", "keygen", "command"}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags += 1
        if tag not in OPTIONAL_END:
            self.open.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.tags += 1

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, -1, -1):  # browsers close up to the matching element
            if self.open[i][0] == tag:
                del self.open[i:]
                break


def parse_problem(html: str) -> str | None:
    """Why the document does not parse as a complete HTML page, or None."""
    if not html.strip():
        return "the completion is empty"
    if len(html) > MAX_HTML_CHARS:
        return f"the page is {len(html)} characters long (limit {MAX_HTML_CHARS})"
    low = html.lower()
    for opener, closer, what in (("<script", "</script", "<script>"), ("<style", "</style", "<style>")):
        if low.count(opener) > low.count(closer):
            return f"an unclosed {what} element (the page is cut off or malformed)"
    if low.count("<!--") > low.count("-->"):
        return "an unclosed <!-- comment"
    parser = _Balance()
    try:
        parser.feed(html)
        parser.close()
    except Exception as err:  # noqa: BLE001 - HTMLParser is lenient; anything it raises is a parse failure
        return f"the HTML does not parse: {err}"
    if parser.tags == 0:
        return "no HTML tags: the completion is not an HTML page"
    if parser.open:
        tag, line = parser.open[-1]
        return f"<{tag}> opened on line {line} is never closed (the page is cut off or malformed)"
    return None


def pixel_std(image_bytes: bytes) -> float:
    """Standard deviation of the screenshot's grayscale pixels (0 for a single-colour page)."""
    import numpy as np
    from PIL import Image

    return float(np.asarray(Image.open(io.BytesIO(image_bytes)).convert("L"), dtype=np.float32).std())


def page_problems(page: Rendered) -> list[tuple[str, str, str]]:
    """(check, status, message) for each check the rendered page fails, in check order."""
    out = []
    if page.navigated_away:
        out.append(("stays", "invalid", f"the page navigated itself away to {page.navigated_away}"))
    for err in page.page_errors[:3]:
        out.append(("no_errors", "runtime_error", f"uncaught error: {err}"))
    for msg in page.console_errors[:3]:
        out.append(("no_errors", "runtime_error", f"console error: {msg}"))
    if not page.screenshot or pixel_std(page.screenshot) < MIN_PIXEL_STD:
        out.append(("not_blank", "failed", "the page renders blank (a single colour)"))
    if not re.search(r"\w\w", page.text):
        out.append(("has_text", "failed", "the page shows no visible text"))
    if page.overflow_px > OVERFLOW_TOLERANCE_PX:
        out.append(("no_overflow", "failed",
                    f"content overflows the viewport width by {page.overflow_px}px (horizontal scrolling)"))
    return out


CHECKS = ("parses", "renders", "stays", "no_errors", "not_blank", "has_text", "no_overflow", "relevant")


def requirements_of(task: Task) -> list[str]:
    """The task's UI requirements (`meta.requirements`) plus its quoted labels; none when it has no such key."""
    given = task.meta.get("requirements")
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise UserError(f"task {task.task_id}: 'requirements' must be a list of strings such as 'row:A|B'")
    return auto_requirements(quoted_labels(task.description or task.prompt), given)


class BrowserCrashed(CheckCrashed):
    """Chromium died under one sample's page every time it was relaunched (`BrowserDied`): the verify stage stops
    (`verify_samples` names the stage and the verdicts it keeps)."""

    def __init__(self, task: Task, sample: Sample, died: BrowserDied) -> None:
        Exception.__init__(self, f"Chromium {died.cause} while rendering sample {sample.sample_id} of task "
                                 f"{task.task_id} ({died.deaths} times, relaunched after each)")
        self.task, self.sample, self.what = task, sample, died.cause


class HtmlVerifier:
    """Renders each sample in a warm Chromium pool, checks it, scores it against the task's description."""

    def __init__(self, cfg: VerifyConfig, pool: RenderPool | None = None, scorer: Scorer | None = None) -> None:
        self.cfg = cfg
        self.threshold = cfg.html_threshold
        self._scorer = scorer
        self._pool = pool
        self._own_pool = pool is None

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = get_scorer(self.cfg.scorer)
        return self._scorer

    @property
    def pool(self) -> RenderPool:
        if self._pool is None:
            self._pool = RenderPool(size=max(1, self.cfg.workers), limits=RenderLimits(timeout_s=self.cfg.timeout_s))
        return self._pool

    def verify(self, jobs: Sequence[tuple[Task, Sample]],
               on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(jobs)

        def emit(i: int, verdict: Verdict) -> None:
            verdicts[i] = verdict
            if on_verdict is not None:
                on_verdict(verdict)

        for task in {t.task_id: t for t, _ in jobs}.values():
            requirements_of(task)  # a malformed requirement is the task file's fault: say so before rendering
        to_render: list[int] = []
        for i, (task, sample) in enumerate(jobs):
            problem = parse_problem(sample.completion)
            if problem is not None:
                emit(i, self._verdict(task, sample, "syntax_error", 0.0, {"parses": False}, [problem], {}))
            else:
                to_render.append(i)
        if to_render:
            _ = self.scorer  # load the scorer before the browser starts (a bad --scorer fails fast)

            def rendered(j: int, page: Rendered) -> None:
                i = to_render[j]
                emit(i, self.judge(jobs[i][0], jobs[i][1], page))

            try:
                self.pool.render_many([jobs[i][1].completion for i in to_render], on_result=rendered)
            except BrowserDied as err:  # the browser's trouble, not the page's: the stage stops, keeping verdicts
                raise BrowserCrashed(*jobs[to_render[err.index or 0]], err) from None
        return verdicts  # type: ignore[return-value]

    def judge(self, task: Task, sample: Sample, page: Rendered) -> Verdict:
        """The verdict for one rendered page (never raises)."""
        checks: dict[str, bool] = {"parses": True}
        extra: dict[str, Any] = {"blocked": list(page.blocked[:10])}
        if page.error is not None:
            status = "timeout" if page.timed_out else "runtime_error"
            checks["renders"] = False
            return self._verdict(task, sample, status, 0.0, checks, [page.error], extra, page.duration_s)
        checks["renders"] = True
        problems = page_problems(page)
        failed = {c for c, _, _ in problems}
        for c in CHECKS[2:-1]:
            checks[c] = c not in failed
        extra["phash"] = phash(page.screenshot) if page.screenshot else None
        description = (task.description or task.prompt).strip()
        try:
            score = self.scorer.score(description, page)
        except Exception as err:  # noqa: BLE001 - a scorer failure is reported, not raised
            score = None
            problems.append(("relevant", "failed", f"scorer {self.scorer.name} failed: {type(err).__name__}: {err}"))
        value = score.value if score is not None else 0.0
        extra["relevance"] = score.parts if score is not None else {}
        specs = requirements_of(task)
        met, report = score_requirements(specs, page.structure)
        if met is not None:  # the rendered layout checked against the task's requirements
            extra["requirements"] = {**report, "score": round(met, 4), "relevance": round(value, 4)}
            value = (1 - REQUIREMENTS_WEIGHT) * value + REQUIREMENTS_WEIGHT * met
        checks["relevant"] = score is not None and value >= self.threshold
        if score is not None and not checks["relevant"]:
            problems.append(("relevant", "failed",
                             f"score {value:.2f} is below the threshold {self.threshold:.2f}"))
        status = problems[0][1] if problems else "passed"
        return self._verdict(task, sample, status, value, checks, [m for _, _, m in problems], extra,
                             page.duration_s)

    def _verdict(self, task: Task, sample: Sample, status: str, score: float, checks: dict[str, bool],
                 problems: list[str], extra: dict[str, Any], duration: float = 0.0) -> Verdict:
        page = PageDetails(checks=checks, problems=problems, scorer=self.cfg.scorer, **extra)
        feedback = "; ".join(problems) if problems else f"renders; score {score:.2f}"
        return Verdict(task.task_id, sample.sample_id, status, status == "passed", round(float(score), 4),
                       feedback, round(duration, 3), details={"page": page.as_dict()})

    def close(self) -> None:
        if self._pool is not None and self._own_pool:
            self._pool.close()
            self._pool = None
