"""`curate_round`: verdicts in, training data out, with the funnel that shows what happened.

Top to bottom: join samples with tasks and verdicts → set aside `flaky` verdicts (two runs disagreed: neither a
good nor a bad answer, whatever the filters say) → filters (pool filters drop, quality filters decide
who may be a good answer) → de-duplicate (against earlier rounds, then within the round; good and bad
answers separately, best first) → decontaminate against the evaluation tasks → SFT rows (good answers,
capped per task) and preference pairs (by the configured builder, capped per task).

Every sample ends up in exactly one place: an SFT row, a pair, or `removed.jsonl` with the stage and reason
that set it aside. Outputs, in `out_dir`: `sft.jsonl`, `pairs.jsonl` (TRL conversational formats),
`removed.jsonl`, `programs.jsonl` (every program trained on, read by later rounds' cross-round dedup) and
`funnel.json` (written last: its presence marks a finished curation).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.config import CurateConfig
from codekiln.curate.decontam import EvalIndex
from codekiln.curate.dedup import Deduper, Program
from codekiln.curate.filters import apply_filters, get_filters
from codekiln.curate.items import Item, join
from codekiln.curate.normalize import normalize_text
from codekiln.curate.pairs import Candidate, get_builder, pair_margin, pair_stats
from codekiln.curate.phash import render_duplicates
from codekiln.curate.sft import cap_per_task, sft_row
from codekiln.errors import UserError
from codekiln.progress import progress_bar
from codekiln.records import Pair, Sample, Task, Verdict, iter_json_lines, write_json, write_jsonl
from codekiln.sample.prompts import build_messages, reference_program, render_reply, task_text
from codekiln.verify.calibrate import verdict_changes

FUNNEL_STEPS = ("generated", "extracted", "verified_passing", "unique", "decontaminated", "used")
# per kind and in total; `truncated`: replies cut by the token limit (a budget problem, not the model's code)
COUNTS = (*FUNNEL_STEPS, "pairs", "reference_rows", "flaky", "truncated")
SCOPES = ("task", "kind")


def _scope(cfg: CurateConfig, task_id: str, kind: str, good: bool) -> tuple[str, bool]:
    return (task_id if cfg.dedup_scope == "task" else kind, good)


def load_previous(folders: Sequence[str | os.PathLike[str]], cfg: CurateConfig) -> list[Program]:
    """Programs trained on in earlier rounds (their `programs.jsonl`), as known programs for dedup."""
    programs: list[Program] = []
    for folder in folders:
        path = Path(folder) / "programs.jsonl"
        if not path.exists():
            raise UserError(f"--previous {folder}: not a curated folder (no programs.jsonl); give earlier curate --out folders")
        for number, obj in iter_json_lines(path):
            try:
                roles = obj["roles"]
                sides = {role != "rejected" for role in roles}
                programs.extend(
                    Program(f"{Path(folder).name}/{_uid(obj['task_id'], obj['sample_id'])}", _scope(cfg, obj["task_id"], obj["kind"], good),
                            obj["kind"], obj["code"], obj.get("text"))
                    for good in sorted(sides)
                )
            except (KeyError, TypeError):
                raise UserError(f"{path}:{number}: not a programs.jsonl row (needs task_id, kind, sample_id, roles, code)") from None
    return programs


def _uid(task_id: str, sample_id: str) -> str:
    """A sample id that names its task (sampler ids already do: `TASK#r0s1`)."""
    return sample_id if sample_id.startswith(task_id) else f"{task_id}/{sample_id}"


def _program(used: dict[tuple[str, str], dict[str, Any]], task: Task, sample_id: str, role: str, code: str,
             text: str) -> None:
    """Record a program trained on (once per sample, with every role it played) for later rounds' dedup."""
    row = used.setdefault((task.task_id, sample_id), {"task_id": task.task_id, "kind": task.kind, "sample_id": sample_id,
                                      "roles": [], "code": code, "text": text})
    if role not in row["roles"]:
        row["roles"].append(role)


