"""Generation, shared by every executor: the request for a (task, index) pair, and samples from a loaded backend.

A leaf module: `sample.run` (the stage) and `executors/*` (where it runs) both import it, and it imports neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from codekiln.config import SampleConfig
from codekiln.records import Sample, Task
from codekiln.sample.base import Generation, GenParams, Request, Sampler
from codekiln.sample.budget import with_budget
from codekiln.sample.extract import extract_code
from codekiln.sample.models import ModelRef
from codekiln.sample.prompts import FENCE, build_messages, reply_prefix
from codekiln.sample.seeds import sample_id


@dataclass(frozen=True)
class SampleJob:
    """A sample stage's work as every executor takes it: the model, the settings (budgets filled in), the round,
    the worked examples for few-shot prompts, the (task, index) pairs still to generate, and every wanted pair's
    seed. Executors yield the finished samples; the stage writes them."""

    ref: ModelRef
    cfg: SampleConfig
    round: int
    examples: tuple[Task, ...]
    todo: tuple[tuple[Task, int], ...]
    seeds: Mapping[tuple[str, int], int]


def pick_examples(task: Task, examples: Sequence[Task], shots: int) -> list[Task]:
    """The first `shots` worked examples of the task's kind that have a reference and are not the task itself."""
    if shots <= 0:
        return []
    fit = [e for e in examples if e.kind == task.kind and e.task_id != task.task_id and e.reference]
    return fit[:shots]


def prompt_order(pairs: Sequence[tuple[Task, int]], cfg: SampleConfig,
                 examples: Sequence[Task]) -> list[tuple[Task, int]]:
    """`pairs` with prompts that begin alike next to each other (sorted by prompt text, stably).

    llama.cpp evaluates a prompt once and keeps what the next prompt shares with it, so the order of the requests
    decides how much of each prompt is evaluated again. A suite's tasks share the system prompt and the worked
    example; tasks over the same tables share the schema too, but suites interleave them (sql-basic's test split
    alternates two schemas). Sorted, each prompt shares all but its question with the one before. The samples do
    not depend on the order (each has its own seed, and the file is rewritten in task order at the end)."""
    tasks = {t.task_id: t for t, _ in pairs}  # each task once, however many samples it wants
    text = {tid: repr(build_messages(t, pick_examples(t, examples, cfg.shots))) for tid, t in tasks.items()}
    return sorted(pairs, key=lambda pair: text[pair[0].task_id])


def build_request(task: Task, seed: int, cfg: SampleConfig, examples: Sequence[Task], prefill_ok: bool) -> Request:
    messages = build_messages(task, pick_examples(task, examples, cfg.shots))
    if cfg.stop_at_fence and prefill_ok and task.kind in FENCE:
        return Request(messages, seed, prefill=reply_prefix(task), stop=("\n```",))
    return Request(messages, seed)


def gen_params(cfg: SampleConfig) -> GenParams:
    """The decoding settings of `cfg` (one place, so every executor decodes alike)."""
    max_tokens = with_budget(cfg, ()).max_tokens  # cfg's own, or the default kind's when unset
    assert max_tokens is not None
    return GenParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=max_tokens, top_k=cfg.top_k)


def generate_pairs(sampler: Sampler, pairs: Sequence[tuple[Task, int]], cfg: SampleConfig, round: int,
                   examples: Sequence[Task], wanted: dict[tuple[str, int], int],
                   params: GenParams) -> Iterator[list[Sample]]:
    """The samples of (task, index) pairs, a few at a time as they finish (what every executor runs).

    A backend that streams (llama.cpp: `stream`) gets all the pairs at once and keeps `batch_size` sequences
    decoding, each sample handed back as it finishes, in any order; any other gets `batch_size` pairs per call."""
    requests = [build_request(t, wanted[(t.task_id, i)], cfg, examples, sampler.supports_prefill) for t, i in pairs]
    stream = getattr(sampler, "stream", None)
    if stream is not None:
        for k, gen in stream(requests, params):
            yield [_sample(sampler, pairs[k], requests[k], gen, round)]
        return
    step = max(1, cfg.batch_size)
    for start in range(0, len(pairs), step):
        gens = sampler.generate(requests[start:start + step], params)
        yield [_sample(sampler, pair, request, gen, round)
               for pair, request, gen in zip(pairs[start:start + step], requests[start:start + step], gens,
                                             strict=True)]


def _sample(sampler: Sampler, pair: tuple[Task, int], request: Request, gen: Generation, round: int) -> Sample:
    task, index = pair
    return Sample(task_id=task.task_id, completion=extract_code(task, gen.text),
                  sample_id=sample_id(task.task_id, round, index), model=sampler.name, round=round,
                  seed=request.seed, raw=gen.text, meta={"tokens": gen.n_tokens, "finish": gen.finish})
