"""The built-in `ui-compose` suite: one page holding two `ui-basic` sections, one above the other.

ui-basic pages are easy for a 0.5B coder model (qwen2.5-coder-0.5b meets ~94% of their requirements), so its score
cannot show a gain there. Here each description asks for two of ui-basic's page types on one page, top to bottom,
for the same business, and the page must meet both sections' requirements together (counts add up: two
forms with three inputs each need six) plus the sections' order. The split follows ui-basic's: train pages combine
train templates only and test pages test templates only, so no test wording is ever trained on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codekiln.records import Task
from codekiln.tasks.ui_basic import DOMAINS, REQUIREMENTS, TEST_TEMPLATES, TRAIN_TEMPLATES, _fill

# Second sections, as offsets from the first template (within the split), and businesses per pair.
TRAIN_OFFSETS = (1, 7)
TEST_OFFSETS = (1, 3, 5)
PER_PAIR = 1


def merge_requirements(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Both sections' requirements for one page: `count:` ones of the same element add up, except `repeat` (the
    largest group of look-alike siblings: the larger of the two); an `=` stays exact only when both were exact."""
    counts: dict[str, tuple[str, int]] = {}
    out: list[str] = []
    for spec in [*first, *second]:
        m = re.fullmatch(r"count:([a-z]+)(>=|=)(\d+)", spec)
        if not m:
            if spec not in out:
                out.append(spec)
            continue
        what, op, n = m.group(1), m.group(2), int(m.group(3))
        if what not in counts:
            counts[what] = (op, n)
            out.append(f"count:{what}")  # its place; the figure is filled in below
            continue
        was_op, was_n = counts[what]
        if what == "repeat":
            counts[what] = (">=", max(was_n, n))
        else:
            counts[what] = ("=" if was_op == op == "=" else ">=", was_n + n)
    return [f"{s}{counts[s[6:]][0]}{counts[s[6:]][1]}" if s.startswith("count:") and s[6:] in counts else s
            for s in out]


def anchor(description: str) -> str | None:
    """The first quoted label of a section's description (as the html verifier reads labels): where it is on the page."""
    from codekiln.verify.scorers import quoted_labels

    labels = quoted_labels(description)
    return labels[0] if labels else None


def load() -> list[Task]:
    """Train and test pages of two sections each; ids `ui-compose/<split>-<first>-<second>-<business>`."""
    tasks = []
    groups = (("train", TRAIN_TEMPLATES, 0, TRAIN_OFFSETS), ("test", TEST_TEMPLATES, len(TRAIN_TEMPLATES), TEST_OFFSETS))
    for split, templates, offset, offsets in groups:
        for a in range(len(templates)):
            for k, step in enumerate(offsets):
                b = (a + step) % len(templates)
                for j in range(PER_PAIR):
                    d = (a * 7 + k * 3 + j * 11) % len(DOMAINS)
                    domain = DOMAINS[d]
                    top, bottom = _fill(templates[a], domain), _fill(templates[b], domain)
                    requirements = merge_requirements([_fill(r, domain) for r in REQUIREMENTS[offset + a]],
                                                      [_fill(r, domain) for r in REQUIREMENTS[offset + b]])
                    first, second = anchor(top), anchor(bottom)
                    if first and second and first != second:
                        requirements.append(f"order:{first}|{second}")
                    description = (f"One page for {domain[0]}, a {domain[1]}, with two sections stacked top to "
                                   f"bottom. Top section: {top} Bottom section: {bottom}")
                    tasks.append(Task(
                        task_id=f"ui-compose/{split}-{offset + a:02d}-{offset + b:02d}-{d:02d}", kind="html",
                        prompt=description, split=split, description=description,
                        meta={"templates": [offset + a, offset + b], "business": domain[0],
                              "requirements": requirements}))
    return tasks
