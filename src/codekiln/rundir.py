"""The run folder: layout, per-stage done-markers, the manifest, and a lock against two runs in one folder.

```
runs/NAME/
  config.yaml        the resolved config (a rerun with a different config is refused)
  manifest.json      code version, model/data hashes, seeds, every finished stage with its timing, the
                     validation and test pass@1 of every round, the final round and the transfer results
  round-0/val/       the base model on the validation split (decides), round-0/eval/ on the test split (reports)
  round-R/samples.jsonl  verdicts.jsonl  curated/  model/  val/  eval/
  round-K/extra/NAME/       base (K = 0) and final model on an extra task set (transfer; reports)
  round-R/val/versus_base.json  with eval.select_on=vs-base: the round's answers judged beside the base's
  round-R/done/STAGE.json   written last, atomically: the stage is finished and is never repeated
  final -> round-K/model    the trained round with the best validation figure (usable as --model)
  report.html
```
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from codekiln import __version__
from codekiln.config import RunConfig, config_to_yaml
from codekiln.errors import UserError
from codekiln.records import Task, dump_line, write_json

# Keys a rerun may change without starting a new run: they only decide how far the run goes.
EXTENDABLE = ("name", "runs_dir", "rounds", "min_gain", "patience")
STAGES = ("sample", "verify", "curate", "train", "val", "eval")  # then extra-NAME stages
# The run folder's format. /1 (before validation splits) chose `final` and stopped on the test split, and its rounds
# sampled train tasks that are validation tasks now: such a folder is refused, never resumed.
RUN_FORMAT = "codekiln-run/2"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _identity(cfg: RunConfig) -> dict[str, Any]:
    data = cfg.model_dump(mode="json")
    for key in EXTENDABLE:
        data.pop(key, None)
    return data


def config_hash(cfg: RunConfig) -> str:
    """Hash of everything in the config that changes what a run computes (not how many rounds it goes)."""
    return hashlib.sha256(json.dumps(_identity(cfg), sort_keys=True).encode()).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", Path(text).stem if os.sep in text else text).strip("-")[:32] or "x"


def default_name(cfg: RunConfig) -> str:
    """Deterministic from the config, so re-running the same command finds (and resumes) the same folder."""
    return f"{_slug(cfg.tasks)}-{_slug(cfg.sample.model)}-{config_hash(cfg)[:8]}"


def code_version() -> dict[str, Any]:
    """The package version and, when it runs from a git checkout, the commit and whether tracked files differ."""
    here = Path(__file__).resolve().parent
    out: dict[str, Any] = {"version": __version__, "commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0:
            out["commit"] = commit.stdout.strip()
            status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10)
            out["dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def hash_path(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files (names and contents, sorted); None when it does not exist."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def hash_tasks(tasks: Sequence[Task]) -> str:
    digest = hashlib.sha256()
    for task in tasks:
        digest.update(dump_line(task).encode())
    return digest.hexdigest()


def find_run(run: str) -> Path:
    """A run folder given as a path or as a run name under runs/; a UserError when it is neither."""
    root = Path(run)
    if not (root / "manifest.json").exists() and (Path("runs") / run / "manifest.json").exists():
        root = Path("runs") / run
    if not (root / "manifest.json").exists():
        raise UserError(f"{run}: not a run folder (no manifest.json); give the folder 'codekiln run' printed")
    return root



@dataclass(frozen=True)
class StageRecord:
    """A finished stage's done-marker (`round-R/done/STAGE.json`): its round and name, how long it took, when it
    finished and in which invocation of the run, and the stage's own summary (its figures: samples, pass@1, ...)."""

    round: int
    stage: str
    seconds: float
    finished: str
    invocation: int
    summary: dict[str, Any]
    peak_gib: dict[str, float] = field(default_factory=dict)
    """Peak resident memory so far in this invocation, GiB: `loop` (this process) and `child` (the largest process
    it started and reaped: samplers, sandbox workers, the training process). Running maxima, so the first stage
    whose figure jumps is the one that set it."""

    @classmethod
    def read(cls, path: Path) -> StageRecord:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(round=int(data["round"]), stage=str(data["stage"]), seconds=float(data["seconds"]),
                   finished=str(data.get("finished", "")), invocation=int(data.get("invocation", 0)),
                   summary=dict(data.get("summary") or {}),
                   peak_gib={str(k): float(v) for k, v in (data.get("peak_gib") or {}).items()})


