"""Decontamination: training items that contain an evaluation task's prompt or reference solution.

Every evaluation task contributes two texts, its prompt (as the model is shown it) and its reference
program. A text is cut into token n-grams (`ngram` tokens, lower-cased words and punctuation). A training
text is contaminated by an evaluation text when it contains at least `threshold` of that evaluation text's
distinct n-grams (containment, not Jaccard, so a copied prompt buried in a longer program is still caught).
A few shared lines of boilerplate (`def f(x):`, `from typing import List`, `return result`) cover a small
fraction of a real prompt's n-grams and are not flagged. Evaluation texts shorter than `ngram` tokens are
too generic to tell a copy from a coincidence (`return len(string)`) and are skipped, except SQL references
(gold queries are short; a copied one is the contamination that matters): those of at least
`max(4, ngram // 2)` tokens are matched as a whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from codekiln.curate.normalize import tokens
from codekiln.records import Task
from codekiln.sample.prompts import task_text


@dataclass(frozen=True)
class Contamination:
    eval_task: str
    field: str  # "prompt" or "reference"
    overlap: float  # fraction of the evaluation text's n-grams found

    def reason(self) -> str:
        return f"contains {self.overlap:.0%} of the {self.field} of evaluation task {self.eval_task}"


def _grams(toks: Sequence[str], n: int) -> set[int]:
    return {hash(tuple(toks[i : i + n])) for i in range(len(toks) - n + 1)}


class EvalIndex:
    """An n-gram index of every evaluation task's prompt and reference."""

    def __init__(self, eval_tasks: Sequence[Task], ngram: int = 10, threshold: float = 0.5) -> None:
        if ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {ngram}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"decontamination threshold must be in (0, 1], got {threshold}")
        self.ngram = ngram
        self.threshold = threshold
        self.docs: list[tuple[str, str]] = []  # (task_id, field)
        self.sizes: list[int] = []
        self.index: dict[int, list[int]] = {}
        self.lengths: set[int] = set()
        min_short = max(4, ngram // 2)
        for task in eval_tasks:
            texts = [("prompt", task_text(task))]
            if task.reference:  # the reference alone: a HumanEval body is short next to its prompt
                texts.append(("reference", task.reference))
            for field, text in texts:
                toks = tokens(text)
                n = min(ngram, len(toks))
                if n < ngram and (task.kind != "sql" or field != "reference" or n < min_short):
                    continue
                grams = _grams(toks, n)
                doc = len(self.docs)
                self.docs.append((task.task_id, field))
                self.sizes.append(len(grams))
                self.lengths.add(n)
                for g in grams:
                    self.index.setdefault(g, []).append(doc)

    def __len__(self) -> int:
        return len(self.docs)

    def check(self, text: str) -> Contamination | None:
        """The evaluation text this training text contains most of, if it reaches the threshold."""
        if not self.docs:
            return None
        toks = tokens(text)
        hits: Counter[int] = Counter()
        for n in self.lengths:
            for g in _grams(toks, n):
                for doc in self.index.get(g, ()):
                    hits[doc] += 1
        best: Contamination | None = None
        for doc, count in hits.items():
            overlap = count / self.sizes[doc]
            if overlap >= self.threshold and (best is None or overlap > best.overlap):
                task_id, field = self.docs[doc]
                best = Contamination(task_id, field, overlap)
        return best
