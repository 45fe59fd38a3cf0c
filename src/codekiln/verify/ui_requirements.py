"""Checkable UI requirements, scored from the page the browser rendered (its DOM and its geometry).

UICoder ranked pages with a CLIP score; codekiln's text scorers cannot see layout, and on pages that fit they all
score near 1.0, so nothing can be ranked. A task can carry requirements (`Task.meta["requirements"]`, a list of
strings in the grammar below; the `ui-basic` suite writes them for every description), and each is checked
against the boxes Chromium laid out (`codekiln.verify.render.BOXES_JS`: every visible element with its box,
parent, own text, font and colours), never against the HTML text: a label inside a hidden element or a comment does
not count, and "side by side" means the boxes are side by side on screen.

A *target* names an element: a label (the smallest visible element whose text is the label, case- and
space-insensitive; a control's value, placeholder or label counts), or `@image`, `@table`, `@nav`, `@form`,
`@input`, `@button` (the largest visible one of that kind).

| requirement | met when |
| --- | --- |
| `text:L` | L is visible text (the description's quoted labels become these by themselves) |
| `heading:L` | L is shown as a heading: h1-h6 / role=heading, or bold and larger than the body text |
| `button:L` | L is on a button (button, submit/button input, role=button, or a link styled with a background) |
| `count:WHAT=N`, `count:WHAT>=N` | the page shows N (at least N) of WHAT: input, button, checkbox, radio, select, textarea, password, email, date, time, image, link, heading, row (table rows), li, repeat (the largest group of look-alike siblings: cards, tiles) |
| `row:A|B|C` | the targets sit side by side, left to right in this order (their boxes overlap vertically) |
| `stack:A|B` | A is above B and their boxes overlap horizontally |
| `order:A|B|C` | the targets come in this reading order (top to bottom, left to right on a line) |
| `columns:N` | some element holds N or more visible children side by side on one line |
| `color:T=HUE` | the target's text or background is HUE: red, orange, yellow, green, blue, purple, or colored (any) |
| `bg:colored` | a saturated background covers at least a tenth of the first screen |
| `bold:T`, `large:T` | the target is bold (weight 600+ or a heading); large (font 1.6x the page's median or more) |
| `struck` | some visible text is struck through |

The requirement score is the fraction met; `HtmlVerifier` mixes it with the relevance scorer's value
(`REQUIREMENTS_WEIGHT`), so a page meeting more requirements scores higher whatever the scorer.
"""

from __future__ import annotations

import colorsys
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codekiln.errors import UserError

REQUIREMENTS_WEIGHT = 0.6
KINDS = ("text", "heading", "button", "count", "row", "stack", "order", "columns", "color", "bg", "bold", "large",
         "struck")
HUES = ("red", "orange", "yellow", "green", "blue", "purple", "colored")
COUNTABLE = ("input", "button", "checkbox", "radio", "select", "textarea", "password", "email", "date", "time",
             "image", "link", "heading", "row", "li", "repeat")
ELEMENT_TARGETS = ("@image", "@table", "@nav", "@form", "@input", "@button")


@dataclass(frozen=True)
class Box:
    """One visible element as the browser laid it out (CSS pixels, page coordinates)."""

    index: int
    tag: str
    type: str
    x: float
    y: float
    w: float
    h: float
    parent: int
    text: str
    weight: int
    size: float
    color: str
    bg: str
    struck: bool

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Requirement:
    """One parsed requirement: its kind, its arguments and the text it was written as."""

    kind: str
    args: tuple[str, ...]
    spec: str