def peak_memory_gib() -> dict[str, float]:
    """This process's and its largest reaped child's peak resident memory in GiB (Linux reports KiB)."""
    import resource

    return {who: round(resource.getrusage(which).ru_maxrss / 1024**2, 3)
            for who, which in (("loop", resource.RUSAGE_SELF), ("child", resource.RUSAGE_CHILDREN))}

class RunDir:
    """One run folder. Stages record themselves finished with `mark_done`; `done` tells a rerun what to skip."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def round_dir(self, r: int) -> Path:
        return self.root / f"round-{r}"

    def marker(self, r: int, stage: str) -> Path:
        return self.round_dir(r) / "done" / f"{stage}.json"

    def done(self, r: int, stage: str) -> StageRecord | None:
        """The stage's record (timing, summary) when it finished in this or an earlier invocation."""
        path = self.marker(r, stage)
        if not path.exists():
            return None
        return StageRecord.read(path)

    def mark_done(self, r: int, stage: str, started: float, summary: dict[str, Any]) -> StageRecord:
        record = StageRecord(round=r, stage=stage, seconds=round(time.time() - started, 2), finished=now(),
                             invocation=len(self.manifest().get("invocations", [])) - 1, summary=summary,
                             peak_gib=peak_memory_gib())
        write_json(self.marker(r, stage), asdict(record))
        return record

    def stage_records(self) -> list[StageRecord]:
        rows = [StageRecord.read(p) for p in self.root.glob("round-*/done/*.json")]
        order = {s: i for i, s in enumerate(STAGES)}
        return sorted(rows, key=lambda row: (row.round, order.get(row.stage, 99)))

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Rewrite manifest.json (atomically) with `fields` changed and the stage list rebuilt from the markers."""
        data = self.manifest()
        data.update(fields)
        data["stages"] = [asdict(record) for record in self.stage_records()]
        data["updated"] = now()
        write_json(self.manifest_path, data)
        return data

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder; the kernel drops it when the process dies, even by SIGKILL."""
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(
                    f"{self.root} is in use by another 'codekiln run'; wait for it or use another --name") from None
            yield
        finally:
            fh.close()

    def check_format(self) -> None:
        """Refuse a folder whose run was made in another format (one line: what it is, what to do)."""
        found = self.manifest().get("format")
        if found is not None and found != RUN_FORMAT:
            raise UserError(
                f"{self.root} holds a {found} run, made before validation splits (its rounds were chosen on the test "
                f"split and trained on tasks that are validation tasks now); this codekiln resumes only {RUN_FORMAT} "
                "runs: choose another --name (the old folder can still be read with codekiln report)")

    def check_or_save_config(self, cfg: RunConfig) -> bool:
        """Save the resolved config on the first invocation; on a rerun refuse a config that computes something else.

        Returns True when the folder already held a run (this invocation resumes it).
        """
        if not self.config_path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            _write_text(self.config_path, config_to_yaml(cfg))
            return False
        try:
            saved = RunConfig.model_validate(yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {})
        except Exception as err:  # a hand-edited or older config file
            raise UserError(f"{self.config_path}: cannot be read as a run config ({err}); use another --name") from None
        old, new = _identity(saved), _identity(cfg)
        if old != new:
            key, was, now_ = _first_difference(old, new)
            raise UserError(
                f"{self.root} holds a run made with {key}={was!r}, not {now_!r}; rerun with the same config to "
                "resume it, or choose another --name"
            )
        _write_text(self.config_path, config_to_yaml(cfg))  # rounds/min_gain/patience may have changed
        return True

    def link_final(self, target: Path) -> Path:
        """Point `final` at a round's model folder (relative symlink, swapped atomically)."""
        link = self.root / "final"
        tmp = self.root / ".final.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(target, self.root), tmp)
        os.replace(tmp, link)
        return link


def _first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
    return prefix.rstrip("."), old, new


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
