"""`codekiln run`: round 0 evaluates the base model, then each round samples → verifies → curates → trains →
evaluates, and the stopping rule decides whether another round is worth it.

Three roles (codekiln.splits): train tasks are sampled and trained on; validation tasks (never trained on) make
every decision, the stopping rule and which round is `final` (on pass@1, or on the mean score for graded kinds:
`eval.select_on`); test tasks only report (base and final, and each
round for the curve), like the extra task sets the loop never saw, on which base and final are compared at the end.

The flow reads top to bottom. Every stage writes its files atomically (or streams them resumably) and then a
done-marker (`round-R/done/STAGE.json`); a rerun of the same command skips every marked stage, so a kill at any
moment loses at most the stage in flight, which itself resumes from what it streamed or checkpointed.
"""

from __future__ import annotations

import json
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
from codekiln.records import Sample, Task, Verdict, read_jsonl, write_jsonl
from codekiln.report.html import write_report
from codekiln.report.stats import RoundStats, round_stats, run_stats
from codekiln.rundir import RUN_FORMAT, RunDir, code_version, default_name, hash_path, hash_tasks, now
from codekiln.splits import ExtraSet, Splits, extra_sets, round_tasks, split_tasks
from codekiln.tracking import Tracker, check_trackers, round_scalars
from codekiln.train.online import ONLINE_METHODS

__all__ = ["RunResult", "best_round", "round_tasks", "run", "should_stop", "split_tasks", "trainable"]


@dataclass(frozen=True)
class RunResult:
    root: Path
    rounds: list[RoundStats]
    final_round: int | None
    stop_reason: str
    report: Path | None
    selection_metric: str = "pass@1"


def should_stop(pass1: Sequence[float], min_gain: float, patience: int) -> bool:
    """The stopping rule. `pass1[0]` is the base model's validation pass@1, `pass1[r]` round r's.

    A round's gain is its pass@1 minus the best pass@1 before it; the run stops once `patience` rounds in a row
    gained less than `min_gain`. (CodeLutra fixed the number of rounds; this decides it from the data.)
    """
    stale = 0
    for r in range(1, len(pass1)):
        gain = pass1[r] - max(pass1[:r])
        stale = stale + 1 if gain < min_gain else 0
    return stale >= patience


def best_round(pass1: Sequence[float]) -> int | None:
    """The trained round (1..) with the highest validation figure; the earliest wins a tie (less training)."""
    if len(pass1) < 2:
        return None
    return max(range(1, len(pass1)), key=lambda r: (pass1[r], -r))


GRADED_KINDS = ("html", "open")


def selection_metric(select_on: str, val_tasks: Sequence[Task]) -> str:
    """The validation figure that decides: `eval.select_on`, where auto means the mean score when every validation
    task is graded (html, open: a pass is only a score above a threshold) and pass@1 otherwise.

    auto never picks vs-base (answers judged beside the base's): the offline judges rank two answers shown together
    by their position alone (BENCHMARKS.md), which both orders turn into ties; choose it for a judge that can."""
    if select_on != "auto":
        return select_on
    graded = bool(val_tasks) and all(t.kind in GRADED_KINDS for t in val_tasks)
    return "score" if graded else "pass@1"


def trainable(cfg: RunConfig, sft_rows: int, pairs: int) -> bool:
    """Whether the curated data gives the training method something to learn from (see train_model's plan)."""
    if cfg.train.method == "sft":
        return bool(sft_rows or pairs)
    return bool(pairs or (sft_rows and cfg.train.sft_warmup))