def _candidate(item: Item) -> Candidate:
    return Candidate(item.sample_id, item.code, item.verdict.status, item.score,
                     normalize_text(item.code, item.kind), item.index)


def _removal(item: Item, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"sample_id": item.sample_id, "task_id": item.task.task_id, "kind": item.kind,
            "status": item.verdict.status, "stage": stage, "reason": reason, **extra}


def _check_config(cfg: CurateConfig) -> None:
    if cfg.dedup_scope not in SCOPES:
        raise UserError(f"curate.dedup_scope {cfg.dedup_scope!r} is not one of {list(SCOPES)}")
    if not 0.0 < cfg.near_dup_threshold <= 1.0:
        raise UserError(f"curate.near_dup_threshold must be in (0, 1], got {cfg.near_dup_threshold}")
    if not 0.0 < cfg.decontam_threshold <= 1.0:
        raise UserError(f"curate.decontam_threshold must be in (0, 1], got {cfg.decontam_threshold}")
    if "flaky" in cfg.keep_statuses:
        raise UserError("curate.keep_statuses may not hold 'flaky': a flaky program's verdict differs between runs, "
                        "so it is never a good answer")
    if cfg.ngram < 1 or cfg.minhash_perm < 2 or cfg.shingle < 1:
        raise UserError("curate.ngram and curate.shingle must be at least 1, curate.minhash_perm at least 2")


@dataclass(frozen=True)
class CurateResult:
    """What `curate_round` wrote: the SFT rows and pairs in its folder, the samples it set aside (removed.jsonl), by
    stage, and `funnel`, funnel.json as written (counts per kind at each step, pair statistics, the config)."""

    sft_rows: int
    pairs: int
    removed: int
    removed_by_stage: dict[str, int]
    funnel: dict[str, Any]