def parse(spec: str) -> Requirement:
    """A requirement from its text (`row:Basic|Plus|Premium`); a bad one is a UserError naming it."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UserError(f"UI requirement {spec!r}: unknown kind {kind!r}; choose from {list(KINDS)}")
    if kind == "struck":
        return Requirement(kind, (), spec)
    if not rest.strip():
        raise UserError(f"UI requirement {spec!r} needs an argument after '{kind}:'")
    if kind == "count":
        m = re.fullmatch(r"\s*([a-z]+)\s*(>=|=)\s*(\d+)\s*", rest)
        if not m or m.group(1) not in COUNTABLE:
            raise UserError(f"UI requirement {spec!r}: write count:WHAT=N or count:WHAT>=N, WHAT one of {list(COUNTABLE)}")
        return Requirement(kind, m.groups(), spec)
    if kind == "columns":
        if not rest.strip().isdigit():
            raise UserError(f"UI requirement {spec!r}: write columns:N")
        return Requirement(kind, (rest.strip(),), spec)
    if kind == "color":
        target, _, hue = rest.rpartition("=")
        if not target or hue.strip().lower() not in HUES:
            raise UserError(f"UI requirement {spec!r}: write color:TARGET=HUE, HUE one of {list(HUES)}")
        return Requirement(kind, (target.strip(), hue.strip().lower()), spec)
    if kind == "bg" and rest.strip() != "colored":
        raise UserError(f"UI requirement {spec!r}: write bg:colored")
    args = tuple(a.strip() for a in rest.split("|"))
    if kind in ("row", "stack", "order") and (len(args) < 2 or not all(args)):
        raise UserError(f"UI requirement {spec!r}: {kind} needs two or more targets separated by '|'")
    return Requirement(kind, args, spec)


def boxes_of(structure: dict[str, Any]) -> list[Box]:
    """The rendered boxes from the inspection's `boxes` list (malformed entries are skipped)."""
    out = []
    for i, b in enumerate(structure.get("boxes") or []):
        try:
            out.append(Box(i, str(b[0]), str(b[1]), float(b[2]), float(b[3]), float(b[4]), float(b[5]), int(b[6]),
                           str(b[7]), int(b[8]), float(b[9]), str(b[10]), str(b[11]), bool(b[12])))
        except (IndexError, TypeError, ValueError):
            continue
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _rgb(css: str) -> tuple[float, float, float, float] | None:
    m = re.match(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    if not m:
        return None
    r, g, b = (float(m.group(i)) / 255 for i in (1, 2, 3))
    return r, g, b, float(m.group(4)) if m.group(4) is not None else 1.0


def hue_of(css: str) -> str | None:
    """The colour family of a CSS rgb() colour, or None for white, black and greys."""
    rgba = _rgb(css)
    if rgba is None or rgba[3] < 0.3:
        return None
    h, lightness, s = colorsys.rgb_to_hls(*rgba[:3])
    if s < 0.3 or lightness < 0.12 or lightness > 0.94:
        return None
    deg = h * 360
    for name, upper in (("red", 15), ("orange", 45), ("yellow", 70), ("green", 170), ("blue", 255), ("purple", 330)):
        if deg < upper:
            return name
    return "red"


class Page:
    """The rendered boxes with the lookups the checks share."""

    def __init__(self, boxes: Sequence[Box], viewport: tuple[int, int] = (1024, 768)) -> None:
        self.boxes = list(boxes)
        self.viewport = viewport
        self.children: dict[int, list[Box]] = defaultdict(list)
        for b in self.boxes:
            self.children[b.parent].append(b)
        sizes = [b.size for b in self.boxes if b.text]
        self.median_size = statistics.median(sizes) if sizes else 16.0

    def find(self, target: str) -> Box | None:
        """The element a target names (see the module docstring), or None."""
        if target in ELEMENT_TARGETS:
            matches = [b for b in self.boxes if _is(b, target[1:])]
            return max(matches, key=lambda b: b.w * b.h, default=None)
        want = _norm(target)
        exact = [b for b in self.boxes if _norm(b.text) == want]
        if exact:
            return min(exact, key=lambda b: b.w * b.h)
        within = [b for b in self.boxes if want and want in _norm(b.text)]
        return min(within, key=lambda b: (len(b.text), b.w * b.h), default=None)

    def ancestors(self, box: Box, levels: int = 2) -> list[Box]:
        out, i = [box], box.parent
        while i >= 0 and len(out) <= levels:
            out.append(self.boxes[i])
            i = self.boxes[i].parent
        return out


def _is(b: Box, what: str) -> bool:
    controls = ("input", "select", "textarea")
    if what == "image":
        return b.tag in ("img", "svg", "canvas", "picture") or b.type == "img"
    if what == "input":
        return b.tag in controls and b.type not in ("submit", "button", "reset", "hidden")
    if what == "button":
        return (b.tag == "button" or b.type == "button" or (b.tag == "input" and b.type in ("submit", "button", "reset"))
                or (b.tag == "a" and hue_of(b.bg) is not None and bool(b.text)))
    if what in ("checkbox", "radio", "password", "email", "date", "time"):
        return b.tag == "input" and b.type == what
    if what in ("select", "textarea", "table", "nav", "form", "li"):
        return b.tag == what or (what == "nav" and b.type == "navigation")
    if what == "link":
        return b.tag == "a"
    if what == "heading":
        return bool(re.fullmatch(r"h[1-6]", b.tag)) or b.type == "heading"
    if what == "row":
        return b.tag == "tr"
    return False


def _vertical_overlap(a: Box, b: Box) -> bool:
    return min(a.bottom, b.bottom) - max(a.y, b.y) > 0.3 * min(a.h, b.h)


def _horizontal_overlap(a: Box, b: Box) -> bool:
    return min(a.right, b.right) - max(a.x, b.x) > 0


def _before(a: Box, b: Box) -> bool:
    """a comes before b in reading order: on the same line and to its left, or above it."""
    if _vertical_overlap(a, b):
        return a.x < b.x
    return a.y < b.y


def _sizable(b: Box) -> bool:
    """Big enough to be a card, a tile or a column (not a glyph, an icon or a star of a rating)."""
    return b.w >= 24 and b.h >= 16


def largest_group(page: Page) -> int:
    """The size of the largest group of look-alike siblings (same tag, widths within 15%): cards, tiles, items."""
    best = 0
    for kids in page.children.values():
        by_tag: dict[str, list[Box]] = defaultdict(list)
        for k in kids:
            if _sizable(k):
                by_tag[k.tag].append(k)
        for group in by_tag.values():
            widths = sorted(k.w for k in group)
            for i, w in enumerate(widths):
                alike = sum(1 for v in widths[i:] if v <= w * 1.15)
                best = max(best, alike)
    return best


def count(page: Page, what: str) -> int:
    if what == "repeat":
        return largest_group(page)
    if what == "row":
        tables = [b for b in page.boxes if b.tag == "table"]
        per_table = [sum(1 for r in page.boxes if r.tag == "tr" and _inside(page, r, t)) for t in tables]
        return max(per_table, default=0)
    return sum(1 for b in page.boxes if _is(b, what))


def _inside(page: Page, box: Box, outer: Box) -> bool:
    i = box.parent
    while i >= 0:
        if i == outer.index:
            return True
        i = page.boxes[i].parent
    return False


def _columns(page: Page, n: int) -> bool:
    for all_kids in page.children.values():
        kids = [k for k in all_kids if _sizable(k)]
        if len(kids) < n:
            continue
        rows: list[list[Box]] = []
        for k in sorted(kids, key=lambda b: (b.y, b.x)):
            line = next((r for r in rows if _vertical_overlap(r[0], k)), None)
            (line.append(k) if line is not None else rows.append([k]))
        for line in rows:
            xs = sorted(line, key=lambda b: b.x)
            side = sum(1 for a, b in zip(xs, xs[1:], strict=False) if b.x >= a.right - 2)
            if side + 1 >= n:
                return True
    return False


def check(req: Requirement, page: Page) -> tuple[bool, str]:
    """Whether the page meets one requirement, and a short reason when it does not."""
    kind, args = req.kind, req.args
    if kind == "struck":
        return any(b.struck and b.text for b in page.boxes), "no struck-through text"
    if kind == "count":
        what, op, n = args[0], args[1], int(args[2])
        got = count(page, what)
        return (got == n if op == "=" else got >= n), f"{got} {what}"
    if kind == "columns":
        return _columns(page, int(args[0])), f"no {args[0]} elements side by side"
    if kind == "bg":
        w, h = page.viewport
        big = [b for b in page.boxes if b.y < h and b.w * min(b.h, h - b.y) >= 0.1 * w * h and hue_of(b.bg)
               and (b.parent < 0 or page.boxes[b.parent].bg != b.bg)]
        return bool(big), "no coloured background region"
    if kind in ("row", "stack", "order"):
        found = [page.find(t) for t in args]
        missing = [t for t, b in zip(args, found, strict=True) if b is None]
        if missing:
            return False, f"not shown: {missing[0]!r}"
        pairs = list(zip(found, found[1:], strict=False))
        if kind == "row":
            ok = all(_vertical_overlap(a, b) and b.x >= a.right - 4 for a, b in pairs)  # type: ignore[arg-type]
            return ok, "not side by side in this order"
        if kind == "stack":
            ok = all(b.y >= a.bottom - 4 and _horizontal_overlap(a, b) for a, b in pairs)  # type: ignore[arg-type]
            return ok, "not stacked in this order"
        return all(_before(a, b) for a, b in pairs), "not in this order"  # type: ignore[arg-type]
    target = args[0]
    box = page.find(target)
    if box is None:
        return False, f"not shown: {target!r}"
    if kind == "text":
        return True, ""
    if kind == "heading":
        ok = any(_is(b, "heading") for b in page.ancestors(box)) or (box.weight >= 600
                                                                       and box.size >= 1.2 * page.median_size)
        return ok, "not a heading"
    if kind == "button":
        return any(_is(b, "button") for b in page.ancestors(box)), "not on a button"
    if kind == "bold":
        return box.weight >= 600 or any(_is(b, "heading") for b in page.ancestors(box, 1)), "not bold"
    if kind == "large":
        return box.size >= 1.6 * page.median_size, f"font {box.size:g}px vs median {page.median_size:g}px"
    hue = args[1]
    seen = {hue_of(c) for b in page.ancestors(box) for c in (b.color, b.bg)} - {None}
    return (bool(seen) if hue == "colored" else hue in seen), f"colours {sorted(seen) or ['none']}"  # type: ignore[type-var]


def auto_requirements(labels: Sequence[str], given: Sequence[str]) -> list[str]:
    """`given`, plus a `text:` requirement for each quoted label no given requirement already names."""
    named = {_norm(a) for spec in given for a in parse(spec).args}
    return [*given, *(f"text:{lab}" for lab in labels if _norm(lab) not in named)]


def score_requirements(specs: Sequence[str], structure: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """The fraction of requirements the rendered page meets (None without requirements) and what failed."""
    if not specs:
        return None, {}
    page = Page(boxes_of(structure))
    unmet: dict[str, str] = {}
    for spec in specs:
        ok, why = check(parse(spec), page)
        if not ok:
            unmet[spec] = why
    met = len(specs) - len(unmet)
    return met / len(specs), {"met": met, "of": len(specs), "unmet": unmet}

