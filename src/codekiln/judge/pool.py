"""A model pool: several models sample the same instructions (CodeUltraFeedback used 14).

Each model samples through the ordinary `sample_tasks` into its own resumable file; the pool's samples are
then merged with the model recorded in `Sample.model` and the sample id made unique across models
(`<id>@<model slug>`), so judged pairs can set one model's response against another's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, write_jsonl
from codekiln.sample.base import Sampler


def model_slug(spec: str) -> str:
    name = Path(spec.split("@")[0].removeprefix("openai:")).name.removesuffix(".gguf")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def sample_pool(tasks: Sequence[Task], cfg: SampleConfig, models: Sequence[str], out_dir: Path, round: int = 0,
                quiet: bool = False, samplers: Mapping[str, Sampler] | None = None) -> list[Sample]:
    """`cfg.n` samples per task from each model in `models`; writes out_dir/samples.jsonl (all models).

    `samplers` maps a model spec to an already loaded backend to reuse (others are loaded, then closed).
    """
    from codekiln.sample.run import sample_tasks

    if not models:
        raise UserError("a model pool needs at least one model")
    slugs = [model_slug(m) for m in models]
    if len(set(slugs)) != len(slugs):
        raise UserError(f"model pool {list(models)}: two models share the name {slugs}; give distinct files")
    out_dir = Path(out_dir)
    merged: list[Sample] = []
    for model, slug in zip(models, slugs, strict=True):
        own = sample_tasks(tasks, cfg.model_copy(update={"model": model}), out_dir / f"samples.{slug}.jsonl",
                           round=round, quiet=quiet, sampler=(samplers or {}).get(model))
        merged.extend(merge_sample(s, model, slug) for s in own)
    write_jsonl(out_dir / "samples.jsonl", merged)
    return merged


def merge_sample(sample: Sample, model: str, slug: str) -> Sample:
    return dataclasses.replace(sample, sample_id=f"{sample.sample_id}@{slug}", model=sample.model or model,
                               meta={**sample.meta, "pool_model": model})