def curate_round(
    tasks: Sequence[Task],
    samples: Sequence[Sample],
    verdicts: Sequence[Verdict],
    cfg: CurateConfig,
    out_dir: str | os.PathLike[str],
    eval_tasks: Sequence[Task] = (),
    previous: Sequence[str | os.PathLike[str]] = (),
    quiet: bool = False,
) -> CurateResult:
    """Curate one round's verified samples into SFT rows and preference pairs (files in `out_dir`)."""
    _check_config(cfg)
    filters = get_filters(cfg.filters)
    builder = get_builder(cfg.pair_builder)
    out = Path(out_dir)
    items = join(tasks, samples, verdicts)
    both = {it.task.task_id for it in items} & {t.task_id for t in eval_tasks}
    if both:
        raise UserError(f"{len(both)} task(s) being curated are also evaluation tasks (e.g. {sorted(both)[0]!r}); "
                        "every sample would be removed as contamination: keep evaluation tasks out of training")
    removed: dict[int, dict[str, Any]] = {}
    good: set[int] = set()
    quality_reason: dict[int, str] = {}

    # 1. Flaky verdicts, then the filters.
    for item in items:
        if item.verdict.status == "flaky":
            removed[item.index] = _removal(item, "flaky", f"flaky: {item.verdict.feedback}"[:300])
            continue
        pool_reason, q_reason = apply_filters(item, filters, cfg)
        if pool_reason:
            removed[item.index] = _removal(item, pool_reason.split(":", 1)[0], pool_reason)
        elif q_reason:
            quality_reason[item.index] = q_reason
        else:
            good.add(item.index)
    extracted = [it for it in items if it.index not in removed]

    # 2. De-duplication: earlier rounds first, then this round's programs best first.
    deduper = Deduper(cfg.near_dup_threshold, cfg.minhash_perm, cfg.shingle)
    known = load_previous(previous, cfg) if previous and cfg.dedup_across_rounds else []
    deduper.add_known(known)
    ordered = sorted(extracted, key=lambda it: (it.index not in good, -it.score, it.index))
    programs = [Program(_uid(it.task.task_id, it.sample_id), _scope(cfg, it.task.task_id, it.kind, it.index in good), it.kind, it.code,
                        it.own_text) for it in ordered]
    with progress_bar("curate: de-duplicate", len(programs), quiet) as bar:
        dups = deduper.run(programs, on_progress=bar.advance)
    for item, dup in zip(ordered, dups, strict=True):
        if dup is not None:
            stage = "seen-before" if dup.earlier else f"dedup-{dup.level}"
            removed[item.index] = _removal(item, stage, dup.reason(), duplicate_of=dup.of)
    scope_of = lambda it: _scope(cfg, it.task.task_id, it.kind, it.index in good)  # noqa: E731
    for item, of, bits in render_duplicates([it for it in ordered if it.index not in removed], scope_of):
        removed[item.index] = _removal(item, "dedup-render", f"renders within {bits} bits (screenshot pHash) of a "
                                       f"page kept in this round: {of}", duplicate_of=of)
    unique = [it for it in ordered if it.index not in removed]

    # 3. Decontamination against every evaluation task (prompts and references).
    index = EvalIndex(eval_tasks, cfg.ngram, cfg.decontam_threshold) if cfg.decontaminate and eval_tasks else None
    prompt_hits: dict[str, Any] = {}
    if index is not None:
        with progress_bar("curate: decontaminate", len(unique), quiet) as bar:
            for item in unique:
                tid = item.task.task_id
                if tid not in prompt_hits:
                    prompt_hits[tid] = index.check(task_text(item.task))
                hit = prompt_hits[tid] or index.check(item.code)
                if hit is not None:
                    where = "the task prompt" if prompt_hits[tid] else "the program"
                    removed[item.index] = _removal(item, "decontam", f"{where} {hit.reason()}",
                                                   eval_task=hit.eval_task)
                bar.advance()
    clean = [it for it in unique if it.index not in removed]

    # 4. SFT rows (good answers, best first, capped per task) and 5. pairs, task by task.
    by_task: dict[str, list[Item]] = defaultdict(list)
    for item in clean:
        by_task[item.task.task_id].append(item)
    task_of = {t.task_id: t for t in tasks}
    sft_rows, pair_rows = [], []
    programs_used: dict[tuple[str, str], dict[str, Any]] = {}
    pairs_for_stats: list[tuple[str, Candidate, Candidate, float]] = []
    used: set[int] = set()
    reference_rows: Counter[str] = Counter()
    tasks_no_good: Counter[str] = Counter()
    for task_id in sorted(by_task, key=lambda t: min(it.index for it in by_task[t])):
        task = task_of[task_id]
        task_items = by_task[task_id]
        ranked = sorted((it for it in task_items if it.index in good), key=lambda it: (-it.score, it.index))
        kept, _ = cap_per_task(ranked, cfg.sft_per_task)
        for item in kept:
            used.add(item.index)
            sft_rows.append(sft_row(task, item.code, {"task_id": task_id, "sample_id": item.sample_id,
                                                      "kind": task.kind, "score": item.score, "origin": "sample"}))
            _program(programs_used, task, item.sample_id, "sft", item.code, item.own_text)
        good_c = [_candidate(it) for it in ranked]
        if not ranked:
            tasks_no_good[task.kind] += 1
            ref = _reference_candidate(task, cfg, index)
            if ref is not None:
                good_c = [ref]
                reference_rows[task.kind] += 1
                sft_rows.append(sft_row(task, ref.code, {"task_id": task_id, "sample_id": ref.id,
                                                         "kind": task.kind, "score": ref.score, "origin": "reference"}))
        pool = sorted(good_c + [_candidate(it) for it in task_items if it.index not in good], key=lambda c: c.order)
        by_id = {it.sample_id: it for it in task_items}
        for chosen, rejected in builder(good_c, pool, cfg):
            m = pair_margin(chosen, rejected)
            pairs_for_stats.append((task_id, chosen, rejected, m))
            pair_rows.append(Pair(
                prompt=build_messages(task),
                chosen=[{"role": "assistant", "content": render_reply(task, chosen.code)}],
                rejected=[{"role": "assistant", "content": render_reply(task, rejected.code)}],
                margin=round(m, 6),
                source=cfg.pair_builder,
                meta={"task_id": task_id, "kind": task.kind, "chosen_id": chosen.id, "rejected_id": rejected.id,
                      "chosen_status": chosen.status, "rejected_status": rejected.status},
            ))
            for cand, role in ((chosen, "chosen"), (rejected, "rejected")):
                if cand.id in by_id:
                    used.add(by_id[cand.id].index)
                text = by_id[cand.id].own_text if cand.id in by_id else cand.code
                _program(programs_used, task, cand.id, role, cand.code, text)

    # 6. Anything left unused is listed with the reason it was not used.
    for item in clean:
        if item.index in used:
            continue
        if item.index in good:
            removed[item.index] = _removal(item, "cap", f"beyond sft_per_task={cfg.sft_per_task} and not in a pair")
        else:
            removed[item.index] = _removal(item, quality_reason[item.index].split(":", 1)[0],
                                           f"{quality_reason[item.index]}; not used as a rejected answer")

    funnel = _funnel(items, removed, good, extracted, unique, clean, sft_rows, pair_rows)
    funnel.update({
        "pairs": {"builder": cfg.pair_builder, **pair_stats(pairs_for_stats)},
        "removed_by_stage": dict(sorted(Counter(r["stage"] for r in removed.values()).items())),
        "reference_as_chosen": {"enabled": cfg.reference_as_chosen, "tasks_without_good_answer": dict(tasks_no_good),
                                "references_used": dict(reference_rows)},
        "verdicts": verdict_changes(verdicts),
        "previous_programs": len(known),
        "eval_texts_indexed": len(index) if index is not None else 0,
        "config": cfg.model_dump(mode="json"),
    })
    assert len(used) + len(removed) == len(items), "every sample is used or listed as removed"
    write_jsonl(out / "sft.jsonl", sft_rows)
    write_jsonl(out / "pairs.jsonl", pair_rows)
    write_jsonl(out / "removed.jsonl", [removed[i] for i in sorted(removed)])
    write_jsonl(out / "programs.jsonl", programs_used.values())
    write_json(out / "funnel.json", funnel)
    return CurateResult(sft_rows=len(sft_rows), pairs=len(pair_rows), removed=len(removed),
                        removed_by_stage=funnel["removed_by_stage"], funnel=funnel)


