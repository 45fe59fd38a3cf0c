"""Task synthesis, as UICoder did: the model writes new UI descriptions from a few seed examples.

Each request shows `shots` seed descriptions (drawn with a seeded RNG from the seed suite's train split) and
asks for one new one. A reply becomes a candidate after cleaning (first paragraph, no list markers or quotes
around it, 40-600 characters, at least 8 words). Candidates are then, in this order:

1. de-duplicated with curation's MinHash near-duplicate index (`codekiln.curate.dedup`) against each other,
   against the seed suite's descriptions (all splits) and against what an earlier run already wrote;
2. decontaminated with curation's n-gram containment index (`codekiln.curate.decontam`) against the test split
   of every built-in suite and of the seed suite, so no held-out description leaks into training.

Accepted tasks (kind html, split train) are appended to the output file as they come, so a killed run resumes
where it stopped and never writes a task twice.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.config import CurateConfig, SampleConfig
from codekiln.curate.decontam import EvalIndex
from codekiln.curate.dedup import Deduper, Program
from codekiln.errors import UserError
from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender, Task, read_jsonl_resumable
from codekiln.sample.prompts import task_text

KINDS = ("html",)
SYSTEM = "You write short, concrete descriptions of web user interfaces for a front-end developer."
ASK = ("Here are examples of UI descriptions:\n\n{examples}\n\nWrite one new UI description of a different page "
       "for a different product, in the same style: one or two sentences naming the elements the page shows, "
       "with button and heading texts in quotes. Reply with the description only.")
MIN_CHARS, MAX_CHARS, MIN_WORDS = 40, 600, 8


@dataclass
class SynthesisResult:
    accepted: list[Task]
    requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def clean_description(reply: str) -> str | None:
    """The description in a model reply, or None when the reply holds none usable."""
    text = reply.strip()
    text = re.sub(r"^(here is|here's|sure|new ui description|ui description|description)[^:\n]*:\s*", "", text,
                  flags=re.IGNORECASE)
    paragraph = text.split("\n\n", 1)[0].strip()
    paragraph = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", paragraph)
    paragraph = " ".join(paragraph.split()).strip("\"“”` ")
    if not MIN_CHARS <= len(paragraph) <= MAX_CHARS or len(paragraph.split()) < MIN_WORDS:
        return None
    if sum(ch.isalpha() for ch in paragraph) < 0.6 * len(paragraph) or "```" in paragraph or "<" in paragraph:
        return None
    if re.search(r"\[[^\]]{1,40}\]|\{[^}]{0,40}\}", paragraph):  # template placeholders: [product_name], {x}
        return None
    return paragraph


def make_task(kind: str, description: str, model: str, seeds: Sequence[str]) -> Task:
    digest = hashlib.sha256(description.encode()).hexdigest()[:12]
    return Task(task_id=f"synth-{kind}/{digest}", kind=kind, prompt=description, split="train",
                description=description, meta={"origin": "synthesized", "model": model, "seed_tasks": list(seeds)})


def every_test_split(extra: Sequence[Task] = ()) -> list[Task]:
    """The test tasks of every built-in suite that loads here, plus `extra`."""
    from codekiln.tasks.suites import SUITES, load_suite

    tests = [t for t in extra if t.split == "test"]
    for name in sorted(SUITES):
        try:
            tests.extend(t for t in load_suite(name) if t.split == "test")
        except (UserError, ImportError, OSError):
            continue
    return tests


class Gate:
    """Dedup (MinHash, against seeds, earlier output and each other) then decontamination, as curation does."""

    def __init__(self, seeds: Sequence[Task], earlier: Sequence[Task], eval_tasks: Sequence[Task],
                 cfg: CurateConfig = CurateConfig()) -> None:
        self.dedup = Deduper(cfg.near_dup_threshold, cfg.minhash_perm, cfg.shingle, levels=("exact", "near"))
        self.dedup.add_known([Program(t.task_id, "synth", t.kind, t.description or t.prompt)
                              for t in (*seeds, *earlier)])
        self.index = EvalIndex(eval_tasks, cfg.ngram, cfg.decontam_threshold)

    def check(self, task: Task) -> str | None:
        """None when the task may be used; else why not (`duplicate` or `contaminated`)."""
        (dup,) = self.dedup.run([Program(task.task_id, "synth", task.kind, task.description or task.prompt)])
        if dup is not None:
            return "duplicate"
        if self.index.check(task_text(task)) is not None:
            return "contaminated"
        return None


def synthesize_tasks(kind: str, model: str, seed_tasks: Sequence[Task], n: int, out: Path, cfg: SampleConfig,
                     shots: int = 3, max_requests: int | None = None, quiet: bool = False,
                     sampler: object | None = None) -> SynthesisResult:
    """Have `model` write `n` new tasks of `kind` into `out` (appending; resumes what is there)."""
    if kind not in KINDS:
        raise UserError(f"task synthesis supports kind(s) {list(KINDS)}, not {kind!r}")
    if n < 1 or shots < 1:
        raise UserError(f"--n and --shots must be at least 1, got {n} and {shots}")
    pool = [t for t in seed_tasks if t.kind == kind and t.split == "train" and (t.description or t.prompt)]
    if not pool:
        raise UserError(f"the seed tasks hold no {kind} tasks in a train split to show as examples")
    earlier = read_jsonl_resumable(out, Task) if out.exists() else []
    result = SynthesisResult(list(earlier))
    if len(earlier) >= n:
        return result
    gate = Gate(seed_tasks, earlier, every_test_split(seed_tasks))
    max_requests = max_requests if max_requests is not None else 6 * n
    from codekiln.sample.base import GenParams, Request, load_sampler
    from codekiln.sample.models import resolve_model

    own = sampler is None
    if sampler is None:
        sampler = load_sampler(resolve_model(model), cfg)
    params = GenParams(temperature=max(cfg.temperature, 0.7), top_p=cfg.top_p, max_tokens=min(cfg.max_tokens or 200, 200))
    rng = random.Random(f"{cfg.seed}:{kind}:{len(earlier)}")
    try:
        with JsonlAppender(out) as appender, progress_bar(f"synthesize {kind}", n, quiet, len(earlier)) as bar:
            while len(result.accepted) < n and result.requests < max_requests:
                batch = min(max(1, cfg.batch_size), max_requests - result.requests, 2 * (n - len(result.accepted)))
                shown = [rng.sample(pool, min(shots, len(pool))) for _ in range(batch)]
                requests = [Request([{"role": "system", "content": SYSTEM},
                                     {"role": "user", "content": ASK.format(
                                         examples="\n".join(f"- {t.description or t.prompt}" for t in ex))}],
                                    seed=rng.randrange(2**31)) for ex in shown]
                result.requests += batch
                for ex, gen in zip(shown, sampler.generate(requests, params), strict=True):  # type: ignore[attr-defined]
                    description = clean_description(gen.text)
                    if description is None:
                        result.rejected["unusable"] += 1
                        continue
                    task = make_task(kind, description, getattr(sampler, "name", model), [t.task_id for t in ex])
                    why = gate.check(task)
                    if why is not None:
                        result.rejected[why] += 1
                        continue
                    if len(result.accepted) < n:
                        appender.append(task)
                        result.accepted.append(task)
                        bar.advance()
                bar.note(f"{result.requests} requests, rejected {dict(result.rejected)}")
    finally:
        if own:
            sampler.close()  # type: ignore[attr-defined]
    return result