def run(cfg: RunConfig, quiet: bool = False, argv: Sequence[str] = ()) -> RunResult:
    """Run (or resume) the rounds of `cfg` in `runs_dir/NAME`, then write the report."""
    from codekiln.executors import check_executor

    check_executor(cfg.executor)  # before any slow work (evaluation itself always runs locally)
    check_trackers(cfg.train.report_to)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    name = cfg.name or default_name(cfg)
    cfg = cfg.model_copy(update={"name": name})
    run_dir = RunDir((Path(cfg.runs_dir) / name).resolve())  # absolute: model specs recorded in it stay valid
    with run_dir.lock():
        run_dir.check_format()  # before anything is written to a folder an older codekiln made
        splits = split_tasks(cfg)
        splits = _ground_truth(run_dir, cfg, splits, quiet)
        extras = extra_sets(cfg, splits.train + splits.val)  # a missing set stops the run here, not at its end
        resumed = run_dir.check_or_save_config(cfg)
        _start_manifest(run_dir, cfg, splits, extras, list(argv))
        done = len(run_dir.stage_records())
        console.print(f"run [bold]{name}[/bold] in {run_dir.root}" + (f" (resuming: {done} stages done)"
                                                                        if resumed else ""))
        _say(quiet, f"{len(splits.train)} train tasks; {len(splits.val)} validation tasks ({splits.val_source}) decide "
                    f"stopping and final; {len(splits.test)} test tasks"
                    + (f" and {len(extras)} extra set(s)" if extras else "") + " only report")
        # Round 0: the baseline.
        metric = selection_metric(cfg.eval.select_on, splits.val)
        model = cfg.sample.model
        val = [_evaluate(run_dir, cfg, 0, model, "val", splits.val, splits.train, quiet)]
        decides = [_decider(run_dir, cfg, 0, val[0], metric, splits.val, quiet)]
        pass1: list[float | None] = [_evaluate(run_dir, cfg, 0, model, "eval", splits.test, splits.train,
                                               quiet)["pass@1"]]
        tracker = Tracker(cfg.train.report_to, run_dir.root, name, cfg.model_dump(mode="json"))
        _track(tracker, run_dir, cfg, 0)
        stop_reason = f"finished {cfg.rounds} round(s)"
        for r in range(1, cfg.rounds + 1):
            rdir = run_dir.round_dir(r)
            tasks = round_tasks(splits.train, cfg.train_limit, r)
            if cfg.train.method in ONLINE_METHODS:  # GRPO/RLOO sample, verify and learn inside training
                model = str(_train_online(run_dir, cfg, r, model, rdir, tasks, quiet))
            else:
                samples = _sample(run_dir, cfg, r, model, tasks, splits.train, quiet)
                verdicts = _verify(run_dir, cfg, r, tasks, samples, quiet)
                unseen = splits.test + [t for e in extras for t in e.tasks]  # decontaminated against
                funnel = _curate(run_dir, cfg, r, tasks, unseen, samples, verdicts, quiet)
                if not trainable(cfg, funnel["sft_rows"], funnel["pairs"]):
                    stop_reason = (f"round {r} curated nothing train.method={cfg.train.method} can train on "
                                   f"({funnel['sft_rows']} SFT rows, {funnel['pairs']} pairs)")
                    break
                model = str(_train(run_dir, cfg, r, model, rdir, quiet))  # the next round's start and DPO reference
            val.append(_evaluate(run_dir, cfg, r, model, "val", splits.val, splits.train, quiet))
            decides.append(_decider(run_dir, cfg, r, val[-1], metric, splits.val, quiet))
            pass1.append(_evaluate(run_dir, cfg, r, model, "eval", splits.test, splits.train, quiet)["pass@1"]
                         if cfg.eval.test_each_round else _pass1_done(run_dir, r, "eval"))
            _track(tracker, run_dir, cfg, r)
            if should_stop(decides, cfg.min_gain, cfg.patience):
                stop_reason = (f"validation {metric} gained less than {cfg.min_gain:g} for {cfg.patience} round(s) "
                               f"(stopped after round {r})")
                break
        final = best_round(decides)
        transfer: dict[str, Any] = {}
        if final is not None:
            run_dir.link_final(run_dir.round_dir(final) / "model")
            final_model = str(run_dir.round_dir(final) / "model")
            if pass1[final] is None:  # eval.test_each_round=false: the final model is evaluated on test now
                pass1[final] = _evaluate(run_dir, cfg, final, final_model, "eval", splits.test, splits.train,
                                         quiet)["pass@1"]
            if metric == "vs-base":  # the same side-by-side judging of final vs base on test (reported)
                _versus_base(run_dir, cfg, final, "eval", splits.test, quiet)
            for extra in extras:
                transfer[extra.name] = _transfer(run_dir, cfg, final, final_model, extra, splits.train, quiet)
        run_dir.update_manifest(
            selection_split="val", selection_metric=metric, val_selection=decides,
            val_pass1=[s["pass@1"] for s in val], pass1=pass1,
            final=f"round-{final}/model" if final is not None else None, transfer=transfer,
            stop_reason=stop_reason, finished=now())
        report = write_report(run_dir.root)
        tracker.close()
    rounds = run_stats(run_dir.root, cfg.eval.bootstrap)
    return RunResult(run_dir.root, rounds, final, stop_reason, report, metric)


def _track(tracker: Tracker, run_dir: RunDir, cfg: RunConfig, r: int) -> None:
    """Round r's figures to the run's trackers (train.report_to), once (see `tracking`)."""
    if cfg.train.report_to:
        stages = [s for s in run_dir.stage_records() if s.round == r]
        tracker.log_round(r, round_scalars(round_stats(run_dir.round_dir(r), cfg.eval.bootstrap), stages))


