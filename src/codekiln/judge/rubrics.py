"""The five coding preferences the judge rates, each with a rubric written for this project.

After CodeUltraFeedback (arXiv 2403.09032): instruction following, code explanation, code complexity and
efficiency, code readability, coding style. Each rubric says what to look at and what each band of the
1-10 scale means, so a rating is comparable across responses and runs. `RUBRIC_VERSION` is part of every
judge cache key: change the wording below and bump it, and no stale rating is reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from codekiln.errors import UserError

RUBRIC_VERSION = "codekiln-rubric/1"


@dataclass(frozen=True)
class Rubric:
    """One preference: what the judge assesses (`focus`), what it checks (`criteria`) and the scale bands."""

    name: str
    title: str
    focus: str
    criteria: tuple[str, ...]
    bands: tuple[tuple[str, str], ...]  # ("9-10", "what a response in this band looks like"), best first


RUBRICS: dict[str, Rubric] = {
    "instruction-following": Rubric(
        name="instruction-following",
        title="Instruction following",
        focus="how faithfully the response does exactly what the request asks, no more and no less",
        criteria=(
            "every explicit requirement is met: language, function names, inputs, outputs, constraints",
            "nothing asked for is missing and nothing unrequested replaces what was asked",
            "when the request is ambiguous, the response states the assumption it makes",
        ),
        bands=(
            ("9-10", "meets every requirement and constraint; a reviewer would accept it as is"),
            ("7-8", "meets the main requirements; one minor detail is missed or loosely followed"),
            ("5-6", "does roughly what was asked but misses a stated requirement or constraint"),
            ("3-4", "addresses the topic but ignores several requirements or solves a different problem"),
            ("1-2", "does not attempt the request, or is empty, off-topic or unusable"),
        ),
    ),
    "explanation": Rubric(
        name="explanation",
        title="Code explanation",
        focus="how well the response explains its code so that a learner understands what it does and why",
        criteria=(
            "the explanation is correct and matches the code that is shown",
            "it covers the logic and the design choices, not only a restatement of the code line by line",
            "it is clear, well organised and at a length that suits the request",
        ),
        bands=(
            ("9-10", "clear, accurate and complete explanation of the logic and the reasons behind it"),
            ("7-8", "accurate and helpful, but skips a design choice or an edge case worth mentioning"),
            ("5-6", "some explanation, partly superficial, vague or slightly inaccurate"),
            ("3-4", "little explanation, or an explanation that contradicts the code"),
            ("1-2", "no explanation at all, or a wrong or misleading one"),
        ),
    ),
    "complexity": Rubric(
        name="complexity",
        title="Code complexity and efficiency",
        focus="how efficient the solution is in time and memory, and whether it avoids needless complexity",
        criteria=(
            "the algorithm has a suitable time and space complexity for the problem",
            "no wasted work: no repeated scans, needless copies or quadratic loops where linear ones suffice",
            "uses fitting data structures and standard library tools; the solution is correct",
        ),
        bands=(
            ("9-10", "optimal or near-optimal algorithm, lean and correct"),
            ("7-8", "efficient overall with a small avoidable cost"),
            ("5-6", "works but with clearly avoidable inefficiency (e.g. quadratic where linear is easy)"),
            ("3-4", "very inefficient or needlessly convoluted, or only partly correct"),
            ("1-2", "incorrect, does not run, or has no code"),
        ),
    ),
    "readability": Rubric(
        name="readability",
        title="Code readability",
        focus="how easy the code is to read, understand and maintain",
        criteria=(
            "descriptive names for variables and functions",
            "a clear structure: short functions, simple control flow, no deep nesting",
            "comments or docstrings where the intent is not obvious, and no noise comments",
        ),
        bands=(
            ("9-10", "reads easily at first glance; names, structure and comments are all clear"),
            ("7-8", "readable; a few names or comments could be better"),
            ("5-6", "understandable with effort: cryptic names, long blocks or missing comments"),
            ("3-4", "hard to follow: tangled logic, misleading names, no structure"),
            ("1-2", "unreadable, or no code"),
        ),
    ),
    "style": Rubric(
        name="style",
        title="Coding style",
        focus="how well the code follows the idioms and conventions of its language",
        criteria=(
            "follows the language's style guide (for Python: PEP 8 naming, layout, imports)",
            "uses the language's idioms rather than patterns carried over from other languages",
            "consistent formatting, sensible error handling, no dead code",
        ),
        bands=(
            ("9-10", "idiomatic and consistent; a seasoned developer of the language would write it"),
            ("7-8", "mostly idiomatic with a few style slips"),
            ("5-6", "works but ignores several conventions or idioms"),
            ("3-4", "non-idiomatic throughout, inconsistent formatting"),
            ("1-2", "no code, or code that disregards the language's conventions entirely"),
        ),
    ),
}

PREFERENCES: tuple[str, ...] = tuple(RUBRICS)


def get_rubric(name: str) -> Rubric:
    if name not in RUBRICS:
        raise UserError(f"unknown judge preference {name!r}; choose from {list(PREFERENCES)}")
    return RUBRICS[name]


def rubric_text(rubric: Rubric) -> str:
    """The rubric as the judge reads it."""
    lines = [f"Preference: {rubric.title}. Rate {rubric.focus}.", "Check that:"]
    lines += [f"- {c}" for c in rubric.criteria]
    lines.append("Scale:")
    lines += [f"- {band}: {meaning}" for band, meaning in rubric.bands]
    return "\n".join(lines)