def _reference_candidate(task: Task, cfg: CurateConfig, index: EvalIndex | None) -> Candidate | None:
    """The task's reference as a chosen answer, when enabled, present and not itself contaminated."""
    if not cfg.reference_as_chosen or not task.reference:
        return None
    code = reference_program(task)
    if index is not None and (index.check(task_text(task)) or index.check(code)):
        return None
    return Candidate(f"{task.task_id}#reference", code, "passed", 1.0, normalize_text(code, task.kind), -1)


def _funnel(items, removed, good, extracted, unique, clean, sft_rows, pair_rows) -> dict[str, Any]:
    """Counts per task kind (and in total) at each funnel step, for the good answers' path, flaky verdicts
    (set aside before the first step) and truncated replies."""
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for it in items:
        kinds[it.kind]["generated"] += 1
        kinds[it.kind]["flaky"] += it.verdict.status == "flaky"
        kinds[it.kind]["truncated"] += it.verdict.status == "truncated"
    for it in extracted:
        kinds[it.kind]["extracted"] += 1
        kinds[it.kind]["verified_passing"] += it.index in good
    for it in unique:
        kinds[it.kind]["unique"] += it.index in good
    for it in clean:
        kinds[it.kind]["decontaminated"] += it.index in good
    for row in sft_rows:
        kinds[row.meta["kind"]]["used" if row.meta["origin"] == "sample" else "reference_rows"] += 1
    for pair in pair_rows:
        kinds[pair.meta["kind"]]["pairs"] += 1
    total = dict.fromkeys(COUNTS, 0)
    for counts in kinds.values():
        for key, value in counts.items():
            total[key] += value
    return {"steps": list(FUNNEL_STEPS), "total": total, "kinds": {k: kinds[k] for k in sorted(kinds)},
            "sft_rows": len(sft_rows), "pairs_written": len(pair_rows), "removed": len(removed)}