def _ground_truth(run_dir: RunDir, cfg: RunConfig, splits: Splits, quiet: bool) -> Splits:
    """The splits, refused when some task has no ground truth (before any slow work), unless `synthesize_tests`
    asks for it to be made first (see `tasks.ground_truth`)."""
    from codekiln.tasks.ground_truth import needs_ground_truth, no_ground_truth_message, run_ground_truth

    missing = [t for t in splits.train + splits.val + splits.test if needs_ground_truth(t)]
    if not missing:
        return splits
    if not cfg.synthesize_tests:
        raise UserError(no_ground_truth_message(missing))
    return run_ground_truth(splits, cfg.sample, max(1, cfg.verify.workers), run_dir.root / "ground_truth", quiet)


def _start_manifest(run_dir: RunDir, cfg: RunConfig, splits: Splits, extras: list[ExtraSet], argv: list[str]) -> None:
    manifest = run_dir.manifest()
    invocations = manifest.get("invocations", [])
    invocations.append({"started": now(), "argv": argv, "code": code_version()})
    fields: dict[str, Any] = {"invocations": invocations}
    data = manifest.get("data", {})
    hashes = {f"{role}_sha256": hash_tasks(getattr(splits, role)) for role in ("train", "val", "test")}
    if data and {key: data.get(key) for key in hashes} != hashes:
        raise UserError(f"the tasks of {cfg.tasks!r} changed since run {cfg.name!r} started (their hash differs); "
                        "a resumed run must see the same tasks: choose another --name")
    recorded = data.get("extra", {})
    for extra in extras:
        sha = hash_tasks(extra.tasks)
        if extra.name in recorded and recorded[extra.name]["sha256"] != sha:
            raise UserError(f"the tasks of eval.extra {extra.spec!r} changed since run {cfg.name!r} started (their "
                            "hash differs); a resumed run must see the same tasks: choose another --name")
        recorded[extra.name] = {"spec": extra.spec, "tasks": len(extra.tasks), "sha256": sha}
    if "created" not in manifest:
        fields.update(
            format=RUN_FORMAT,
            name=cfg.name,
            created=now(),
            code=invocations[0]["code"],
            model=_model_provenance(cfg.sample.model),
            seeds={"run": cfg.seed, "sample": cfg.sample.seed, "train": cfg.train.seed},
        )
        data = {"tasks": cfg.tasks, "train_tasks": len(splits.train), "val_tasks": len(splits.val),
                "test_tasks": len(splits.test), "val_source": splits.val_source, **hashes,
                "val_ids": [t.task_id for t in splits.val]}
    fields["data"] = {**data, "extra": recorded}
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
        result = curate_round(tasks, samples, verdicts, cfg.curate, out, eval_tasks=eval_tasks, previous=previous,
                              quiet=quiet)
        summary = {"sft_rows": result.sft_rows, "pairs": result.pairs, "funnel": result.funnel}
        record = run_dir.mark_done(r, "curate", started, summary)
        run_dir.update_manifest()
    return record.summary


def _train(run_dir: RunDir, cfg: RunConfig, r: int, model: str, rdir: Path, quiet: bool) -> Path:
    out = rdir / "model"
    if run_dir.done(r, "train") is None:
        from codekiln.train.launch import train

        _say(quiet, f"round {r} · train {cfg.train.method} from {model}")
        started = time.time()
        sft, pairs = rdir / "curated" / "sft.jsonl", rdir / "curated" / "pairs.jsonl"
        model_dir = train(model, out, cfg.train, sft=sft if _count(sft) else None,
                          pairs=pairs if _count(pairs) else None, quiet=quiet, fresh_process=True)
        run_dir.mark_done(r, "train", started, {"start": model, "model": str(model_dir),
                                                "adapter_sha256": hash_path(Path(model_dir) / "adapter")})
        run_dir.update_manifest()
        return Path(model_dir)
    return out


def _train_online(run_dir: RunDir, cfg: RunConfig, r: int, model: str, rdir: Path, tasks: list[Task],
                  quiet: bool) -> Path:
    """A GRPO/RLOO round: train online on the round's train tasks (kept in `train_tasks.jsonl`), rewarded by
    their verifier in the sandbox; no sample, verify or curate stage."""
    out = rdir / "model"
    if run_dir.done(r, "train") is None:
        from codekiln.train.launch import train

        _say(quiet, f"round {r} · train {cfg.train.method} online on {len(tasks)} train tasks from {model}")
        started = time.time()
        task_file = rdir / "train_tasks.jsonl"
        write_jsonl(task_file, tasks)
        model_dir = train(model, out, cfg.train, tasks=task_file, verify=cfg.verify, quiet=quiet, fresh_process=True)
        run_dir.mark_done(r, "train", started, {"start": model, "model": str(model_dir), "tasks": len(tasks),
                                                "adapter_sha256": hash_path(Path(model_dir) / "adapter")})
        run_dir.update_manifest()
        return Path(model_dir)
    return out


