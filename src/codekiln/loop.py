"""`codekiln run`: round 0 evaluates the base model, then each round samples → verifies → curates → trains →
evaluates, and the stopping rule decides whether another round is worth it.

The flow reads top to bottom. Every stage writes its files atomically (or streams them resumably) and then a
done-marker (`round-R/done/STAGE.json`); a rerun of the same command skips every marked stage, so a kill at any
moment loses at most the stage in flight, which itself resumes from what it streamed or checkpointed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codekiln.config import RunConfig
from codekiln.errors import UserError
from codekiln.progress import console
from codekiln.records import Sample, Task, Verdict, read_jsonl
from codekiln.report import write_report
from codekiln.rundir import RunDir, code_version, default_name, hash_path, hash_tasks, now
from codekiln.runstats import RoundStats, run_stats


@dataclass(frozen=True)
class RunResult:
    root: Path
    rounds: list[RoundStats]
    final_round: int | None
    stop_reason: str
    report: Path | None


def should_stop(pass1: Sequence[float], min_gain: float, patience: int) -> bool:
    """The stopping rule. `pass1[0]` is the base model's held-out pass@1, `pass1[r]` round r's.

    A round's gain is its pass@1 minus the best pass@1 before it; the run stops once `patience` rounds in a row
    gained less than `min_gain`. (CodeLutra fixed the number of rounds; this decides it from the data.)
    """
    stale = 0
    for r in range(1, len(pass1)):
        gain = pass1[r] - max(pass1[:r])
        stale = stale + 1 if gain < min_gain else 0
    return stale >= patience


def best_round(pass1: Sequence[float]) -> int | None:
    """The trained round (1..) with the highest held-out pass@1; the earliest wins a tie (less training)."""
    if len(pass1) < 2:
        return None
    return max(range(1, len(pass1)), key=lambda r: (pass1[r], -r))


def trainable(cfg: RunConfig, sft_rows: int, pairs: int) -> bool:
    """Whether the curated data gives the training method something to learn from (see train_model's plan)."""
    if cfg.train.method == "sft":
        return bool(sft_rows or pairs)
    return bool(pairs or (sft_rows and cfg.train.sft_warmup))


def split_tasks(cfg: RunConfig) -> tuple[list[Task], list[Task]]:
    from codekiln.tasks.load import load_tasks

    tasks = load_tasks(cfg.tasks)
    train = [t for t in tasks if t.split == "train"]
    test = [t for t in tasks if t.split == cfg.eval.split]
    if not train:
        raise UserError(f"tasks {cfg.tasks!r} have no 'train' split to learn from; give a suite or file with one")
    if not test:
        raise UserError(f"tasks {cfg.tasks!r} have no {cfg.eval.split!r} split to evaluate on (eval.split)")
    shared = {t.task_id for t in train} & {t.task_id for t in test}
    if shared:
        raise UserError(f"tasks {cfg.tasks!r}: {len(shared)} task id(s) are in both train and {cfg.eval.split} "
                        f"(e.g. {sorted(shared)[0]!r}); the held-out split must not be trained on")
    if cfg.eval.limit is not None:
        test = test[: cfg.eval.limit]
    return train, test


def round_tasks(train: Sequence[Task], limit: int | None, r: int) -> list[Task]:
    """Round r's train tasks: the r-th slice of `limit` tasks, wrapping around, so each round sees fresh tasks
    (resampling the same ones mostly yields programs cross-round dedup drops) and every task is used in turn."""
    if limit is None or limit >= len(train):
        return list(train)
    start = (r - 1) * limit % len(train)
    return [train[(start + i) % len(train)] for i in range(limit)]


def run(cfg: RunConfig, quiet: bool = False, argv: Sequence[str] = ()) -> RunResult:
    """Run (or resume) the rounds of `cfg` in `runs_dir/NAME`, then write the report."""
    from codekiln.executors import check_executor

    check_executor(cfg.executor)  # before any slow work (evaluation itself always runs locally)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    name = cfg.name or default_name(cfg)
    cfg = cfg.model_copy(update={"name": name})
    run_dir = RunDir((Path(cfg.runs_dir) / name).resolve())  # absolute: model specs recorded in it stay valid
    with run_dir.lock():
        resumed = run_dir.check_or_save_config(cfg)
        train_tasks, test_tasks = split_tasks(cfg)
        _start_manifest(run_dir, cfg, train_tasks, test_tasks, list(argv))
        done = len(run_dir.stage_records())
        console.print(f"run [bold]{name}[/bold] in {run_dir.root}" + (f" (resuming: {done} stages done)"
                                                                        if resumed else ""))
        # Round 0: the baseline.
        model = cfg.sample.model
        pass1 = [_evaluate(run_dir, cfg, 0, model, test_tasks, train_tasks, quiet)]
        stop_reason = f"finished {cfg.rounds} round(s)"
        for r in range(1, cfg.rounds + 1):
            rdir = run_dir.round_dir(r)
            tasks = round_tasks(train_tasks, cfg.train_limit, r)
            samples = _sample(run_dir, cfg, r, model, tasks, train_tasks, quiet)
            verdicts = _verify(run_dir, cfg, r, tasks, samples, quiet)
            funnel = _curate(run_dir, cfg, r, tasks, test_tasks, samples, verdicts, quiet)
            if not trainable(cfg, funnel["sft_rows"], funnel["pairs"]):
                stop_reason = (f"round {r} curated nothing train.method={cfg.train.method} can train on "
                               f"({funnel['sft_rows']} SFT rows, {funnel['pairs']} pairs)")
                break
            model_dir = _train(run_dir, cfg, r, model, rdir, quiet)
            pass1.append(_evaluate(run_dir, cfg, r, str(model_dir), test_tasks, train_tasks, quiet))
            model = str(model_dir)  # the next round starts here; it is also the next DPO reference
            if should_stop(pass1, cfg.min_gain, cfg.patience):
                stop_reason = (f"held-out pass@1 gained less than {cfg.min_gain:g} for {cfg.patience} round(s) "
                               f"(stopped after round {r})")
                break
        final = best_round(pass1)
        if final is not None:
            run_dir.link_final(run_dir.round_dir(final) / "model")
        run_dir.update_manifest(
            pass1=pass1, final=f"round-{final}/model" if final is not None else None,
            stop_reason=stop_reason, finished=now())
        report = write_report(run_dir.root)
    rounds = run_stats(run_dir.root, cfg.eval.bootstrap)
    return RunResult(run_dir.root, rounds, final, stop_reason, report)


def _start_manifest(run_dir: RunDir, cfg: RunConfig, train: list[Task], test: list[Task], argv: list[str]) -> None:
    manifest = run_dir.manifest()
    invocations = manifest.get("invocations", [])
    invocations.append({"started": now(), "argv": argv, "code": code_version()})
    fields: dict[str, Any] = {"invocations": invocations}
    data = manifest.get("data", {})
    if data and (data.get("train_sha256"), data.get("test_sha256")) != (hash_tasks(train), hash_tasks(test)):
        raise UserError(f"the tasks of {cfg.tasks!r} changed since run {cfg.name!r} started (their hash differs); "
                        "a resumed run must see the same tasks: choose another --name")
    if "created" not in manifest:
        fields.update(
            format="codekiln-run/1",
            name=cfg.name,
            created=now(),
            code=invocations[0]["code"],
            model=_model_provenance(cfg.sample.model),
            data={"tasks": cfg.tasks, "train_tasks": len(train), "test_tasks": len(test),
                  "train_sha256": hash_tasks(train), "test_sha256": hash_tasks(test)},
            seeds={"run": cfg.seed, "sample": cfg.sample.seed, "train": cfg.train.seed},
        )
    run_dir.update_manifest(**fields)


def _model_provenance(spec: str) -> dict[str, Any]:
    """The base model's spec, the file(s) it resolves to, and their sha256."""
    out: dict[str, Any] = {"spec": spec}
    try:
        from codekiln.sample.models import resolve_model

        ref = resolve_model(spec)
        path = getattr(ref, "path", None) or getattr(ref, "gguf", None) or getattr(ref, "hf", None)
    except (ImportError, UserError):
        path = spec if Path(spec).exists() else None
    if path and Path(str(path)).exists():
        out["path"] = str(Path(str(path)).resolve())
        out["sha256"] = hash_path(Path(str(path)))
    return out


# Each stage below: skip when its done-marker exists, else run the stage function, then write the marker.


def _sample(run_dir: RunDir, cfg: RunConfig, r: int, model: str, tasks: list[Task], examples: list[Task],
            quiet: bool) -> list[Sample]:
    out = run_dir.round_dir(r) / "samples.jsonl"
    if run_dir.done(r, "sample") is None:
        from codekiln.sample.run import sample_tasks

        _say(quiet, f"round {r} · sample {len(tasks)} train tasks × {cfg.sample.n} from {model}")
        started = time.time()
        sample_cfg = cfg.sample.model_copy(update={"model": model})
        samples = sample_tasks(tasks, sample_cfg, out, round=r, quiet=quiet, examples=examples,
                               executor=cfg.executor, ray_address=cfg.ray_address)
        run_dir.mark_done(r, "sample", started, {"model": model, "samples": len(samples), "tasks": len(tasks)})
        run_dir.update_manifest()
        return samples
    return read_jsonl(out, Sample)


def _verify(run_dir: RunDir, cfg: RunConfig, r: int, tasks: list[Task], samples: list[Sample],
            quiet: bool) -> list[Verdict]:
    out = run_dir.round_dir(r) / "verdicts.jsonl"
    if run_dir.done(r, "verify") is None:
        from codekiln.verify.run import verify_samples

        _say(quiet, f"round {r} · verify {len(samples)} samples")
        started = time.time()
        verdicts = verify_samples(tasks, samples, cfg.verify, out, quiet=quiet, executor=cfg.executor,
                                  ray_address=cfg.ray_address)
        passed = sum(v.passed for v in verdicts)
        run_dir.mark_done(r, "verify", started, {"verdicts": len(verdicts), "passed": passed})
        run_dir.update_manifest()
        return verdicts
    return read_jsonl(out, Verdict)


def _curate(run_dir: RunDir, cfg: RunConfig, r: int, tasks: list[Task], eval_tasks: list[Task],
            samples: list[Sample], verdicts: list[Verdict], quiet: bool) -> dict[str, Any]:
    out = run_dir.round_dir(r) / "curated"
    record = run_dir.done(r, "curate")
    if record is None:
        from codekiln.curate.run import curate_round

        _say(quiet, f"round {r} · curate")
        started = time.time()
        previous = [run_dir.round_dir(p) / "curated" for p in range(1, r)]
        funnel = curate_round(tasks, samples, verdicts, cfg.curate, out, eval_tasks=eval_tasks, previous=previous,
                              quiet=quiet)
        summary = {"sft_rows": _count(out / "sft.jsonl"), "pairs": _count(out / "pairs.jsonl"), "funnel": funnel}
        record = run_dir.mark_done(r, "curate", started, summary)
        run_dir.update_manifest()
    return record["summary"]


def _train(run_dir: RunDir, cfg: RunConfig, r: int, model: str, rdir: Path, quiet: bool) -> Path:
    out = rdir / "model"
    if run_dir.done(r, "train") is None:
        from codekiln.train.run import train_model

        _say(quiet, f"round {r} · train {cfg.train.method} from {model}")
        started = time.time()
        sft, pairs = rdir / "curated" / "sft.jsonl", rdir / "curated" / "pairs.jsonl"
        model_dir = train_model(model, out, cfg.train, sft=sft if _count(sft) else None,
                                pairs=pairs if _count(pairs) else None, quiet=quiet)
        run_dir.mark_done(r, "train", started, {"start": model, "model": str(model_dir),
                                                "adapter_sha256": hash_path(Path(model_dir) / "adapter")})
        run_dir.update_manifest()
        return Path(model_dir)
    return out


def _evaluate(run_dir: RunDir, cfg: RunConfig, r: int, model: str, tasks: list[Task], examples: list[Task],
              quiet: bool) -> float:
    """Held-out pass@1 of `model` (round 0: the base model); `examples` feed `sample.shots`."""
    out = run_dir.round_dir(r) / "eval"
    record = run_dir.done(r, "eval")
    if record is None:
        from codekiln.evaluate.run import evaluate_model

        _say(quiet, f"round {r} · evaluate {model} on {len(tasks)} held-out tasks")
        started = time.time()
        sample_cfg = cfg.sample.model_copy(update={"model": model})
        eval_cfg = cfg.eval.model_copy(update={"limit": None})  # the loop already cut the split to eval.limit
        metrics = evaluate_model(model, tasks, eval_cfg, sample_cfg, cfg.verify, out, quiet=quiet,
                                 examples=examples)
        summary = {"model": model, "pass@1": float(metrics["pass@1"]),
                   **{k: v for k, v in metrics.items() if k.startswith("pass@") and isinstance(v, int | float)}}
        record = run_dir.mark_done(r, "eval", started, summary)
        run_dir.update_manifest()
    return float(record["summary"]["pass@1"])


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        console.print(f"[bold cyan]{text}[/bold cyan]")


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())
