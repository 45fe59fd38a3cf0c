"""The records that flow between stages, as frozen dataclasses, and their JSONL read/write.

Every stage boundary is a file of these records, one JSON object a line. Readers accept `.jsonl`
and `.jsonl.gz`, report a bad line as `FILE:LINE: what is wrong`, and writers are atomic
(temp file + rename) so a crash never leaves half a file behind.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from codekiln.errors import RecordError, UserError
from codekiln.verdict_details import JudgeDetails, PageDetails

TASK_KINDS = ("python", "sql", "pandas", "html", "open")
# `truncated`: the reply hit the token limit and did not pass (the cut, not the code, is what went wrong).
# `flaky`: two runs of the same program gave different verdicts (see verify.calibrate); never passed, never
# trained on (curation sets it aside), counted apart in the funnel.
STATUSES = ("passed", "failed", "syntax_error", "runtime_error", "timeout", "memory", "invalid", "truncated", "flaky")
SPLITS = ("train", "test", "val")


@dataclass(frozen=True)
class Task:
    """One coding task. Kind-specific fields are optional; unknown JSON keys are kept in `meta`."""

    task_id: str
    kind: str
    prompt: str
    split: str = "test"
    entry_point: str | None = None  # python: the function under test
    test: str | None = None  # python: code defining check(candidate) (`tasks synthesize-tests` makes it); pandas: optional unittest code
    reference: str | None = None  # gold solution (python code, SQL query, pandas code)
    database: str | None = None  # sql: path to a SQLite file
    schema: str | None = None  # sql: CREATE statements (shown to the model)
    rows: str | None = None  # sql: INSERT statements that fill the schema
    setup: str | None = None  # pandas: code that builds the inputs
    result_name: str | None = None  # pandas: the variable holding the result
    description: str | None = None  # html: the UI description
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.task_id:
            raise ValueError("task_id is empty")
        if self.kind not in TASK_KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {list(TASK_KINDS)}")
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r} is not one of {list(SPLITS)}")
        if self.kind == "python" and not self.entry_point:  # a missing test is named where tests are needed
            raise ValueError("a python task needs 'entry_point'")


@dataclass(frozen=True)
class Sample:
    """One program the model wrote for a task. `raw` keeps the model's whole reply."""

    task_id: str
    completion: str
    sample_id: str = ""
    model: str = ""
    round: int = 0
    seed: int = 0
    raw: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one sample. A verifier returns one for every sample and never raises.

    `details` holds how the verdict was reached, as plain data (left out of the JSON when empty): `limit_s`
    and `reference_s` when the program's limit was calibrated from its task's reference, `calibration`
    (tightened | extended) when that limit may have changed the verdict, `runs` (the statuses of both runs)
    and `rerun` (near_limit | recheck) when the program was run twice, see `verify.calibrate`; `cut_at_tokens` and
    `checked_status` (what the kind's checks said) on a `truncated` verdict, see `verify.run`; `page` (an html
    verdict's checks, read typed as `.page`) and `judge` (a judge's ratings, `.judgement`), see `verdict_details`.
    `feedback` is text for people and for the model."""

    task_id: str
    sample_id: str
    status: str
    passed: bool
    score: float = 0.0
    feedback: str = ""
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {list(STATUSES)}")
        if self.passed != (self.status == "passed"):
            raise ValueError(f"passed={self.passed} contradicts status {self.status!r}")

    @property
    def page(self) -> PageDetails | None:
        """The html verifier's checks of the rendered page, or None (another kind)."""
        return PageDetails.from_dict(self.details.get("page")) or PageDetails.from_feedback(self.feedback)

    @property
    def judgement(self) -> JudgeDetails | None:
        """The LLM judge's ratings of this answer, or None (not judged)."""
        return JudgeDetails.from_dict(self.details.get("judge")) or JudgeDetails.from_feedback(self.feedback)


# A prompt/completion is either plain text or a list of chat messages ({"role", "content"}), as TRL reads them.
Text = str | list[dict[str, str]]


