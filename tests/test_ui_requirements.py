"""UI requirements checked on the page Chromium rendered: geometry, visibility, colour, and the score they make."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task
from codekiln.tasks.load import load_tasks
from codekiln.verify.html import HtmlVerifier
from codekiln.verify.render import RenderLimits, RenderPool
from codekiln.verify.scorers import get_scorer
from codekiln.verify.ui_requirements import hue_of, parse, score_requirements

PLANS = "<div class=p>Basic</div><div class=p>Plus</div><div class=p>Premium</div>"


def page(style: str, body: str) -> str:
    return f"<!doctype html><html><head><style>{style}</style></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    with RenderPool(size=1, limits=RenderLimits(width=800, height=600, timeout_s=5.0)) as p:
        yield p


def met(pool: RenderPool, html: str, *specs: str) -> dict[str, bool]:
    rendered = pool.render(html)
    assert rendered.error is None, rendered.error
    _, report = score_requirements(specs, rendered.structure)
    return {s: s not in report["unmet"] for s in specs}


def test_side_by_side_is_read_from_the_boxes_not_the_html(pool: RenderPool) -> None:
    specs = ("row:Basic|Plus|Premium", "stack:Basic|Plus|Premium", "columns:3")
    side = met(pool, page("body{display:flex;gap:20px}.p{width:150px}", f"<main style='display:flex'>{PLANS}</main>"),
               *specs)
    stacked = met(pool, page(".p{width:150px}", f"<main>{PLANS}</main>"), *specs)
    reversed_ = met(pool, page(".p{width:150px}", f"<main style='display:flex;flex-direction:row-reverse'>{PLANS}</main>"),
                    *specs)
    assert side == {"row:Basic|Plus|Premium": True, "stack:Basic|Plus|Premium": False, "columns:3": True}
    assert stacked == {"row:Basic|Plus|Premium": False, "stack:Basic|Plus|Premium": True, "columns:3": False}
    # the same markup in the same order, laid out right to left: side by side, but not in the asked order
    assert reversed_ == {"row:Basic|Plus|Premium": False, "stack:Basic|Plus|Premium": False, "columns:3": True}


def test_hidden_text_counts_for_nothing_and_colour_and_size_are_computed(pool: RenderPool) -> None:
    html = page("h1{font-size:48px}.hide{display:none}",
                "<h1>404</h1><p>Page not found</p><span class=hide>Sign in</span>"
                "<button style='background:#dc2626;color:white'>Delete my data</button>"
                "<button style='background:#2563eb;color:white'>Keep</button><s>old</s>")
    got = met(pool, html, "text:Sign in", "text:Page not found", "large:404", "large:Page not found",
              "color:Delete my data=red", "color:Keep=red", "color:Keep=blue", "button:Keep", "button:Page not found",
              "heading:404", "struck", "count:button=2", "stack:404|Page not found", "order:Page not found|404")
    assert got == {"text:Sign in": False, "text:Page not found": True, "large:404": True, "large:Page not found": False,
                   "color:Delete my data=red": True, "color:Keep=red": False, "color:Keep=blue": True,
                   "button:Keep": True, "button:Page not found": False, "heading:404": True, "struck": True,
                   "count:button=2": True, "stack:404|Page not found": True, "order:Page not found|404": False}


def test_counts_rows_radios_and_look_alike_cards(pool: RenderPool) -> None:
    # six star glyphs are alike too, but too small to be cards: the largest group is the four cards
    cards = "".join(f"<div class=card><b>Card {i}</b><p>text</p></div>" for i in range(4))
    rows = "".join(f"<tr><td>{i}</td><td>name</td></tr>" for i in range(3))
    radios = "".join(f"<label><input type=radio name=r> {i}</label>" for i in range(3))
    html = page(".grid{display:grid;grid-template-columns:repeat(4,150px);gap:8px}.card{border:1px solid #999}",
                f"<div class=grid>{cards}</div><table>{rows}</table>{radios}<p>{'<span>★</span>' * 6}</p>")
    got = met(pool, html, "count:repeat>=4", "count:repeat>=5", "count:row=3", "count:row>=4", "count:radio=3",
              "count:radio=5", "columns:4", "columns:5")
    assert got == {"count:repeat>=4": True, "count:repeat>=5": False, "count:row=3": True, "count:row>=4": False,
                   "count:radio=3": True, "count:radio=5": False, "columns:4": True, "columns:5": False}


DESC = "A pricing section with three plans side by side, 'Basic', 'Plus' and 'Premium', each with a 'Choose plan' button."
TASK = Task("ui/pricing", "html", DESC, description=DESC,
            meta={"requirements": ["row:Basic|Plus|Premium", "count:button>=3", "columns:3"]})
PLAN = "<div class=plan><h2>{0}</h2><p>$9 a month</p><button>Choose plan</button></div>"
FULL = page(".row{display:flex;gap:16px}.plan{width:200px;border:1px solid #ccc;padding:8px}",
            "<h1>Pricing</h1><div class=row>" + "".join(PLAN.format(n) for n in ("Basic", "Plus", "Premium")) + "</div>")
STACKED = page(".plan{width:200px;border:1px solid #ccc;padding:8px}",
               "<h1>Pricing</h1><div>" + "".join(PLAN.format(n) for n in ("Basic", "Plus", "Premium")) + "</div>")
ONE_BUTTON = page(".plan{width:200px}", "<h1>Pricing</h1><div><h2>Basic</h2><h2>Plus</h2><h2>Premium</h2>"
                  "<button>Choose plan</button></div>")


def test_a_page_meeting_more_requirements_scores_higher(pool: RenderPool) -> None:
    verifier = HtmlVerifier(VerifyConfig(html_threshold=0.5), pool=pool, scorer=get_scorer("minilm"))
    full, stacked, one = verifier.verify([(TASK, Sample(TASK.task_id, html, sample_id=f"s{i}"))
                                          for i, html in enumerate((FULL, STACKED, ONE_BUTTON))])
    reports = [v.page.requirements for v in (full, stacked, one)]
    # 3 given + 1 quoted label ('Basic', 'Plus' and 'Premium' are named by the row; 'Choose plan' is added)
    assert [r["met"] for r in reports] == [4, 2, 1]
    assert all(r["of"] == 4 for r in reports)
    assert "row:Basic|Plus|Premium" in reports[1]["unmet"] and "count:button>=3" in reports[2]["unmet"]
    assert full.score > stacked.score > one.score


def test_malformed_requirements_are_one_clear_error() -> None:
    for spec, words in (("rows:A|B", "unknown kind"), ("row:A", "two or more"), ("count:cards=3", "count:WHAT=N"),
                        ("color:X=teal", "HUE"), ("columns:three", "columns:N"), ("text:", "needs an argument")):
        with pytest.raises(UserError, match=words):
            parse(spec)
    bad = Task("ui/bad", "html", "x", description="x", meta={"requirements": ["row:A"]})
    with pytest.raises(UserError, match="two or more"):
        HtmlVerifier(VerifyConfig()).verify([(bad, Sample("ui/bad", "<p>x</p>", sample_id="s"))])


def test_hues() -> None:
    assert [hue_of(c) for c in ("rgb(220, 38, 38)", "rgb(37, 99, 235)", "rgb(22, 163, 74)", "rgb(128, 128, 128)",
                                "rgb(255, 255, 255)", "rgba(220, 38, 38, 0)", "rgb(245, 158, 11)")] == \
        ["red", "blue", "green", None, None, None, "orange"]


def test_every_ui_basic_task_carries_requirements_that_parse() -> None:
    tasks = load_tasks("ui-basic")
    for t in tasks:
        specs = t.meta["requirements"]
        assert specs, t.task_id
        for spec in specs:
            parse(spec)
            assert "{" not in spec, (t.task_id, spec)