# Evaluation stages: `val` (round-R/val/, decides), `eval` (round-R/eval/, the test split: reports), and
# `extra-NAME` (round-R/extra/NAME/, a transfer set: reports; base and final only).
ROLES = {"val": "validation tasks (decides)", "eval": "test tasks (reported, never decides)"}


def eval_dir(run_dir: RunDir, r: int, stage: str) -> Path:
    if stage.startswith("extra-"):
        return run_dir.round_dir(r) / "extra" / stage.removeprefix("extra-")
    return run_dir.round_dir(r) / stage


def _evaluate(run_dir: RunDir, cfg: RunConfig, r: int, model: str, stage: str, tasks: list[Task],
              examples: list[Task], quiet: bool) -> dict[str, float]:
    """`model`'s pass@1 (and mean score) on `tasks` (round 0: the base model), as stage `stage`.

    `examples` feed `sample.shots`. The figures come from the stage's done-record, so a rerun does not evaluate again.
    """
    out = eval_dir(run_dir, r, stage)
    record = run_dir.done(r, stage)
    if record is None:
        from codekiln.evaluate.run import evaluate_model

        role = ROLES.get(stage) or f"tasks of extra set {stage.removeprefix('extra-')} (transfer, reported)"
        _say(quiet, f"round {r} · evaluate {model} on {len(tasks)} {role}")
        started = time.time()
        sample_cfg = cfg.sample.model_copy(update={"model": model})
        eval_cfg = cfg.eval.model_copy(update={"limit": None})  # the loop already cut the split to eval.limit
        result = evaluate_model(model, tasks, eval_cfg, sample_cfg, cfg.verify, out, quiet=quiet,
                                 examples=examples)
        summary = {"model": model, "tasks": len(tasks), **{f"pass@{k}": v for k, v in result.pass_at.items()},
                   "score": result.pass1 if result.score is None else float(result.score)}
        record = run_dir.mark_done(r, stage, started, summary)
        run_dir.update_manifest()
    summary = record.summary
    if "score" not in summary and (out / "metrics.json").exists():  # finished before scores were recorded
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        summary = {**summary, "score": metrics.get("score", summary["pass@1"])}
    return {"pass@1": float(summary["pass@1"]), "score": float(summary.get("score", summary["pass@1"]))}


def _decider(run_dir: RunDir, cfg: RunConfig, r: int, summary: dict[str, float], metric: str, tasks: list[Task],
             quiet: bool) -> float:
    """Round r's validation figure under the selection metric (vs-base: judged against the base's answers)."""
    if metric == "vs-base":
        return _versus_base(run_dir, cfg, r, "val", tasks, quiet)
    return summary[metric]


def _versus_base(run_dir: RunDir, cfg: RunConfig, r: int, stage: str, tasks: list[Task], quiet: bool) -> float:
    """Round r's answers on `stage` judged beside the base model's, both orders: the mean rating difference.

    The base model is 0 by definition. A resumable stage (`STAGE-vs-base`); every judge call is also cached.
    """
    if r == 0:
        return 0.0
    name = f"{stage}-vs-base"
    record = run_dir.done(r, name)
    if record is None:
        from codekiln.judge.compare import compare_folders

        _say(quiet, f"round {r} · judge its {ROLES[stage].split(' (')[0]} answers beside the base model's (both orders)")
        started = time.time()
        summary = compare_folders(tasks, eval_dir(run_dir, 0, stage), eval_dir(run_dir, r, stage), cfg.verify.judge,
                                  cfg.sample, quiet=quiet, bootstrap=cfg.eval.bootstrap, seed=cfg.seed)
        record = run_dir.mark_done(r, name, started, {"difference": summary["overall"]["difference"] or 0.0,
                                                      "ci95": summary["overall"]["ci95"],
                                                      "tasks": summary["overall"]["tasks"]})
        run_dir.update_manifest()
    return float(record.summary["difference"])


def _pass1_done(run_dir: RunDir, r: int, stage: str) -> float | None:
    record = run_dir.done(r, stage)
    return float(record.summary["pass@1"]) if record else None


def _transfer(run_dir: RunDir, cfg: RunConfig, final: int, final_model: str, extra: ExtraSet, examples: list[Task],
              quiet: bool) -> dict[str, Any]:
    """Base and final pass@1 on one extra set (each a resumable stage); the paired interval is in report.stats."""
    stage = f"extra-{extra.name}"
    base = _evaluate(run_dir, cfg, 0, cfg.sample.model, stage, extra.tasks, examples, quiet)["pass@1"]
    last = _evaluate(run_dir, cfg, final, final_model, stage, extra.tasks, examples, quiet)["pass@1"]
    return {"spec": extra.spec, "tasks": len(extra.tasks), "pass1": [base, last]}


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        console.print(f"[bold cyan]{text}[/bold cyan]")


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())