@dataclass(frozen=True)
class SFTRow:
    """One supervised example in TRL's prompt-completion format."""

    prompt: Text
    completion: Text
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    """One preference pair in TRL's format; `margin` is the score gap, `source` the builder that made it."""

    prompt: Text
    chosen: Text
    rejected: Text
    margin: float = 0.0
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


R = TypeVar("R", Task, Sample, Verdict, SFTRow, Pair)


def from_dict(cls: type[R], data: dict[str, Any]) -> R:
    """Build a record from a JSON object. Unknown keys go to `meta` where the record has one."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    known = {k: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    if extra:
        if "meta" not in names:
            raise ValueError(f"unknown field(s) {sorted(extra)} for {cls.__name__}")
        known["meta"] = {**(known.get("meta") or {}), **extra}
    if cls is Sample:
        known.setdefault("sample_id", "")
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in known
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    if missing:
        raise ValueError(f"missing field(s) {missing} for {cls.__name__}")
    return cls(**known)


def to_dict(record: Any) -> dict[str, Any]:
    """The JSON object for a record: `meta` is flattened back, empty optional fields are left out."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.name == "meta":
            continue
        if value is None and f.default is None:
            continue
        if f.name == "details" and not value:
            continue
        out[f.name] = value
    meta = getattr(record, "meta", None)
    if meta:  # a field always wins: a meta key named like one (meta["reference"]) must not overwrite it
        names = {f.name for f in dataclasses.fields(record)}
        out.update({k: v for k, v in meta.items() if k not in names})
    return out


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")  # type: ignore[return-value]
    return open(path, encoding="utf-8")


def iter_json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line raises RecordError FILE:LINE."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file")
    if p.is_dir():
        raise UserError(f"{p}: is a folder, expected a .jsonl or .jsonl.gz file")
    try:
        with _open_text(p) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as err:
                    raise RecordError(f"{p}:{number}: not valid JSON ({err.msg} at column {err.colno})") from None
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise UserError(f"{p}: cannot be read ({err})") from None


def read_jsonl(path: str | os.PathLike[str], cls: type[R]) -> list[R]:
    """Read every record of a JSONL(.gz) file; a bad record raises RecordError `FILE:LINE: ...`."""
    records: list[R] = []
    for number, obj in iter_json_lines(path):
        try:
            records.append(from_dict(cls, obj))
        except (TypeError, ValueError) as err:
            raise RecordError(f"{path}:{number}: not a valid {cls.__name__}: {err}") from None
    return records


def dump_line(record: Any) -> str:
    """One JSONL line (with its newline) for a record or a plain dict."""
    obj = record if isinstance(record, dict) else to_dict(record)
    return json.dumps(obj, ensure_ascii=False) + "\n"


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> Path:
    """Write records atomically: a temp file in the same folder, then rename over the target."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        raw = os.fdopen(fd, "wb")
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if p.suffix == ".gz" else raw as out:
            for record in records:
                out.write(dump_line(record).encode("utf-8"))
        if p.suffix == ".gz":
            raw.close()
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write one JSON document atomically (pretty-printed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(obj, out, indent=2, ensure_ascii=False, default=str)
            out.write("\n")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


class JsonlAppender:
    """Append records to a JSONL file one line at a time, flushed and fsynced per line.

    Used by stages that stream results (sampling, verification) so that a kill loses at most the
    line being written; a torn last line is dropped on the next read by `read_jsonl_resumable`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, record: Any) -> None:
        self._fh.write(dump_line(record))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl_resumable(path: str | os.PathLike[str], cls: type[R]) -> list[R]:
    """Read a partial stream file written by JsonlAppender, dropping a torn last line (and truncating it away)."""
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with open(p, "r+b") as fh:
            fh.truncate(len(keep))
    records: list[R] = []
    for number, line in enumerate(keep.decode("utf-8").split("\n"), start=1):
        if line.strip():
            try:
                records.append(from_dict(cls, json.loads(line)))
            except (ValueError, TypeError) as err:
                raise RecordError(f"{p}:{number}: not a valid {cls.__name__}: {err}") from None
    return records
